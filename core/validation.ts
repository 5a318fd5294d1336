/**
 * Validation of one incoming review record (JSONL object, converted CSV row, API item) into a ReviewEvent.
 *
 * Pure and allocation-light: ingest, the scorer and the API call it per record. Bad data is returned as
 * `{ ok: false, error }` (a DriftlineError naming the field and why), never thrown, because in a stream a
 * bad record is counted and dead-lettered, not fatal. The first failing rule wins; rules run in the order
 * of VALIDATION_RULES so a record always gets the same code.
 */
import { coreSettings } from './config.js';
import { DriftlineError, type ErrorCode } from './errors.js';
import { escapedByte } from './utf8.js';
import type { ReviewEvent, ScoredReview } from '../schemas/types.js';

export type ValidationResult = { ok: true; review: ReviewEvent } | { ok: false; error: DriftlineError };

export interface ValidationOptions {
  /** Largest text/title in UTF-8 bytes (default: DRIFTLINE_MAX_TEXT_BYTES). */
  maxTextBytes?: number;
  /** How far ahead of `nowMs` any time field may lie, in ms (default: DRIFTLINE_FUTURE_TOLERANCE_MS, 1 day: clocks and time zones differ). */
  futureToleranceMs?: number;
  /** "Now" for the future check and the default ingest time (default Date.now()). */
  nowMs?: number;
  /** Value for ingest_time_ms (default nowMs). Checked like every time field: the scorer passes the producer's. */
  ingestTimeMs?: number;
}

/**
 * Longest value, in characters (UTF-16 code units), of each free-text field other than the review text
 * (that one has DRIFTLINE_MAX_TEXT_BYTES). About ten times the longest value in 35,436 real reviews
 * (ids 23, product ids 10, categories 22, titles 128, sources 47 characters), so no real record is refused,
 * while a runaway value (a 20 KB category) can never become a Redis key, a ClickHouse segment or a label.
 */
export const FIELD_MAX_CHARS = { review_id: 200, product_id: 200, category: 200, title: 1_000, source: 200 } as const;
export const MAX_ID_CHARS = FIELD_MAX_CHARS.review_id;
export const DEFAULT_FUTURE_TOLERANCE_MS = 86_400_000;
/** Reviews older than the web shop era are clock errors (epoch 0, 1970 defaults), not history. */
export const EARLIEST_EVENT_TIME_MS = Date.UTC(1995, 0, 1);
const MAX_AVRO_INT = 2_147_483_647;

export interface ValidationRule {
  code: ErrorCode;
  field: string;
  condition: string;
}

