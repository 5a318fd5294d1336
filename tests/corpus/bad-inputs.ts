/**
 * The bad-input corpus: ONE table of malformed inputs and, per entry point, what must happen to each.
 *
 * Entry points: `jsonl` and `csv` (ingest reading a file → dead-letter topic), `scorer` (raw Kafka message on
 * the reviews topic → dead-letter topic), `api` (an item of POST /v1/predict → 400 naming item and field, or
 * the item's error in place with options.partial). A row says per entry point one of:
 *   rejected(code, field)  — dead letter / error answer with this code (core/errors.ts) and field,
 *   accepted(why)          — not an error there (the row says why), it is processed like a valid record,
 *   notApplicable(why)     — the input cannot be expressed at that entry point (e.g. Avro bytes in a CSV file).
 * tests/corpus/*.test.ts render each row for its entry point, put it between valid reviews, and check the
 * outcome and that counts add up. Codes follow core/validation.ts VALIDATION_RULES (first failing rule wins).
 */
import type { ErrorCode } from '../../core/errors.js';
import { FIELD_MAX_CHARS } from '../../core/validation.js';
import type { ReviewEvent } from '../../schemas/types.js';
import { apiItemBytes, avroBytes, csvBytes, foreignWriterBytes, jsonlBytes, looseReviewCodec, replaceMarker, reviewEventOf, type JsonRecord } from '../support/corpus.js';

export const ENTRY_POINTS = ['jsonl', 'csv', 'scorer', 'api'] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

export type Outcome =
  | { kind: 'rejected'; code: ErrorCode; field: string | null }
  | { kind: 'accepted'; why: string }
  /** Neither scored nor dead-lettered: a repeat of a review id, counted as a duplicate (end-to-end dedupe). */
  | { kind: 'deduplicated'; why: string }
  | { kind: 'not-applicable'; why: string };

export interface CorpusRow {
  /** Short unique name; also the review id stem of the row's input (`corpus-<name>`). */
  name: string;
  /** What is wrong with the input. */
  what: string;
  expect: Record<EntryPoint, Outcome>;
  /**
   * The raw input per applicable entry point: a JSONL line, a CSV record, a predict item's JSON text, a Kafka
   * message value (null = tombstone). `previousValidId` is the id of the valid record just before it.
   */
  render: Partial<Record<EntryPoint, (previousValidId: string) => Buffer | null>>;
}

const rejected = (code: ErrorCode, field: string | null): Outcome => ({ kind: 'rejected', code, field });
const accepted = (why: string): Outcome => ({ kind: 'accepted', why });
const deduplicated = (why: string): Outcome => ({ kind: 'deduplicated', why });
const notApplicable = (why: string): Outcome => ({ kind: 'not-applicable', why });

/** The field's name where each entry point reports it: predict items call review_id `id`, Avro events carry event_time_ms. */
const FIELD_NAMES: Record<EntryPoint, Record<string, string>> = {
  jsonl: {},
  csv: {},
  scorer: { ts: 'event_time_ms' },
  api: { review_id: 'id' },
};

/** The same code at every entry point, the field named as each entry point names it. */
function rejectedEverywhere(code: ErrorCode, field: string): Record<EntryPoint, Outcome> {
  const out = {} as Record<EntryPoint, Outcome>;
  for (const entry of ENTRY_POINTS) out[entry] = rejected(code, FIELD_NAMES[entry][field] ?? field);
  return out;
}

const AVRO_ONLY = 'Avro single-object bytes only exist on Kafka: ingest reads text files and the API reads JSON';
const onlyScorer = (code: ErrorCode): Record<EntryPoint, Outcome> => ({
  jsonl: notApplicable(AVRO_ONLY),
  csv: notApplicable(AVRO_ONLY),
  scorer: rejected(code, null),
  api: notApplicable(AVRO_ONLY),
});
const REPLACEMENT_OK = 'U+FFFD is valid Unicode (an upstream decoder left it behind): the review is scored and counted';
const INGEST_TIME_OWN = 'ingest stamps ingest_time_ms itself; an input field of that name is ignored';
const FOREIGN_SCHEMA = 'Driftline\'s ReviewEvent schema cannot carry it: only a producer with another schema can send it, and its fingerprint is unknown';

