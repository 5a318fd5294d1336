/**
 * Warms the scorer's hot path before it joins the consumer group (no start-up transient): synthetic
 * reviews go through the whole per-batch path (Avro decode, validation, the model — on its worker when
 * there is one —, ScoredReview encoding, send splitting) so the first real batch meets JIT-compiled code
 * and a warm model runtime instead of paying for both while the partition's records wait.
 */
import { codecFor } from '../core/avro.js';
import type { ModelRuntime } from '../core/model/types.js';
import type { ReviewEvent } from '../schemas/types.js';
import { processBatch, splitBySize, type InputMessage } from './pipeline.js';

/** Batches of this size are what the scorer sees under load (one transaction holds up to 5,000). */
const WARMUP_BATCH = 500;
const WARMUP_ROUNDS = 4;

const TEXTS = [
  'Arrived quickly and works exactly as described, very happy with it.',
  'Stopped working after two days. The seller never answered my emails.',
  'It is fine. Does the job, nothing special, a bit overpriced for what it is.',
  'Great sound, comfortable fit, battery lasts the whole week of commuting.',
];

/** The i-th synthetic review, valid for the scorer's validation (ingested now). */
function syntheticReview(i: number, nowMs: number): ReviewEvent {
  return {
    review_id: `warmup-${i}`,
    product_id: `warmup-product-${i % 17}`,
    category: null,
    rating: 1 + (i % 5),
    title: i % 3 === 0 ? null : `Warm-up review ${i}`,
    text: `${TEXTS[i % TEXTS.length]!} (${i})`,
    event_time_ms: nowMs - 60_000,
    helpful_votes: i % 7,
    verified: i % 2 === 0,
    source: 'warmup',
    ingest_time_ms: nowMs,
  };
}

export function syntheticBatch(size: number, nowMs: number = Date.now()): InputMessage[] {
  const codec = codecFor('ReviewEvent');
  return Array.from({ length: size }, (_, i) => ({ offset: String(i), key: null, value: codec.encode(syntheticReview(i, nowMs)) }));
}

/** Runs WARMUP_ROUNDS synthetic batches through the per-batch path; resolves with how many were scored. */
export async function warmUp(runtime: ModelRuntime, rounds: number = WARMUP_ROUNDS, size: number = WARMUP_BATCH): Promise<number> {
  const batch = syntheticBatch(size);
  let scored = 0;
  for (let round = 0; round < rounds; round++) {
    const result = await processBatch(batch, { topic: 'warmup', partition: 0 }, runtime);
    splitBySize(result.scored.map((s) => s.message));
    scored += result.scored.length;
  }
  return scored;
}
