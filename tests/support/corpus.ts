/**
 * Helpers of the bad-input corpus (tests/corpus/): one logical review record rendered the way each entry
 * point receives it — a JSONL line, a CSV record, a POST /v1/predict item, a Kafka message value (Avro) —
 * plus the real valid reviews placed around the bad ones and an ordered producer for the scorer's input.
 */
import { readFileSync } from 'node:fs';
import type { Kafka, Message } from 'kafkajs';
import { AvroCodec, loadSchema } from '../../core/avro.js';
import { AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines } from '../../core/paths.js';
import { validateReview } from '../../core/validation.js';
import type { ReviewEvent } from '../../schemas/types.js';

/** A review as a JSON object (the JSONL shape: review_id, rating, text, ts, ...); any value, so bad ones fit too. */
export type JsonRecord = Record<string, unknown>;

/** Column order of the corpus CSV files (the header row). */
export const CSV_COLUMNS = ['review_id', 'product_id', 'category', 'rating', 'title', 'text', 'ts', 'helpful_votes', 'verified', 'source'] as const;

/**
 * Encodes ReviewEvents without any validation (ingest validates before encoding; a foreign producer may not),
 * so records that fit the schema but break the content rules reach the scorer.
 */
export const looseReviewCodec = new AvroCodec<ReviewEvent>(loadSchema('ReviewEvent'));

/** The first `count` reviews of the shipped Amazon 2018 dev set that pass validation today, as their original JSON lines. */
export function loadValidLines(count: number, offset = 0): Array<{ line: string; record: JsonRecord }> {
  const lines = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX);
  const out: Array<{ line: string; record: JsonRecord }> = [];
  const ids = new Set<string>();
  for (const line of lines.slice(offset)) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as JsonRecord;
    const result = validateReview(record);
    // Unique ids only: a repeated id in the data set would be a duplicate the corpus did not ask for.
    if (!result.ok || ids.has(result.review.review_id)) continue;
    ids.add(result.review.review_id);
    out.push({ line, record });
    if (out.length === count) return out;
  }
  throw new Error(`only ${out.length} valid reviews in the shipped Amazon 2018 dev set after line ${offset}`);
}

// ------------------------------------------------------------------ renderings of one record