/** Which code fires for which condition, in evaluation order (tests and docs/errors.md are driven by this list). */
export const VALIDATION_RULES: readonly ValidationRule[] = [
  { code: 'RECORD_UNPARSEABLE', field: '(record)', condition: 'the record is not a JSON object (array, string, number, null)' },
  { code: 'FIELD_MISSING', field: 'review_id', condition: 'review_id is absent, null or empty' },
  { code: 'FIELD_TYPE', field: 'review_id', condition: 'review_id is not a string' },
  { code: 'FIELD_RANGE', field: 'review_id', condition: `review_id is longer than ${MAX_ID_CHARS} characters` },
  { code: 'FIELD_TYPE', field: 'product_id', condition: 'product_id is neither a string nor null' },
  { code: 'FIELD_RANGE', field: 'product_id', condition: `product_id is longer than ${FIELD_MAX_CHARS.product_id} characters` },
  { code: 'FIELD_TYPE', field: 'category', condition: 'category is neither a string nor null' },
  { code: 'FIELD_RANGE', field: 'category', condition: `category is longer than ${FIELD_MAX_CHARS.category} characters` },
  { code: 'FIELD_MISSING', field: 'rating', condition: 'rating is absent or null' },
  { code: 'FIELD_TYPE', field: 'rating', condition: 'rating is not a number (a JSON string "5" included)' },
  { code: 'FIELD_RANGE', field: 'rating', condition: 'rating is not an integer from 1 to 5' },
  { code: 'FIELD_TYPE', field: 'title', condition: 'title is neither a string nor null' },
  { code: 'FIELD_RANGE', field: 'title', condition: `title is longer than ${FIELD_MAX_CHARS.title} characters` },
  { code: 'TEXT_ENCODING', field: 'title', condition: 'title held bytes that are not UTF-8, or contains a lone surrogate (U+FFFD is valid)' },
  { code: 'FIELD_MISSING', field: 'text', condition: 'text is absent or null' },
  { code: 'FIELD_TYPE', field: 'text', condition: 'text is not a string' },
  { code: 'TEXT_EMPTY', field: 'text', condition: 'text is empty or only white space' },
  { code: 'TEXT_TOO_LONG', field: 'text', condition: 'text is over maxTextBytes UTF-8 bytes' },
  { code: 'TEXT_ENCODING', field: 'text', condition: 'text held bytes that are not UTF-8, or contains a lone surrogate (U+FFFD is valid: counted, not refused)' },
  { code: 'FIELD_TYPE', field: 'event_time_ms', condition: 'event_time_ms is not a finite number' },
  { code: 'FIELD_TYPE', field: 'ts', condition: 'ts is not a string' },
  { code: 'TIMESTAMP_INVALID', field: 'ts', condition: 'ts is not an ISO-8601 date/time or does not parse' },
  { code: 'TIMESTAMP_INVALID', field: 'ts', condition: 'ts is before 1995-01-01 or after now + futureToleranceMs' },
  { code: 'TIMESTAMP_INVALID', field: 'event_time_ms', condition: 'event_time_ms is before 1995-01-01 or after now + futureToleranceMs' },
  { code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', condition: 'ingest_time_ms (the producer\'s, in the scorer) is not finite, before 1995-01-01 or after now + futureToleranceMs' },
  { code: 'FIELD_TYPE', field: 'helpful_votes', condition: 'helpful_votes is neither a number nor null' },
  { code: 'FIELD_RANGE', field: 'helpful_votes', condition: 'helpful_votes is not an integer from 0 to 2^31-1' },
  { code: 'FIELD_TYPE', field: 'verified', condition: 'verified is neither a boolean nor null' },
  { code: 'FIELD_TYPE', field: 'source', condition: 'source is neither a string nor null' },
  { code: 'FIELD_RANGE', field: 'source', condition: `source is longer than ${FIELD_MAX_CHARS.source} characters` },
];

/** Signals a failed rule inside the validator; converted to a returned result at the boundary. */
class RuleFailure {
  constructor(readonly code: ErrorCode, readonly field: string, readonly why: string) {}
}

function fail(code: ErrorCode, field: string, why: string): never {
  throw new RuleFailure(code, field, why);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)})`;
  return `${typeof value === 'object' ? 'an' : 'a'} ${typeof value}${typeof value === 'number' || typeof value === 'boolean' ? ` (${String(value)})` : ''}`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * U+FFFD is valid text and is accepted (the scorer flags and counts it). Bytes that were not UTF-8 arrive
 * as lone surrogates (core/utf8.ts decodeUtf8Escaping), as do lone surrogates a JSON escape or a UTF-16
 * producer wrote: neither is text, so both are refused.
 */
function checkEncoding(value: string, field: string): void {
  const found = LONE_SURROGATE.exec(value);
  if (!found) return;
  const byte = escapedByte(found[0].charCodeAt(0));
  const what = byte === null ? `a lone surrogate U+${found[0].charCodeAt(0).toString(16).toUpperCase()}` : `the byte 0x${byte.toString(16).toUpperCase()}, which is not UTF-8`;
  fail('TEXT_ENCODING', field, `${field} contains ${what} at character ${found.index}: the source was not valid UTF-8 text`);
}

function checkText(value: string, maxBytes: number): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: skip the exact byte count for short strings.
  if (value.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > maxBytes) fail('TEXT_TOO_LONG', 'text', `text is ${bytes} UTF-8 bytes, the limit is ${maxBytes}`);
  }
  checkEncoding(value, 'text');
}

function requiredId(record: Record<string, unknown>): string {
  const value = record.review_id;
  if (value === undefined || value === null || value === '') fail('FIELD_MISSING', 'review_id', 'review_id is required');
  if (typeof value !== 'string') fail('FIELD_TYPE', 'review_id', `review_id must be a string, got ${describe(value)}`);
  if (value.trim() === '') fail('FIELD_MISSING', 'review_id', 'review_id is only white space');
  if (value.length > MAX_ID_CHARS) fail('FIELD_RANGE', 'review_id', `review_id is ${value.length} characters, the limit is ${MAX_ID_CHARS}`);
  return value;
}

type BoundedField = Exclude<keyof typeof FIELD_MAX_CHARS, 'review_id'>;

/** A nullable, bounded string: absent, null and "" (an empty CSV cell) all mean null. */
function optionalString(record: Record<string, unknown>, field: BoundedField): string | null {
  const value = record[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') fail('FIELD_TYPE', field, `${field} must be a string or null, got ${describe(value)}`);
  const maxChars = FIELD_MAX_CHARS[field];
  if (value.length > maxChars) fail('FIELD_RANGE', field, `${field} is ${value.length} characters, the limit is ${maxChars}`);
  return value;
}

function requiredRating(record: Record<string, unknown>): number {
  const value = record.rating;
  if (value === undefined || value === null) fail('FIELD_MISSING', 'rating', 'rating is required');
  if (typeof value !== 'number') fail('FIELD_TYPE', 'rating', `rating must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > 5) fail('FIELD_RANGE', 'rating', `rating must be an integer from 1 to 5, got ${value}`);
  return value;
}