/** A complete, valid review; rows change one thing in it. */
export function baseRecord(id: string): JsonRecord {
  return {
    review_id: id,
    product_id: 'B0CORPUS01',
    category: 'Electronics',
    rating: 4,
    title: 'Does what it says',
    text: 'Arrived quickly and works as described; the battery lasts all day.',
    ts: '2021-06-01T12:00:00Z',
    helpful_votes: 2,
    verified: true,
  };
}

export const rowId = (name: string): string => `corpus-${name}`;

/** Three ASCII bytes in a text, replaced after rendering by three raw bytes (invalid UTF-8, encoded surrogates). */
const MARKER = '~#~';
const INVALID_UTF8 = Buffer.from([0xc3, 0x28, 0xff]); // a lead byte without its continuation, then a byte UTF-8 never uses
const ENCODED_LONE_SURROGATE = Buffer.from([0xed, 0xa0, 0x80]); // U+D800 as a CESU-8/WTF-8 writer emits it: invalid UTF-8
/** 1,000,000 bytes: "1 MB" that still fits one Kafka message (max.message.bytes ~1 MiB), so the scorer can be sent it. */
export const ONE_MB_TEXT = 'x'.repeat(1_000_000);

interface RowSpec {
  name: string;
  what: string;
  expect: Record<EntryPoint, Outcome>;
  /** The logical record (default: the base record with `patch` applied and `omit` removed). */
  patch?: JsonRecord;
  omit?: string[];
  /** Per entry point: raw bytes that replace MARKER in the rendered input. */
  markerBytes?: Partial<Record<EntryPoint, Buffer>>;
  /** Per entry point: a renderer of its own, instead of rendering the logical record. */
  render?: Partial<Record<EntryPoint, (previousValidId: string) => Buffer | null>>;
  /** The record's review_id is the previous valid record's (the duplicate row). */
  duplicateId?: boolean;
}

const GENERIC_RENDERERS: Record<EntryPoint, (record: JsonRecord) => Buffer> = { jsonl: jsonlBytes, csv: csvBytes, scorer: avroBytes, api: apiItemBytes };

function row(spec: RowSpec): CorpusRow {
  const recordFor = (previousValidId: string): JsonRecord => {
    const record: JsonRecord = { ...baseRecord(spec.duplicateId ? previousValidId : rowId(spec.name)), ...spec.patch };
    for (const field of spec.omit ?? []) delete record[field];
    return record;
  };
  const render: CorpusRow['render'] = {};
  for (const entry of ENTRY_POINTS) {
    if (spec.expect[entry].kind === 'not-applicable') continue;
    const own = spec.render?.[entry];
    const marker = spec.markerBytes?.[entry];
    render[entry] =
      own ??
      ((previousValidId) => {
        const bytes = GENERIC_RENDERERS[entry](recordFor(previousValidId));
        return marker ? replaceMarker(bytes, MARKER, marker) : bytes;
      });
  }
  return { name: spec.name, what: spec.what, expect: spec.expect, render };
}

/** A valid Avro ReviewEvent of the base record (the raw material of the wire-level rows). */
const validAvro = (name: string): Buffer => avroBytes(baseRecord(rowId(name)));
/** The base record as a ReviewEvent with some fields set as a producer other than ingest may set them (no validation). */
const eventBytes = (name: string, patch: Partial<ReviewEvent>): Buffer => looseReviewCodec.encode({ ...reviewEventOf(baseRecord(rowId(name))), ...patch });
const over = (field: keyof typeof FIELD_MAX_CHARS): string => field.charAt(0).repeat(FIELD_MAX_CHARS[field] + 1);

function retyped(field: string, type: unknown) {
  return (fields: Array<{ name: string; type: unknown }>) => fields.map((f) => (f.name === field ? { ...f, type } : f));
}
function dropped(field: string) {
  return (fields: Array<{ name: string; type: unknown }>) => fields.filter((f) => f.name !== field);
}
/** The base record as a foreign producer's Avro value: event_time_ms and ingest_time_ms instead of ts. */
function foreignValue(name: string, patch: JsonRecord, omit: string[] = []): JsonRecord {
  const { ts, ...rest } = baseRecord(rowId(name));
  const value: JsonRecord = { ...rest, event_time_ms: Date.parse(ts as string), source: null, ingest_time_ms: Date.now(), ...patch };
  for (const field of omit) delete value[field];
  return value;
}

