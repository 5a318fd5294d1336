/**
 * One transaction's worth of work on the scorer's side: pack the input values, hand them to the model
 * runtime (core/model/review-batch.ts: decode → validate → dedupe → score → encode, on the model's worker
 * thread when it has one) and turn the encoded results into ScoredReview / DeadLetter Kafka messages.
 * The main thread touches no review here: bytes go out in one buffer and come back in two.
 */
import type { Message } from 'kafkajs';
import { DriftlineError } from '../core/errors.js';
import type { ModelRuntime } from '../core/model/types.js';
import { packReviewBatch, processReviews, type ReviewBatchResult } from '../core/model/review-batch.js';

export { decodeReview, toReviewInput, toScoredReview } from '../core/model/review-batch.js';

/** The part of a kafkajs message the pipeline reads. */
export interface InputMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface BatchSource {
  topic: string;
  partition: number;
}

export interface ScoredOutput {
  reviewId: string;
  /** The record's ingest_time_ms (end-to-end latency). */
  ingestTimeMs: number;
  /** Index of its input message in the batch. */
  inputIndex: number;
  message: Message;
}

export interface DeadLetterOutput {
  errorCode: string;
  reviewId: string | null;
  message: Message;
}

export interface BatchResult {
  scored: ScoredOutput[];
  deadLetters: DeadLetterOutput[];
  /** How many records were scored one by one because the batch call threw. */
  isolatedRecords: number;
  /** Scored records whose text or title carries U+FFFD (valid, flagged has_replacement_char). */
  withReplacementChar: number;
  /** Valid records not scored because their review_id was scored before (or earlier in the batch). */
  duplicates: number;
}

export interface BatchOptions {
  /** The review_ids among these that were already scored inside the dedupe horizon (scorer/dedupe.ts). */
  scoredBefore?: (ids: readonly string[]) => Promise<ReadonlySet<string>>;
  /** A fixed clock for validation and scored_time_ms (tests); default: the scoring thread's clock. */
  nowMs?: number;
  /** The scored events' partition (co-partitioned topics: the input's); absent: kafkajs's partitioner picks. */
  outputPartition?: number;
  /**
   * Stamp every scored event with the constant `content-type: avro/binary` and `schema: ScoredReview` headers
   * (DRIFTLINE_SCORER_SCHEMA_HEADERS). Off by default: the value's single-object header already names its
   * schema, and kafkajs encodes every header of every record into a fresh 512-byte buffer (measured: about a
   * quarter of its per-record produce cost for these two).
   */
  schemaHeaders?: boolean;
}

const SCORED_SCHEMA_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'avro/binary', schema: 'ScoredReview' });
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const DEAD_LETTER_HEADERS = { 'content-type': 'avro/binary', schema: 'DeadLetter' } as const;

/**
 * A scored event's headers: a shared constant (the schema headers, or none) unless the input carries W3C
 * trace context, which is passed on so a trace continues downstream (kafkajs only reads headers, so one
 * object serves every message).
 */
function scoredHeaders(input: InputMessage, base: Readonly<Record<string, string>>): Message['headers'] {
  const headers = input.headers;
  if (headers === undefined) return base;
  const parent = firstOf(headers.traceparent);
  const state = firstOf(headers.tracestate);
  if (parent === undefined && state === undefined) return base;
  return { ...base, ...(parent === undefined ? {} : { traceparent: parent }), ...(state === undefined ? {} : { tracestate: state }) };
}

function firstOf(value: Buffer | string | (Buffer | string)[] | undefined): Buffer | string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Turns one batch of input messages into the scored and dead-letter messages of one transaction. */
export async function processBatch(messages: readonly InputMessage[], source: BatchSource, runtime: ModelRuntime, options: BatchOptions = {}): Promise<BatchResult> {
  const request = packReviewBatch(messages, source, options.nowMs);
  const result = await processReviews(runtime, request, options.scoredBefore ? { scoredBefore: options.scoredBefore } : {});
  return toMessages(messages, result, options.outputPartition, options.schemaHeaders === true ? SCORED_SCHEMA_HEADERS : NO_HEADERS);
}

