/**
 * One scorer transaction's compute, bytes in and bytes out: Avro ReviewEvent values → decode → validate →
 * (dedupe by review_id) → score → Avro ScoredReview / DeadLetter values. It runs on the model worker that
 * holds the model (core/model/runtime-worker.ts) when the runtime is a worker pool, so the scorer's main
 * thread only moves Kafka bytes: the input values travel in one transferred buffer, the encoded outputs
 * come back in two, and no per-review object crosses the thread boundary. A runtime without a worker
 * (modelThreads 0, tests) runs the same functions on the calling thread (processReviews below).
 *
 * Bad input becomes a dead letter and the batch goes on; only a retriable failure (e.g. the model is not
 * ready) fails the whole batch, so it is redelivered instead of dead-lettered.
 */
import { codecFor } from '../avro.js';
import { buildDeadLetter } from '../deadletter.js';
import { DriftlineError, isRetriable, toDriftlineError } from '../errors.js';
import { compactFeatureValues } from '../features/scored-features.js';
import type { ReviewInput } from '../review.js';
import { hasReplacementCharacter } from '../utf8.js';
import { validateReview } from '../validation.js';
import type { DeadLetter, ReviewEvent, ScoredReview } from '../../schemas/types.js';
import type { ModelRuntime, Prediction } from './types.js';

/** A batch of Kafka message values from one input partition, packed for a transfer to the model worker. */
export interface ReviewBatchRequest {
  /** The values back to back (its own ArrayBuffer, so it can be transferred). */
  values: Uint8Array;
  /** Byte length of each value; -1 for a null value. */
  lengths: Int32Array;
  /** Kafka offset of each value (exact below 2^53). */
  offsets: Float64Array;
  topic: string;
  partition: number;
  /** A fixed clock for validation and scored_time_ms (tests); absent: the clock of the thread that scores. */
  nowMs?: number;
}

/** What comes back: encoded values back to back, and the few facts the main thread needs per record. */
export interface ReviewBatchResult {
  /** ScoredReview single-object values, back to back, in input order. */
  scoredValues: Uint8Array;
  scoredLengths: Int32Array;
  /** Index in the request of each scored record. */
  scoredIndex: Int32Array;
  /** review_id of each scored record (its output key when the input had none; the dedupe marks them). */
  scoredIds: string[];
  /** ingest_time_ms of each scored record (end-to-end latency metric). */
  scoredIngestMs: Float64Array;
  /** DeadLetter single-object values, back to back, in input order. */
  deadValues: Uint8Array;
  deadLengths: Int32Array;
  deadIds: Array<string | null>;
  deadCodes: string[];
  /** How many records were scored one by one because the batch call threw. */
  isolatedRecords: number;
  /** Scored records whose text or title carries U+FFFD (valid, flagged has_replacement_char). */
  withReplacementChar: number;
  /** Valid records not scored because their review_id was scored before (or earlier in the batch). */
  duplicates: number;
}

export interface ReviewBatchOptions {
  /** The review_ids among these that were already scored inside the dedupe horizon; absent: no dedupe. */
  scoredBefore?: (ids: readonly string[]) => Promise<ReadonlySet<string>>;
}

type Decoded = { ok: true; review: ReviewEvent } | { ok: false; error: DriftlineError };

/** Decodes the Avro single-object value and re-validates it (a producer may not have used ingest's validation). */
export function decodeReview(value: Uint8Array | null, nowMs: number = Date.now()): Decoded {
  let event: ReviewEvent;
  try {
    event = codecFor('ReviewEvent').decodeEscapingUtf8(value);
  } catch (err) {
    return { ok: false, error: toDriftlineError(err, 'AVRO_DECODE_FAILED') };
  }
  const validated = validateReview(event, { nowMs, ingestTimeMs: event.ingest_time_ms });
  return validated.ok ? { ok: true, review: validated.review } : { ok: false, error: validated.error };
}

export function toReviewInput(review: ReviewEvent): ReviewInput {
  return {
    review_id: review.review_id,
    text: review.text,
    title: review.title,
    product_id: review.product_id,
    category: review.category,
    rating: review.rating,
    event_time_ms: review.event_time_ms,
    helpful_votes: review.helpful_votes,
    verified: review.verified,
  };
}

