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
import type { ReviewEvent } from '../schemas/types.js';

export type ValidationResult = { ok: true; review: ReviewEvent } | { ok: false; error: DriftlineError };

export interface ValidationOptions {
  /** Largest text/title in UTF-8 bytes (default: DRIFTLINE_MAX_TEXT_BYTES). */
  maxTextBytes?: number;
  /** How far in the future an event time may lie, in ms (default 1 day: clocks and time zones differ). */
  futureToleranceMs?: number;
  /** "Now" for the future check and the default ingest time (default Date.now()). */
  nowMs?: number;
  /** Value for ingest_time_ms (default nowMs). */
  ingestTimeMs?: number;
}

export const MAX_ID_CHARS = 200;
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
  { code: 'FIELD_RANGE', field: 'product_id', condition: `product_id is longer than ${MAX_ID_CHARS} characters` },
  { code: 'FIELD_TYPE', field: 'category', condition: 'category is neither a string nor null' },
  { code: 'FIELD_MISSING', field: 'rating', condition: 'rating is absent or null' },
  { code: 'FIELD_TYPE', field: 'rating', condition: 'rating is not a number (a JSON string "5" included)' },
  { code: 'FIELD_RANGE', field: 'rating', condition: 'rating is not an integer from 1 to 5' },
  { code: 'FIELD_TYPE', field: 'title', condition: 'title is neither a string nor null' },
  { code: 'TEXT_TOO_LONG', field: 'title', condition: 'title is over maxTextBytes UTF-8 bytes' },
  { code: 'TEXT_ENCODING', field: 'title', condition: 'title contains U+FFFD or a lone surrogate' },
  { code: 'FIELD_MISSING', field: 'text', condition: 'text is absent or null' },
  { code: 'FIELD_TYPE', field: 'text', condition: 'text is not a string' },
  { code: 'TEXT_EMPTY', field: 'text', condition: 'text is empty or only white space' },
  { code: 'TEXT_TOO_LONG', field: 'text', condition: 'text is over maxTextBytes UTF-8 bytes' },
  { code: 'TEXT_ENCODING', field: 'text', condition: 'text contains U+FFFD (invalid UTF-8 upstream) or a lone surrogate' },
  { code: 'FIELD_TYPE', field: 'event_time_ms', condition: 'event_time_ms is not a finite number' },
  { code: 'FIELD_TYPE', field: 'ts', condition: 'ts is not a string' },
  { code: 'TIMESTAMP_INVALID', field: 'ts', condition: 'ts is not an ISO-8601 date/time or does not parse' },
  { code: 'TIMESTAMP_INVALID', field: 'ts', condition: 'ts is before 1995-01-01 or after now + futureToleranceMs' },
  { code: 'TIMESTAMP_INVALID', field: 'event_time_ms', condition: 'event_time_ms is before 1995-01-01 or after now + futureToleranceMs' },
  { code: 'FIELD_TYPE', field: 'helpful_votes', condition: 'helpful_votes is neither a number nor null' },
  { code: 'FIELD_RANGE', field: 'helpful_votes', condition: 'helpful_votes is not an integer from 0 to 2^31-1' },
  { code: 'FIELD_TYPE', field: 'verified', condition: 'verified is neither a boolean nor null' },
  { code: 'FIELD_TYPE', field: 'source', condition: 'source is neither a string nor null' },
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
// Thrown-away strings are common in streams; test the cheap conditions first.
function hasBadEncoding(text: string): boolean {
  return text.includes('\uFFFD') || LONE_SURROGATE.test(text);
}

function checkText(value: string, field: 'text' | 'title', maxBytes: number): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: skip the exact byte count for short strings.
  if (value.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > maxBytes) fail('TEXT_TOO_LONG', field, `${field} is ${bytes} UTF-8 bytes, the limit is ${maxBytes}`);
  }
  if (hasBadEncoding(value)) fail('TEXT_ENCODING', field, `${field} contains a replacement character (U+FFFD) or a lone surrogate: the source was not valid UTF-8`);
}

function requiredId(record: Record<string, unknown>): string {
  const value = record.review_id;
  if (value === undefined || value === null || value === '') fail('FIELD_MISSING', 'review_id', 'review_id is required');
  if (typeof value !== 'string') fail('FIELD_TYPE', 'review_id', `review_id must be a string, got ${describe(value)}`);
  if (value.trim() === '') fail('FIELD_MISSING', 'review_id', 'review_id is only white space');
  if (value.length > MAX_ID_CHARS) fail('FIELD_RANGE', 'review_id', `review_id is ${value.length} characters, the limit is ${MAX_ID_CHARS}`);
  return value;
}

/** A nullable string: absent, null and "" (an empty CSV cell) all mean null. */
function optionalString(record: Record<string, unknown>, field: string, maxChars?: number): string | null {
  const value = record[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') fail('FIELD_TYPE', field, `${field} must be a string or null, got ${describe(value)}`);
  if (maxChars !== undefined && value.length > maxChars) fail('FIELD_RANGE', field, `${field} is ${value.length} characters, the limit is ${maxChars}`);
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
  checkText(value, 'text', maxBytes);
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
  if (ms < EARLIEST_EVENT_TIME_MS) fail('TIMESTAMP_INVALID', field, `event time ${isoOrNumber(ms)} is before 1995-01-01`);
  if (ms > nowMs + futureToleranceMs) fail('TIMESTAMP_INVALID', field, `event time ${isoOrNumber(ms)} is more than ${futureToleranceMs} ms in the future`);
  return ms;
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

let defaultMaxTextBytes: number | undefined;

function resolveMaxTextBytes(options: ValidationOptions): number {
  if (options.maxTextBytes !== undefined) return options.maxTextBytes;
  // Read the environment once per process, not per record.
  defaultMaxTextBytes ??= coreSettings.load().maxTextBytes;
  return defaultMaxTextBytes;
}

function buildReview(raw: unknown, options: ValidationOptions): ReviewEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('RECORD_UNPARSEABLE', '(record)', `a review must be a JSON object, got ${describe(raw)}`);
  const record = raw as Record<string, unknown>;
  const maxTextBytes = resolveMaxTextBytes(options);
  const nowMs = options.nowMs ?? Date.now();
  const review_id = requiredId(record);
  const product_id = optionalString(record, 'product_id', MAX_ID_CHARS);
  const category = optionalString(record, 'category');
  const rating = requiredRating(record);
  const title = optionalString(record, 'title');
  if (title !== null) checkText(title, 'title', maxTextBytes);
  const text = requiredText(record, maxTextBytes);
  const event_time_ms = eventTime(record, nowMs, options.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const helpful_votes = optionalCount(record, 'helpful_votes');
  const verified = optionalBoolean(record, 'verified');
  const source = optionalString(record, 'source');
  return { review_id, product_id, category, rating, title, text, event_time_ms, helpful_votes, verified, source, ingest_time_ms: options.ingestTimeMs ?? nowMs };
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

/** The review id of a raw record when it has a usable one (for dead-letter records of invalid input). */
export function reviewIdOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as Record<string, unknown>).review_id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_CHARS ? id : null;
}
