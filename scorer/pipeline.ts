/**
 * One transaction's worth of work, without Kafka: decode → validate → score → ScoredReview / DeadLetter
 * messages. Bad input becomes a dead letter and the batch goes on; only a retriable failure (e.g. the
 * model is not ready) fails the whole batch, so it is redelivered instead of dead-lettered.
 */
import type { Message } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { buildDeadLetter, deadLetterMessage } from '../core/deadletter.js';
import { DriftlineError, isRetriable, toDriftlineError } from '../core/errors.js';
import type { ModelRuntime, Prediction } from '../core/model/types.js';
import type { ReviewInput } from '../core/review.js';
import { hasReplacementCharacter } from '../core/utf8.js';
import { validateReview } from '../core/validation.js';
import type { DeadLetter, ReviewEvent, ScoredReview } from '../schemas/types.js';

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
  record: ScoredReview;
  message: Message;
  /** The decoded review it was scored from (a shadow model scores the same reviews). */
  review: ReviewEvent;
}

export interface BatchResult {
  scored: ScoredOutput[];
  deadLetters: DeadLetter[];
  deadLetterMessages: Message[];
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
}

interface AcceptedReview {
  message: InputMessage;
  review: ReviewEvent;
}

type Decoded = { ok: true; review: ReviewEvent } | { ok: false; error: DriftlineError };

/** Decodes the Avro single-object value and re-validates it (a producer may not have used ingest's validation). */
export function decodeReview(value: Buffer | null, nowMs: number = Date.now()): Decoded {
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

export function toScoredReview(review: ReviewEvent, prediction: Prediction, runtime: ModelRuntime, input: { partition: number; offset: string }, scoredTimeMs: number): ScoredReview {
  return {
    review_id: review.review_id,
    product_id: review.product_id,
    category: review.category,
    rating: review.rating,
    helpful_votes: review.helpful_votes,
    verified: review.verified,
    features: prediction.features,
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
  };
}

const SCORED_HEADERS = { 'content-type': 'avro/binary', schema: 'ScoredReview' };
/** W3C trace context headers passed from a review to its scored event, so a trace continues downstream. */
const TRACE_HEADERS = ['traceparent', 'tracestate'] as const;

function scoredHeaders(input: InputMessage): Message['headers'] {
  const headers: Record<string, string | Buffer> = { ...SCORED_HEADERS };
  for (const name of TRACE_HEADERS) {
    const value = input.headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) headers[name] = first;
  }
  return headers;
}

/**
 * Scores the accepted reviews in one call; if that call throws a non-retriable error, scores them one by
 * one so only the records that make the model throw are dead-lettered.
 */
async function scoreIsolating(runtime: ModelRuntime, accepted: AcceptedReview[]): Promise<{ predictions: Array<Prediction | DriftlineError>; isolated: number }> {
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

/** Turns one batch of input messages into the scored and dead-letter messages of one transaction. */
export async function processBatch(messages: readonly InputMessage[], source: BatchSource, runtime: ModelRuntime, nowMs: () => number = Date.now, options: BatchOptions = {}): Promise<BatchResult> {
  const deadLetters: DeadLetter[] = [];
  const valid: AcceptedReview[] = [];
  const decodeTime = nowMs();
  for (const message of messages) {
    const decoded = decodeReview(message.value, decodeTime);
    if (decoded.ok) valid.push({ message, review: decoded.review });
    else deadLetters.push(deadLetterFor(message, source, decoded.error, decodeTime));
  }
  const accepted = await withoutDuplicates(valid, options);

  const { predictions, isolated } = await scoreIsolating(runtime, accepted);
  const scoredTime = nowMs();
  const scored: ScoredOutput[] = [];
  const codec = codecFor('ScoredReview');
  accepted.forEach((item, i) => {
    const prediction = predictions[i]!;
    if (prediction instanceof DriftlineError) {
      deadLetters.push(deadLetterFor(item.message, source, prediction, scoredTime, item.review.review_id));
      return;
    }
    const record = toScoredReview(item.review, prediction, runtime, { partition: source.partition, offset: item.message.offset }, scoredTime);
    let value: Buffer;
    try {
      value = codec.encode(record);
    } catch (err) {
      // The model's output does not fit the schema (e.g. a non-numeric feature): dead-letter the record, keep the batch.
      deadLetters.push(deadLetterFor(item.message, source, toDriftlineError(err, 'MODEL_SCORING_FAILED'), scoredTime, item.review.review_id));
      return;
    }
    scored.push({ record, message: { key: item.message.key ?? record.review_id, value, headers: scoredHeaders(item.message) }, review: item.review });
  });
  // Dead letters keep input order so a reader sees them as they were in the partition.
  deadLetters.sort((a, b) => (a.source_offset ?? 0) - (b.source_offset ?? 0));
  const withReplacementChar = scored.filter((s) => s.record.has_replacement_char).length;
  return { scored, deadLetters, deadLetterMessages: deadLetters.map(deadLetterMessage), isolatedRecords: isolated, withReplacementChar, duplicates: valid.length - accepted.length };
}

/** The first record of each review_id that was not scored before (duplicates are counted, not dead-lettered). */
async function withoutDuplicates(valid: AcceptedReview[], options: BatchOptions): Promise<AcceptedReview[]> {
  if (!options.scoredBefore) return valid;
  const firstById = new Map<string, AcceptedReview>();
  for (const item of valid) if (!firstById.has(item.review.review_id)) firstById.set(item.review.review_id, item);
  const before = await options.scoredBefore([...firstById.keys()]);
  return [...firstById.values()].filter((item) => !before.has(item.review.review_id));
}

function deadLetterFor(message: InputMessage, source: BatchSource, error: DriftlineError, timeMs: number, reviewId?: string): DeadLetter {
  return buildDeadLetter({
    stage: 'scorer',
    error,
    raw: message.value,
    location: { topic: source.topic, partition: source.partition, offset: message.offset },
    ...(reviewId === undefined ? {} : { reviewId }),
    timeMs,
  });
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
 * The shadow events of a committed-to-be batch: the reviews production scored, scored again by `runtime`
 * (a staging candidate), with the same keys and headers. All or nothing: any failure throws, and the
 * caller drops the shadow output of this batch (production's output never depends on it).
 */
export async function scoreShadow(production: readonly ScoredOutput[], runtime: ModelRuntime, nowMs: () => number = Date.now): Promise<Message[]> {
  if (production.length === 0) return [];
  const predictions = await runtime.score(production.map((s) => toReviewInput(s.review)));
  if (predictions.length !== production.length) {
    throw new DriftlineError('MODEL_SCORING_FAILED', `shadow model returned ${predictions.length} predictions for ${production.length} reviews`);
  }
  const scoredTime = nowMs();
  const codec = codecFor('ScoredReview');
  return production.map((s, i) => {
    const input = { partition: s.record.input_partition, offset: String(s.record.input_offset) };
    const record = toScoredReview(s.review, predictions[i]!, runtime, input, scoredTime);
    return { key: s.message.key ?? record.review_id, value: codec.encode(record), headers: s.message.headers };
  });
}