export function toScoredReview(review: ReviewEvent, prediction: Prediction, runtime: Pick<ModelRuntime, 'name' | 'version'>, input: { partition: number; offset: string | number }, scoredTimeMs: number): ScoredReview {
  // v5: the featurizer's values in its fixed order, the map left empty (its keys were 150 bytes of every event).
  const featureValues = compactFeatureValues(prediction.features);
  return {
    review_id: review.review_id,
    product_id: review.product_id,
    category: review.category,
    rating: review.rating,
    helpful_votes: review.helpful_votes,
    verified: review.verified,
    features: featureValues === null ? prediction.features : {},
    sentiment: prediction.sentiment,
    prob_negative: prediction.probabilities.negative,
    prob_neutral: prediction.probabilities.neutral,
    prob_positive: prediction.probabilities.positive,
    confidence: prediction.confidence,
    predicted_category: prediction.category,
    category_confidence: prediction.categoryConfidence,
    outlier_score: prediction.outlierScore,
    outlier_flag: prediction.outlierFlag,
    shift_score: prediction.shiftScore,
    rating_text_disagreement: prediction.ratingTextDisagreement,
    model_name: runtime.name,
    model_version: runtime.version,
    event_time_ms: review.event_time_ms,
    ingest_time_ms: review.ingest_time_ms,
    scored_time_ms: scoredTimeMs,
    input_partition: input.partition,
    input_offset: Number(input.offset),
    has_replacement_char: hasReplacementCharacter(review.text) || hasReplacementCharacter(review.title),
    title: review.title,
    text: review.text,
    embedding: prediction.embedding ?? null,
    feature_values: featureValues,
  };
}

/** Packs message values (and their offsets) into one request; the values are copied into one fresh buffer. */
export function packReviewBatch(messages: ReadonlyArray<{ value: Uint8Array | null; offset: string }>, source: { topic: string; partition: number }, nowMs?: number): ReviewBatchRequest {
  const count = messages.length;
  const lengths = new Int32Array(count);
  const offsets = new Float64Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const message = messages[i]!;
    const length = message.value === null ? -1 : message.value.length;
    lengths[i] = length;
    offsets[i] = Number(message.offset);
    if (length > 0) total += length;
  }
  const values = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const value = messages[i]!.value;
    if (value === null) continue;
    values.set(value, at);
    at += value.length;
  }
  return { values, lengths, offsets, topic: source.topic, partition: source.partition, ...(nowMs === undefined ? {} : { nowMs }) };
}

/** The i-th value of a packed batch (a view, no copy), with where the next one starts. */
function valueAt(values: Uint8Array, length: number, at: number): Buffer | null {
  return length < 0 ? null : Buffer.from(values.buffer, values.byteOffset + at, length);
}

interface Accepted {
  index: number;
  review: ReviewEvent;
}

interface Dead {
  index: number;
  record: DeadLetter;
}

/** The decode + validate half of a batch: what the dedupe looks up before the scoring half. */
export interface DecodedReviewBatch {
  request: ReviewBatchRequest;
  valid: Accepted[];
  dead: Dead[];
  /** The distinct review_ids of the valid records, in first-seen order (what the dedupe looks up). */
  ids: string[];
  /** The first valid record of each id, in the order of `ids`. */
  firstById: Accepted[];
}

export function decodeReviewBatch(request: ReviewBatchRequest): DecodedReviewBatch {
  const { values, lengths, offsets } = request;
  const nowMs = request.nowMs ?? Date.now();
  const valid: Accepted[] = [];
  const dead: Dead[] = [];
  let at = 0;
  for (let index = 0; index < lengths.length; index++) {
    const length = lengths[index]!;
    const value = valueAt(values, length, at);
    if (length > 0) at += length;
    const decoded = decodeReview(value, nowMs);
    if (decoded.ok) valid.push({ index, review: decoded.review });
    else dead.push({ index, record: deadLetterFor(request, value, offsets[index]!, decoded.error, nowMs) });
  }
  const seen = new Set<string>();
  const ids: string[] = [];
  const firstById: Accepted[] = [];
  for (const item of valid) {
    if (seen.has(item.review.review_id)) continue;
    seen.add(item.review.review_id);
    ids.push(item.review.review_id);
    firstById.push(item);
  }
  return { request, valid, dead, ids, firstById };
}