/** The record as one JSONL line (no newline). JSON.stringify writes a lone surrogate as a \ud800 escape. */
export function jsonlBytes(record: JsonRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The record as one CSV record in CSV_COLUMNS order (no trailing newline); an absent field is an empty cell. */
export function csvBytes(record: JsonRecord): Buffer {
  return Buffer.from(CSV_COLUMNS.map((column) => csvCell(record[column])).join(','), 'utf8');
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

/** The record as a POST /v1/predict item (review_id → id, the rest by name; absent fields stay absent). */
export function apiItem(record: JsonRecord): JsonRecord {
  const { review_id: id, ...rest } = record;
  return id === undefined ? rest : { id, ...rest };
}

export function apiItemBytes(record: JsonRecord): Buffer {
  return Buffer.from(JSON.stringify(apiItem(record)), 'utf8');
}

/** A ReviewEvent of the record's values (ts → event_time_ms); the caller makes sure they fit the Avro types. */
export function reviewEventOf(record: JsonRecord): ReviewEvent {
  const text = (name: string): string | null => (typeof record[name] === 'string' ? (record[name] as string) : null);
  const ts = text('ts');
  return {
    review_id: text('review_id') ?? '',
    product_id: text('product_id'),
    category: text('category'),
    rating: record.rating as number,
    title: text('title'),
    text: text('text') ?? '',
    event_time_ms: ts === null ? null : Date.parse(ts),
    helpful_votes: typeof record.helpful_votes === 'number' ? record.helpful_votes : null,
    verified: typeof record.verified === 'boolean' ? record.verified : null,
    source: null,
    ingest_time_ms: Date.now(),
  };
}

export function avroBytes(record: JsonRecord): Buffer {
  return looseReviewCodec.encode(reviewEventOf(record));
}

/**
 * A value written by a producer whose ReviewEvent schema differs from Driftline's (a field of another type,
 * a field dropped): it carries that schema's fingerprint, which this reader does not know.
 */
export function foreignWriterBytes(changeFields: (fields: Array<{ name: string; type: unknown }>) => Array<{ name: string; type: unknown }>, value: JsonRecord): Buffer {
  const schema = loadSchema('ReviewEvent');
  const fields = changeFields(schema.fields.map((field) => ({ ...field })) as Array<{ name: string; type: unknown }>);
  const codec = new AvroCodec<JsonRecord>({ ...schema, fields } as typeof schema);
  return codec.encode(value);
}

/** Replaces the one occurrence of an ASCII marker in rendered bytes with raw bytes of the same length. */
export function replaceMarker(bytes: Buffer, marker: string, replacement: Buffer): Buffer {
  const markerBytes = Buffer.from(marker, 'ascii');
  if (markerBytes.length !== replacement.length) throw new Error('marker and replacement must have the same length (Avro strings are length-prefixed)');
  const at = bytes.indexOf(markerBytes);
  if (at === -1 || bytes.indexOf(markerBytes, at + 1) !== -1) throw new Error(`marker ${marker} must occur exactly once`);
  return Buffer.concat([bytes.subarray(0, at), replacement, bytes.subarray(at + markerBytes.length)]);
}

// ------------------------------------------------------------------ streams of valid and bad inputs

/** One input of a mixed stream: a valid review (by id) or a corpus row rendered for an entry point. */
export type MixedInput<T> = { kind: 'valid'; id: string; bytes: T } | { kind: 'bad'; row: string; bytes: T };

/**
 * valid, bad, valid, bad, ..., valid: every bad input has a valid neighbour on both sides, so a reader
 * that loses its place after a bad input would drop (or mangle) the next valid one and the test sees it.
 * `render(rowIndex, previousValidId)` builds the bad input; previousValidId serves the duplicate-id row.
 */
export function interleave<T, R extends { name: string }>(
  valid: Array<{ id: string; bytes: T }>,
  rows: R[],
  render: (row: R, previousValidId: string) => T,
): Array<MixedInput<T>> {
  if (valid.length < rows.length + 1) throw new Error(`need ${rows.length + 1} valid records around ${rows.length} bad ones, got ${valid.length}`);
  const out: Array<MixedInput<T>> = [];
  valid.forEach((item, i) => {
    out.push({ kind: 'valid', id: item.id, bytes: item.bytes });
    const row = rows[i];
    if (row) out.push({ kind: 'bad', row: row.name, bytes: render(row, item.id) });
  });
  return out;
}

/** Joins records with '\n' (after an optional header row) and returns the bytes and the 1-based line where each record starts. */
export function joinRecords(records: Buffer[], header?: string): { bytes: Buffer; lines: number[] } {
  const parts: Buffer[] = [];
  const lines: number[] = [];
  let line = 1;
  if (header !== undefined) {
    parts.push(Buffer.from(`${header}\n`, 'utf8'));
    line++;
  }
  for (const record of records) {
    lines.push(line);
    parts.push(record, Buffer.from('\n'));
    line += 1 + countNewlines(record);
  }
  return { bytes: Buffer.concat(parts), lines };
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) count++;
  return count;
}

/**
 * Produces messages in order on an idempotent producer. A Kafka record batch must stay under the topic's
 * max.message.bytes (~1 MB), so a large message goes in a request of its own.
 */
export async function produceInOrder(kafka: Kafka, topic: string, messages: Message[], maxRequestBytes = 256 * 1024): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    let pending: Message[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      await producer.send({ topic, acks: -1, messages: pending });
      pending = [];
      pendingBytes = 0;
    };
    for (const message of messages) {
      const size = message.value === null || message.value === undefined ? 0 : Buffer.byteLength(message.value);
      if (pendingBytes + size > maxRequestBytes) await flush();
      pending.push(message);
      pendingBytes += size;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
}