function requiredText(record: Record<string, unknown>, maxBytes: number): string {
  const value = record.text;
  if (value === undefined || value === null) fail('FIELD_MISSING', 'text', 'text is required');
  if (typeof value !== 'string') fail('FIELD_TYPE', 'text', `text must be a string, got ${describe(value)}`);
  if (value.trim() === '') fail('TEXT_EMPTY', 'text', value === '' ? 'text is empty' : 'text is only white space');
  checkText(value, maxBytes);
  return value;
}

// ISO-8601 calendar date, optionally with time and zone; Date.parse alone accepts far too much ("5", "May 3").
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function eventTime(record: Record<string, unknown>, nowMs: number, futureToleranceMs: number): number | null {
  let ms: number;
  let field: string;
  const millis = record.event_time_ms;
  if (millis !== undefined && millis !== null) {
    if (typeof millis !== 'number' || !Number.isFinite(millis)) fail('FIELD_TYPE', 'event_time_ms', `event_time_ms must be a finite number, got ${describe(millis)}`);
    ms = Math.trunc(millis);
    field = 'event_time_ms';
  } else {
    const ts = record.ts;
    if (ts === undefined || ts === null || ts === '') return null;
    if (typeof ts !== 'string') fail('FIELD_TYPE', 'ts', `ts must be an ISO-8601 string, got ${describe(ts)}`);
    ms = ISO_8601.test(ts) ? Date.parse(ts) : Number.NaN;
    if (Number.isNaN(ms)) fail('TIMESTAMP_INVALID', 'ts', `ts ${JSON.stringify(ts.slice(0, 40))} is not an ISO-8601 date/time`);
    field = 'ts';
  }
  const problem = timeProblem(ms, { nowMs, futureToleranceMs });
  if (problem !== null) fail('TIMESTAMP_INVALID', field, `event time ${problem}`);
  return ms;
}

export interface TimeBounds {
  /** The processing clock. */
  nowMs: number;
  futureToleranceMs: number;
}

/**
 * The one plausibility rule of every time field (event, ingest and scored times; ingest, the scorer, the
 * aggregator and the API): a finite epoch-ms number from 1995-01-01 to `futureToleranceMs` ahead of the
 * processing clock. Null when plausible, else why not. Absurd values (9e15, negative, NaN) would otherwise
 * open windows in the year 287,000, move the watermark past every real event and break date formatting.
 */
export function timeProblem(ms: unknown, bounds: TimeBounds): string | null {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return `${describe(ms)} is not a finite number of milliseconds`;
  if (ms < EARLIEST_EVENT_TIME_MS) return `${isoOrNumber(ms)} is before 1995-01-01`;
  if (ms > bounds.nowMs + bounds.futureToleranceMs) return `${isoOrNumber(ms)} is more than ${bounds.futureToleranceMs} ms ahead of the processing clock`;
  return null;
}

function ingestTime(value: number, bounds: TimeBounds): number {
  const problem = timeProblem(value, bounds);
  if (problem !== null) fail('TIMESTAMP_INVALID', 'ingest_time_ms', `ingest_time_ms ${problem}`);
  return value;
}

function isoOrNumber(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function optionalCount(record: Record<string, unknown>, field: string): number | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') fail('FIELD_TYPE', field, `${field} must be a number or null, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > MAX_AVRO_INT) fail('FIELD_RANGE', field, `${field} must be an integer from 0 to ${MAX_AVRO_INT}, got ${value}`);
  return value;
}

function optionalBoolean(record: Record<string, unknown>, field: string): boolean | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'boolean') fail('FIELD_TYPE', field, `${field} must be true, false or null, got ${describe(value)}`);
  return value;
}