/**
 * The scoring half: scores the accepted records (the first of each id, minus `skip` when deduping; every
 * valid one when not), encodes them, and encodes the dead letters.
 */
export async function scoreReviewBatch(decoded: DecodedReviewBatch, runtime: Pick<ModelRuntime, 'name' | 'version' | 'score'>, skip: ReadonlySet<string> | null): Promise<ReviewBatchResult> {
  const { request } = decoded;
  const accepted = skip === null ? decoded.valid : decoded.firstById.filter((item) => !skip.has(item.review.review_id));
  const { predictions, isolated } = await scoreIsolating(runtime, accepted);
  const scoredTime = request.nowMs ?? Date.now();
  const codec = codecFor('ScoredReview');
  const dead = decoded.dead.slice();
  const scoredValues = new PackedValues(request.values.length + (request.values.length >> 1) + 4_096);
  const scoredIndex: number[] = [];
  const scoredIds: string[] = [];
  const scoredIngest: number[] = [];
  let withReplacementChar = 0;
  for (let i = 0; i < accepted.length; i++) {
    const item = accepted[i]!;
    const prediction = predictions[i]!;
    const offset = request.offsets[item.index]!;
    if (prediction instanceof DriftlineError) {
      dead.push({ index: item.index, record: deadLetterFor(request, inputValue(request, item.index), offset, prediction, scoredTime, item.review.review_id) });
      continue;
    }
    const record = toScoredReview(item.review, prediction, runtime, { partition: request.partition, offset }, scoredTime);
    try {
      scoredValues.append((target, at) => codec.encodeInto(record, target, at));
    } catch (err) {
      // The model's output does not fit the schema (e.g. a non-numeric feature): dead-letter the record, keep the batch.
      dead.push({ index: item.index, record: deadLetterFor(request, inputValue(request, item.index), offset, toDriftlineError(err, 'MODEL_SCORING_FAILED'), scoredTime, item.review.review_id) });
      continue;
    }
    scoredIndex.push(item.index);
    scoredIds.push(record.review_id);
    scoredIngest.push(record.ingest_time_ms);
    if (record.has_replacement_char) withReplacementChar += 1;
  }
  // Dead letters keep input order so a reader sees them as they were in the partition.
  dead.sort((a, b) => a.index - b.index);
  const deadCodec = codecFor('DeadLetter');
  const scored = scoredValues.finish();
  const deadPacked = concat(dead.map((d) => deadCodec.encode(d.record)));
  return {
    scoredValues: scored.bytes,
    scoredLengths: scored.lengths,
    scoredIndex: Int32Array.from(scoredIndex),
    scoredIds,
    scoredIngestMs: Float64Array.from(scoredIngest),
    deadValues: deadPacked.bytes,
    deadLengths: deadPacked.lengths,
    deadIds: dead.map((d) => d.record.review_id),
    deadCodes: dead.map((d) => d.record.error_code),
    isolatedRecords: isolated,
    withReplacementChar,
    duplicates: decoded.valid.length - accepted.length,
  };
}