/** Kafka messages over the result's buffers (views, no copies). */
function toMessages(inputs: readonly InputMessage[], result: ReviewBatchResult, partition: number | undefined, baseHeaders: Readonly<Record<string, string>>): BatchResult {
  const scored: ScoredOutput[] = new Array<ScoredOutput>(result.scoredIds.length);
  const { scoredValues, scoredLengths, scoredIndex, scoredIds, scoredIngestMs } = result;
  let at = 0;
  for (let i = 0; i < scored.length; i++) {
    const length = scoredLengths[i]!;
    const inputIndex = scoredIndex[i]!;
    const input = inputs[inputIndex]!;
    const reviewId = scoredIds[i]!;
    const value = Buffer.from(scoredValues.buffer, scoredValues.byteOffset + at, length);
    at += length;
    const headers = scoredHeaders(input, baseHeaders);
    const message: Message = partition === undefined ? { key: input.key ?? reviewId, value, headers } : { key: input.key ?? reviewId, value, headers, partition };
    scored[i] = { reviewId, ingestTimeMs: scoredIngestMs[i]!, inputIndex, message };
  }
  const deadLetters: DeadLetterOutput[] = new Array<DeadLetterOutput>(result.deadCodes.length);
  at = 0;
  for (let i = 0; i < deadLetters.length; i++) {
    const length = result.deadLengths[i]!;
    const errorCode = result.deadCodes[i]!;
    const reviewId = result.deadIds[i] ?? null;
    const value = Buffer.from(result.deadValues.buffer, result.deadValues.byteOffset + at, length);
    at += length;
    deadLetters[i] = { errorCode, reviewId, message: { key: reviewId, value, headers: { error_code: errorCode, stage: 'scorer', ...DEAD_LETTER_HEADERS } } };
  }
  return { scored, deadLetters, isolatedRecords: result.isolatedRecords, withReplacementChar: result.withReplacementChar, duplicates: result.duplicates };
}

/**
 * Kafka refuses a record batch over the topic's max.message.bytes (1 MB by default) and kafkajs puts all
 * messages of one partition in one batch; sends are therefore cut at `maxBytes` of keys + values, so even
 * if every message of a send lands on one partition it stays under the limit.
 */
export const MAX_SEND_BYTES = 900_000;

export function splitBySize(messages: readonly Message[], maxBytes: number = MAX_SEND_BYTES): Message[][] {
  const out: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = byteLength(message.value) + byteLength(message.key) + 64;
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function byteLength(value: Message['value'] | Message['key']): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * The shadow events of a committed-to-be batch: the inputs production scored, scored again by `runtime`
 * (a staging candidate, on its own worker), with the same keys, headers and partitions. All or nothing: any
 * failure (a record the candidate cannot score included) throws, and the caller drops the shadow output of
 * this batch (production's output never depends on it).
 */
export async function scoreShadow(inputs: readonly InputMessage[], source: BatchSource, production: readonly ScoredOutput[], runtime: ModelRuntime): Promise<Message[]> {
  if (production.length === 0) return [];
  const scoredInputs = production.map((s) => inputs[s.inputIndex]!);
  const request = packReviewBatch(scoredInputs, source);
  const result = await processReviews(runtime, request);
  if (result.scoredIds.length !== production.length) {
    throw new DriftlineError('MODEL_SCORING_FAILED', `shadow model scored ${result.scoredIds.length} of ${production.length} reviews (${result.deadCodes.join(', ')})`);
  }
  const out = toMessages(scoredInputs, result, undefined, NO_HEADERS);
  // Not the production message's partition: the shadow topic need not be co-partitioned with the input.
  return out.scored.map((s, i) => ({ key: production[i]!.message.key ?? null, value: s.message.value, headers: production[i]!.message.headers }));
}