let defaults: { maxTextBytes: number; futureToleranceMs: number } | undefined;

/** DRIFTLINE_MAX_TEXT_BYTES and DRIFTLINE_FUTURE_TOLERANCE_MS, read once per process, not per record. */
function validationDefaults(): { maxTextBytes: number; futureToleranceMs: number } {
  if (defaults === undefined) {
    const core = coreSettings.load();
    defaults = { maxTextBytes: core.maxTextBytes, futureToleranceMs: core.futureToleranceMs };
  }
  return defaults;
}

/** The future tolerance validation applies when the caller gives none (DRIFTLINE_FUTURE_TOLERANCE_MS). */
export function defaultFutureToleranceMs(): number {
  return validationDefaults().futureToleranceMs;
}

function buildReview(raw: unknown, options: ValidationOptions): ReviewEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('RECORD_UNPARSEABLE', '(record)', `a review must be a JSON object, got ${describe(raw)}`);
  const record = raw as Record<string, unknown>;
  const maxTextBytes = options.maxTextBytes ?? validationDefaults().maxTextBytes;
  const nowMs = options.nowMs ?? Date.now();
  const bounds: TimeBounds = { nowMs, futureToleranceMs: options.futureToleranceMs ?? validationDefaults().futureToleranceMs };
  const review_id = requiredId(record);
  const product_id = optionalString(record, 'product_id');
  const category = optionalString(record, 'category');
  const rating = requiredRating(record);
  const title = optionalString(record, 'title');
  if (title !== null) checkEncoding(title, 'title');
  const text = requiredText(record, maxTextBytes);
  const event_time_ms = eventTime(record, nowMs, bounds.futureToleranceMs);
  const ingest_time_ms = options.ingestTimeMs === undefined ? nowMs : ingestTime(options.ingestTimeMs, bounds);
  const helpful_votes = optionalCount(record, 'helpful_votes');
  const verified = optionalBoolean(record, 'verified');
  const source = optionalString(record, 'source');
  return { review_id, product_id, category, rating, title, text, event_time_ms, helpful_votes, verified, source, ingest_time_ms };
}

/** Validates one raw record; unknown extra fields are ignored. Never throws for bad data. */
export function validateReview(raw: unknown, options: ValidationOptions = {}): ValidationResult {
  try {
    return { ok: true, review: buildReview(raw, options) };
  } catch (err) {
    if (!(err instanceof RuleFailure)) throw err;
    const reviewId = reviewIdOf(raw);
    return {
      ok: false,
      error: new DriftlineError(err.code, `${err.field}: ${err.why}`, { field: err.field, ...(reviewId === null ? {} : { details: { review_id: reviewId } }) }),
    };
  }
}

/** The fields of a ScoredReview the aggregator windows and segments on. */
export type ScoredFields = Pick<ScoredReview, 'review_id' | 'product_id' | 'category' | 'event_time_ms' | 'ingest_time_ms' | 'scored_time_ms'>;

/**
 * The checks a consumer of ScoredReview events applies to events it did not validate itself (another
 * producer may write the topic): every time field by the one time rule, and the bounded strings it keys
 * on. Null when the event is fine, else the error to dead-letter it with (field and review id named).
 */
export function scoredReviewProblem(event: ScoredFields, bounds: TimeBounds): DriftlineError | null {
  const invalid = (code: ErrorCode, field: string, why: string): DriftlineError => new DriftlineError(code, `${field}: ${why}`, { field, details: { review_id: event.review_id } });
  const times: Array<[string, number | null]> = [['event_time_ms', event.event_time_ms], ['ingest_time_ms', event.ingest_time_ms], ['scored_time_ms', event.scored_time_ms]];
  for (const [field, ms] of times) {
    if (ms === null && field === 'event_time_ms') continue;
    const problem = timeProblem(ms, bounds);
    if (problem !== null) return invalid('TIMESTAMP_INVALID', field, `${field} ${problem}`);
  }
  for (const field of ['product_id', 'category'] as const) {
    const value = event[field];
    if (value !== null && value.length > FIELD_MAX_CHARS[field]) return invalid('FIELD_RANGE', field, `${field} is ${value.length} characters, the limit is ${FIELD_MAX_CHARS[field]}`);
  }
  return null;
}

/** The review id of a raw record when it has a usable one (for dead-letter records of invalid input). */
export function reviewIdOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as Record<string, unknown>).review_id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_CHARS ? id : null;
}