/** The buffers a result holds (transferred, not copied, from the worker). */
export function resultTransferList(result: ReviewBatchResult): ArrayBuffer[] {
  const buffers = [result.scoredValues.buffer, result.scoredLengths.buffer, result.scoredIndex.buffer, result.scoredIngestMs.buffer, result.deadValues.buffer, result.deadLengths.buffer];
  return [...new Set(buffers)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/** The buffers a request holds. */
export function requestTransferList(request: ReviewBatchRequest): ArrayBuffer[] {
  return [...new Set([request.values.buffer, request.lengths.buffer, request.offsets.buffer])].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/** A runtime that runs whole batches where its model is (core/model/worker-runtime.ts). */
export interface BatchProcessingRuntime extends ModelRuntime {
  processReviews(request: ReviewBatchRequest, options?: ReviewBatchOptions): Promise<ReviewBatchResult>;
}

export function hasBatchProcessing(runtime: ModelRuntime): runtime is BatchProcessingRuntime {
  return typeof (runtime as Partial<BatchProcessingRuntime>).processReviews === 'function';
}

/** One batch through `runtime`: on its worker when it has one, else here on the calling thread. */
export async function processReviews(runtime: ModelRuntime, request: ReviewBatchRequest, options: ReviewBatchOptions = {}): Promise<ReviewBatchResult> {
  if (hasBatchProcessing(runtime)) return runtime.processReviews(request, options);
  const decoded = decodeReviewBatch(request);
  const skip = options.scoredBefore ? await options.scoredBefore(decoded.ids) : null;
  return scoreReviewBatch(decoded, runtime, skip);
}

/** The i-th input value of a request (for a dead letter's raw bytes). */
function inputValue(request: ReviewBatchRequest, index: number): Buffer | null {
  let at = 0;
  for (let i = 0; i < index; i++) at += Math.max(0, request.lengths[i]!);
  return valueAt(request.values, request.lengths[index]!, at);
}

/**
 * Values encoded back to back into one growing buffer (each ScoredReview is written in place by the codec,
 * instead of into its own buffer that is then copied twice), with their lengths.
 */
export class PackedValues {
  private bytes: Buffer;
  private end = 0;
  private readonly lengths: number[] = [];

  constructor(initialBytes: number) {
    // Never from the shared pool: the result's ArrayBuffer is transferred to the main thread whole.
    this.bytes = Buffer.allocUnsafeSlow(Math.max(1_024, initialBytes));
  }

  /** `write(target, at)` writes one value and returns where it ends, or -1 when it needs more room. */
  append(write: (target: Buffer, at: number) => number): void {
    for (;;) {
      const end = write(this.bytes, this.end);
      if (end >= 0) {
        this.lengths.push(end - this.end);
        this.end = end;
        return;
      }
      const grown = Buffer.allocUnsafeSlow(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, this.end);
      this.bytes = grown;
    }
  }

  /** The values (a view of exactly their bytes, on a buffer of its own that can be transferred) and lengths. */
  finish(): { bytes: Uint8Array; lengths: Int32Array } {
    return { bytes: new Uint8Array(this.bytes.buffer, this.bytes.byteOffset, this.end), lengths: Int32Array.from(this.lengths) };
  }
}

function concat(parts: readonly Uint8Array[]): { bytes: Uint8Array; lengths: Int32Array } {
  const lengths = new Int32Array(parts.length);
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    lengths[i] = parts[i]!.length;
    total += parts[i]!.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { bytes, lengths };
}

/**
 * Scores the accepted reviews in one call; if that call throws a non-retriable error, scores them one by
 * one so only the records that make the model throw are dead-lettered.
 */
async function scoreIsolating(runtime: Pick<ModelRuntime, 'score'>, accepted: Accepted[]): Promise<{ predictions: Array<Prediction | DriftlineError>; isolated: number }> {
  if (accepted.length === 0) return { predictions: [], isolated: 0 };
  try {
    const predictions = await runtime.score(accepted.map((a) => toReviewInput(a.review)));
    if (predictions.length !== accepted.length) {
      throw new DriftlineError('MODEL_SCORING_FAILED', `model returned ${predictions.length} predictions for ${accepted.length} reviews`);
    }
    return { predictions, isolated: 0 };
  } catch (err) {
    if (isRetriable(err)) throw err;
    if (accepted.length === 1) return { predictions: [scoringError(err, accepted[0]!.review)], isolated: 1 };
  }
  const predictions: Array<Prediction | DriftlineError> = [];
  for (const item of accepted) {
    try {
      const [prediction] = await runtime.score([toReviewInput(item.review)]);
      predictions.push(prediction ?? new DriftlineError('MODEL_SCORING_FAILED', 'model returned no prediction'));
    } catch (err) {
      if (isRetriable(err)) throw err;
      predictions.push(scoringError(err, item.review));
    }
  }
  return { predictions, isolated: accepted.length };
}

function scoringError(err: unknown, review: ReviewEvent): DriftlineError {
  const cause = toDriftlineError(err, 'MODEL_SCORING_FAILED');
  return new DriftlineError('MODEL_SCORING_FAILED', `model failed on review ${review.review_id}: ${cause.message}`, { cause, details: { review_id: review.review_id } });
}

function deadLetterFor(request: ReviewBatchRequest, raw: Buffer | null, offset: number, error: DriftlineError, timeMs: number, reviewId?: string): DeadLetter {
  return buildDeadLetter({
    stage: 'scorer',
    error,
    raw,
    location: { topic: request.topic, partition: request.partition, offset },
    ...(reviewId === undefined ? {} : { reviewId }),
    timeMs,
  });
}