export const CORPUS: readonly CorpusRow[] = [
  // ---------------------------------------------------------------- wire format (scorer only)
  row({
    name: 'avro-truncated',
    what: 'Avro ReviewEvent cut in the middle of its body',
    expect: onlyScorer('AVRO_DECODE_FAILED'),
    render: { scorer: () => validAvro('avro-truncated').subarray(0, 40) },
  }),
  row({
    name: 'avro-corrupt-body',
    what: 'valid header and fingerprint, body bytes overwritten with 0xFF (varints that never end)',
    expect: onlyScorer('AVRO_DECODE_FAILED'),
    render: {
      scorer: () => {
        const bytes = Buffer.from(validAvro('avro-corrupt-body'));
        bytes.fill(0xff, 10);
        return bytes;
      },
    },
  }),
  row({
    name: 'avro-trailing-garbage',
    what: 'a complete Avro ReviewEvent followed by extra bytes',
    expect: onlyScorer('AVRO_DECODE_FAILED'),
    render: { scorer: () => Buffer.concat([validAvro('avro-trailing-garbage'), Buffer.from('trailing')]) },
  }),
  row({
    name: 'avro-bad-magic',
    what: 'the single-object marker C3 01 replaced by "Ob" (an Avro container file header, not a message)',
    expect: onlyScorer('AVRO_BAD_HEADER'),
    render: { scorer: () => Buffer.concat([Buffer.from('Ob', 'ascii'), validAvro('avro-bad-magic').subarray(2)]) },
  }),
  row({
    name: 'avro-not-avro',
    what: 'a JSON review sent as the message value',
    expect: onlyScorer('AVRO_BAD_HEADER'),
    render: { scorer: () => jsonlBytes(baseRecord(rowId('avro-not-avro'))) },
  }),
  row({
    name: 'avro-empty-value',
    what: 'a message with a zero-length value',
    expect: onlyScorer('AVRO_BAD_HEADER'),
    render: { scorer: () => Buffer.alloc(0) },
  }),
  row({
    name: 'avro-tombstone',
    what: 'a message with a null value (a tombstone)',
    expect: onlyScorer('AVRO_BAD_HEADER'),
    render: { scorer: () => null },
  }),
  row({
    name: 'avro-unknown-fingerprint',
    what: 'a valid body under a fingerprint no schema has (one fingerprint byte flipped)',
    expect: onlyScorer('AVRO_UNKNOWN_SCHEMA'),
    render: {
      scorer: () => {
        const bytes = Buffer.from(validAvro('avro-unknown-fingerprint'));
        bytes[9] = bytes[9]! ^ 0xff;
        return bytes;
      },
    },
  }),

  // ---------------------------------------------------------------- unparseable records
  row({
    name: 'json-cut-off',
    what: 'a JSONL line that ends in the middle of the object',
    expect: {
      jsonl: rejected('RECORD_UNPARSEABLE', '(record)'),
      csv: notApplicable('a CSV record has no nesting to cut; an unbalanced quote would swallow the rest of the file'),
      scorer: notApplicable(AVRO_ONLY),
      api: notApplicable('an unparseable body is a request-level error (API_REQUEST_CASES), it has no items'),
    },
    render: { jsonl: () => jsonlBytes(baseRecord(rowId('json-cut-off'))).subarray(0, 50) },
  }),

  row({
    name: 'record-not-object',
    what: 'valid JSON that is not an object (an array)',
    expect: {
      jsonl: rejected('RECORD_UNPARSEABLE', '(record)'),
      csv: notApplicable('a CSV record is always a row of cells'),
      scorer: notApplicable(AVRO_ONLY),
      // ajv reports the type error at the item itself; the item index is the "where", the field is its root.
      api: rejected('FIELD_TYPE', '(root)'),
    },
    render: { jsonl: () => Buffer.from('["corpus-record-not-object", 5, "an array, not a review"]'), api: () => Buffer.from('["corpus-record-not-object", 5, "an array, not a review"]') },
  }),

  // ---------------------------------------------------------------- wrong types
  row({
    name: 'rating-string',
    what: 'rating is the string "5"',
    patch: { rating: '5' },
    expect: {
      ...rejectedEverywhere('FIELD_TYPE', 'rating'),
      csv: notApplicable('CSV cells are text: the cell 5 is the number 5'),
      scorer: rejected('AVRO_UNKNOWN_SCHEMA', null),
    },
    render: { scorer: () => foreignWriterBytes(retyped('rating', 'string'), foreignValue('rating-string', { rating: '5' })) },
  }),
  row({
    name: 'text-number',
    what: 'text is the number 42',
    patch: { text: 42 },
    expect: {
      ...rejectedEverywhere('FIELD_TYPE', 'text'),
      csv: notApplicable('CSV cells are text: the cell 42 is the text "42"'),
      scorer: rejected('AVRO_UNKNOWN_SCHEMA', null),
    },
    render: { scorer: () => foreignWriterBytes(retyped('text', 'int'), foreignValue('text-number', { text: 42 })) },
  }),

  // ---------------------------------------------------------------- missing required fields
  row({
    name: 'no-review-id',
    what: 'review_id is absent (Avro: the required string is empty)',
    omit: ['review_id'],
    expect: rejectedEverywhere('FIELD_MISSING', 'review_id'),
  }),
  row({
    name: 'no-text',
    what: 'text is absent',
    omit: ['text'],
    expect: {
      ...rejectedEverywhere('FIELD_MISSING', 'text'),
      // ingest/ingest.ts convertCsvRow: an empty text cell is empty text, not a missing one.
      csv: rejected('TEXT_EMPTY', 'text'),
      scorer: rejected('AVRO_UNKNOWN_SCHEMA', null),
    },
    render: { scorer: () => foreignWriterBytes(dropped('text'), foreignValue('no-text', {}, ['text'])) },
  }),
  row({
    name: 'no-rating',
    what: 'rating is absent',
    omit: ['rating'],
    expect: {
      ...rejectedEverywhere('FIELD_MISSING', 'rating'),
      scorer: rejected('AVRO_UNKNOWN_SCHEMA', null),
      api: accepted('rating is optional when predicting: it is a label for rating_text_disagreement, never a model input'),
    },
    render: { scorer: () => foreignWriterBytes(dropped('rating'), foreignValue('no-rating', {}, ['rating'])) },
  }),

  // ---------------------------------------------------------------- text content
  row({ name: 'text-empty', what: 'text is ""', patch: { text: '' }, expect: rejectedEverywhere('TEXT_EMPTY', 'text') }),
  row({ name: 'text-whitespace', what: 'text is only spaces, a newline and a tab', patch: { text: '  \n\t  ' }, expect: rejectedEverywhere('TEXT_EMPTY', 'text') }),
  row({ name: 'text-1mb', what: 'text is 1,000,000 bytes (the limit is DRIFTLINE_MAX_TEXT_BYTES, 32 KiB)', patch: { text: ONE_MB_TEXT }, expect: rejectedEverywhere('TEXT_TOO_LONG', 'text') }),
  row({
    name: 'text-invalid-utf8',
    what: 'text holds the bytes C3 28 FF: not UTF-8 (decoded as U+FFFD)',
    patch: { text: `Works well ${MARKER} for the price.` },
    markerBytes: { jsonl: INVALID_UTF8, csv: INVALID_UTF8, scorer: INVALID_UTF8, api: INVALID_UTF8 },
    expect: rejectedEverywhere('TEXT_ENCODING', 'text'),
  }),
  row({
    name: 'text-replacement-char',
    what: 'text contains U+FFFD (a decoder upstream already lost bytes; the text itself is valid Unicode)',
    patch: { text: 'Works well \uFFFD for the price.' },
    // A valid look-alike (VALID_LOOKALIKES): refused until issue 10, now scored, flagged and counted.
    expect: {
      jsonl: accepted(REPLACEMENT_OK),
      csv: accepted(REPLACEMENT_OK),
      scorer: accepted(`${REPLACEMENT_OK}; the scored event has has_replacement_char = true`),
      api: accepted(REPLACEMENT_OK),
    },
  }),
  row({
    name: 'text-lone-surrogate',
    what: 'text contains U+D800 alone (JSON: the escape \\ud800; CSV: its CESU-8 bytes; Avro: as avsc writes it)',
    patch: { text: 'Works well \uD800 for the price.' },
    // JSON renders the lone surrogate as an escape; a CSV file can only hold bytes, so it gets the CESU-8 ones.
    render: { csv: () => replaceMarker(csvBytes({ ...baseRecord(rowId('text-lone-surrogate')), text: `Works well ${MARKER} for the price.` }), MARKER, ENCODED_LONE_SURROGATE) },
    expect: rejectedEverywhere('TEXT_ENCODING', 'text'),
  }),

  // ---------------------------------------------------------------- free-text fields over their bounds (FIELD_MAX_CHARS)
  row({ name: 'category-20kb', what: 'category of 20,000 characters (it would become a Redis segment key)', patch: { category: 'c'.repeat(20_000) }, expect: rejectedEverywhere('FIELD_RANGE', 'category') }),
  row({ name: 'product-id-too-long', what: `product_id one character over ${FIELD_MAX_CHARS.product_id}`, patch: { product_id: over('product_id') }, expect: rejectedEverywhere('FIELD_RANGE', 'product_id') }),
  row({ name: 'title-too-long', what: `title one character over ${FIELD_MAX_CHARS.title}`, patch: { title: over('title') }, expect: rejectedEverywhere('FIELD_RANGE', 'title') }),
  row({
    name: 'source-too-long',
    what: `source one character over ${FIELD_MAX_CHARS.source}`,
    patch: { source: over('source') },
    expect: rejectedEverywhere('FIELD_RANGE', 'source'),
    render: { scorer: () => eventBytes('source-too-long', { source: over('source') }) },
  }),

  // ---------------------------------------------------------------- out-of-range ratings
  row({ name: 'rating-0', what: 'rating 0', patch: { rating: 0 }, expect: rejectedEverywhere('FIELD_RANGE', 'rating') }),
  row({ name: 'rating-6', what: 'rating 6', patch: { rating: 6 }, expect: rejectedEverywhere('FIELD_RANGE', 'rating') }),
  row({ name: 'rating-minus-1', what: 'rating -1', patch: { rating: -1 }, expect: rejectedEverywhere('FIELD_RANGE', 'rating') }),
  row({
    name: 'rating-4.5',
    what: 'rating 4.5 (not an integer)',
    patch: { rating: 4.5 },
    expect: { ...rejectedEverywhere('FIELD_RANGE', 'rating'), scorer: rejected('AVRO_UNKNOWN_SCHEMA', null) },
    render: { scorer: () => foreignWriterBytes(retyped('rating', 'double'), foreignValue('rating-4.5', { rating: 4.5 })) },
  }),

  row({
    name: 'helpful-votes-fraction',
    what: 'helpful_votes 2.5 (not an integer)',
    patch: { helpful_votes: 2.5 },
    expect: { ...rejectedEverywhere('FIELD_RANGE', 'helpful_votes'), scorer: rejected('AVRO_UNKNOWN_SCHEMA', null) },
    render: { scorer: () => foreignWriterBytes(retyped('helpful_votes', ['null', 'double']), foreignValue('helpful-votes-fraction', { helpful_votes: 2.5 })) },
  }),

  // ---------------------------------------------------------------- timestamps
  row({ name: 'ts-2999', what: 'ts 2999-01-01 (far in the future)', patch: { ts: '2999-01-01T00:00:00Z' }, expect: rejectedEverywhere('TIMESTAMP_INVALID', 'ts') }),
  row({ name: 'ts-1970', what: 'ts 1970-01-01 (the epoch: a clock default, before 1995)', patch: { ts: '1970-01-01T00:00:00Z' }, expect: rejectedEverywhere('TIMESTAMP_INVALID', 'ts') }),
  row({
    name: 'event-time-9e15',
    what: 'event_time_ms 9e15 (the year 287,000) instead of ts',
    patch: { event_time_ms: 9e15 },
    omit: ['ts'],
    expect: {
      jsonl: rejected('TIMESTAMP_INVALID', 'event_time_ms'),
      csv: notApplicable('the corpus CSV has no event_time_ms column; ts-2999 is its far-future time'),
      scorer: rejected('TIMESTAMP_INVALID', 'event_time_ms'),
      api: rejected('TIMESTAMP_INVALID', 'ts'),
    },
    render: { api: () => apiItemBytes({ ...baseRecord(rowId('event-time-9e15')), ts: 9e15 }), scorer: () => eventBytes('event-time-9e15', { event_time_ms: 9e15 }) },
  }),
  row({
    name: 'ingest-time-9e15',
    what: 'ingest_time_ms 9e15 set by a producer other than ingest',
    patch: { ingest_time_ms: 9e15 },
    expect: { jsonl: accepted(INGEST_TIME_OWN), csv: notApplicable('the corpus CSV has no ingest_time_ms column'), scorer: rejected('TIMESTAMP_INVALID', 'ingest_time_ms'), api: accepted('an item\'s ingest_time_ms is not read: the API scores, it does not publish') },
    render: { scorer: () => eventBytes('ingest-time-9e15', { ingest_time_ms: 9e15 }) },
  }),
  row({
    name: 'ingest-time-negative',
    what: 'ingest_time_ms -1 set by a producer other than ingest',
    patch: { ingest_time_ms: -1 },
    expect: { jsonl: accepted(INGEST_TIME_OWN), csv: notApplicable('the corpus CSV has no ingest_time_ms column'), scorer: rejected('TIMESTAMP_INVALID', 'ingest_time_ms'), api: accepted('an item\'s ingest_time_ms is not read: the API scores, it does not publish') },
    render: { scorer: () => eventBytes('ingest-time-negative', { ingest_time_ms: -1 }) },
  }),

  // ---------------------------------------------------------------- duplicates
  row({
    name: 'duplicate-id',
    what: 'the review_id of the valid record just before it',
    duplicateId: true,
    expect: {
      ...rejectedEverywhere('DUPLICATE_REVIEW', 'review_id'),
      scorer: deduplicated('the scorer does not score a review id again inside DRIFTLINE_DEDUPE_HORIZON_S: counted as a duplicate, not dead-lettered'),
    },
  }),
];

/** The rows that apply to one entry point, with that entry point's outcome. */
export function rowsFor(entry: EntryPoint): Array<CorpusRow & { outcome: Exclude<Outcome, { kind: 'not-applicable' }>; renderFor: (previousValidId: string) => Buffer | null }> {
  return CORPUS.flatMap((corpusRow) => {
    const outcome = corpusRow.expect[entry];
    const renderFor = corpusRow.render[entry];
    if (outcome.kind === 'not-applicable' || !renderFor) return [];
    return [{ ...corpusRow, outcome, renderFor }];
  });
}

// ---------------------------------------------------------------- whole-request cases of POST /v1/predict

export interface ApiLimits {
  maxBatch: number;
  bodyLimitBytes: number;
}

export interface ApiRequestCase {
  name: string;
  what: string;
  request: (limits: ApiLimits) => { payload: string | Buffer; contentType: string };
  status: number;
  code: ErrorCode;
}

const json = (payload: string | Buffer) => ({ payload, contentType: 'application/json' });
const smallItem = (i: number) => ({ id: `r${i}`, text: 'ok' });

export const API_REQUEST_CASES: readonly ApiRequestCase[] = [
  { name: 'body-not-json', what: 'a body cut off in the middle of an item', request: () => json('{"reviews":[{"id":"a","text":"cut of'), status: 400, code: 'RECORD_UNPARSEABLE' },
  { name: 'body-empty', what: 'an empty body declared as JSON', request: () => json(''), status: 400, code: 'RECORD_UNPARSEABLE' },
  { name: 'body-wrong-type', what: 'a text/plain body', request: () => ({ payload: 'score this please', contentType: 'text/plain' }), status: 400, code: 'REQUEST_INVALID' },
  { name: 'reviews-not-array', what: 'reviews is an object, not an array', request: () => json(JSON.stringify({ reviews: { id: 'a', text: 'ok' } })), status: 400, code: 'REQUEST_INVALID' },
  { name: 'no-reviews', what: 'neither reviews nor review', request: () => json('{}'), status: 400, code: 'REQUEST_INVALID' },
  { name: 'unknown-option', what: 'options has a key the API does not know', request: () => json(JSON.stringify({ reviews: [smallItem(0)], options: { fast: true } })), status: 400, code: 'REQUEST_INVALID' },
  {
    name: 'batch-too-large',
    what: 'one review more than DRIFTLINE_API_MAX_BATCH',
    request: ({ maxBatch }) => json(JSON.stringify({ reviews: Array.from({ length: maxBatch + 1 }, (_, i) => smallItem(i)) })),
    status: 413,
    code: 'BATCH_TOO_LARGE',
  },
  {
    name: 'body-too-large',
    what: 'a body one byte over DRIFTLINE_API_BODY_LIMIT_BYTES',
    request: ({ bodyLimitBytes }) => {
      const envelope = JSON.stringify({ reviews: [{ id: 'big', text: '' }] });
      return json(envelope.replace('"text":""', `"text":"${'y'.repeat(bodyLimitBytes + 1 - envelope.length)}"`));
    },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
];

/** The code and field of a row that must be rejected where it is tested (fails loudly on any other outcome). */
export function rejection(outcome: Outcome): { code: ErrorCode; field: string | null } {
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejected row, got ${outcome.kind}`);
  return { code: outcome.code, field: outcome.field };
}
