/**
 * Riding out a Kafka outage (broker restart, leader moving) during ingest: a batch the producer could not
 * deliver is sent again, with exponential back-off, until the broker takes it or the batch has been
 * unacknowledged for the outage budget (DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS); then the run fails with
 * KAFKA_UNAVAILABLE. No new attempt starts after the budget, but the last one may still take the kafkajs
 * client's own retries (up to ≈ 45 s against a broker that refuses connections) before it gives up.
 *
 * What a resend guarantees (kafkajs 2.2, Kafka 3.x):
 * - The run keeps ONE idempotent producer (createIngestProducer). kafkajs asks for a producer id once, in
 *   connect() (producer/index.js), and never again: after a broker restart the next send reconnects the
 *   cluster and keeps the producer id, epoch and per-partition sequence numbers.
 * - kafkajs assigns a partition's sequence numbers when it builds a produce request and takes them back
 *   when the request fails (producer/sendMessages.js), so the resent batch carries the same producer id
 *   and sequences as the failed attempt. When that attempt was in fact written (outcome unknown: timeout,
 *   connection closed before the answer) the broker recognises the duplicate and answers with the
 *   original offsets instead of appending again.
 * - The broker keeps that producer state across a restart on the same data dir (snapshotted at shutdown,
 *   rebuilt from the log after a crash; it expires after producer.id.expiration.ms, 1 day, without writes).
 *   A snapshot keeps only the last batch per producer and partition, which is enough: with one request in
 *   flight only the last batch can be in doubt. A broker that lost the state (new data dir) answers
 *   UNKNOWN_PRODUCER_ID / OUT_OF_ORDER_SEQUENCE_NUMBER, which are not retriable: the run fails instead of
 *   guessing.
 * - One batch is on the wire at a time and the next waits for it, so the order per partition holds.
 * So the topic gets each record exactly once when all partitions of a batch are led by one broker, which
 * is every Driftline deployment (one broker). With several brokers it is at-least-once: kafkajs remembers
 * which broker acknowledged its part of a batch only within its own retries; when those run out after
 * broker A acknowledged and broker B did not, the resend writes A's part again. Scorer and aggregator
 * deduplicate by topic offset, not by review_id, so such a copy would be scored and counted twice.
 */
import { DriftlineError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry.js';
import { isTransientKafkaError, kafkaError } from '../core/kafka.js';

export interface OutagePolicy {
  /** How long one batch may stay unacknowledged, from the start of its first attempt; 0 = no resend. */
  budgetMs: number;
  /** Wait before the first resend; doubles per attempt. */
  initialDelayMs: number;
  /** Longest wait between two attempts. */
  maxDelayMs: number;
}

/** Each attempt already includes the kafkajs client's own retries, so the waits between attempts can stay short. */
export const OUTAGE_BACKOFF = { initialDelayMs: 500, maxDelayMs: 10_000 } as const;

export function outagePolicy(budgetMs: number): OutagePolicy {
  return { budgetMs, ...OUTAGE_BACKOFF };
}

/** Wait before resend number `retry` (1-based): initialDelayMs, doubling, capped at maxDelayMs. */
export function outageBackoffMs(retry: number, policy: Pick<OutagePolicy, 'initialDelayMs' | 'maxDelayMs'>): number {
  return backoffDelayMs(retry, policy);
}

export type OutageDecision = { retry: true; delayMs: number } | { retry: false; reason: 'permanent' | 'budget-spent' };

/**
 * After failed attempt number `attempt` of one batch, `elapsedMs` after its first attempt began: resend
 * (after how long), or give up because the error cannot heal or the budget is spent. The wait never
 * reaches past the budget.
 */
export function decideOutageRetry(err: unknown, attempt: number, elapsedMs: number, policy: OutagePolicy): OutageDecision {
  if (!isTransientKafkaError(err)) return { retry: false, reason: 'permanent' };
  const remainingMs = policy.budgetMs - elapsedMs;
  if (remainingMs <= 0) return { retry: false, reason: 'budget-spent' };
  return { retry: true, delayMs: Math.min(outageBackoffMs(attempt, policy), remainingMs) };
}

export interface OutageRetry {
  /** The attempt that failed (1 = the first send). */
  attempt: number;
  delayMs: number;
  elapsedMs: number;
  error: DriftlineError;
}

export interface SendThroughOutageOptions {
  policy: OutagePolicy;
  /** What was being done, for the error message ("publishing a batch of 25 messages"). */
  doing: string;
  /** Before each wait (the caller logs a warning). */
  onRetry?: (retry: OutageRetry) => void;
}

/**
 * Runs `send` until it succeeds or decideOutageRetry gives up; resolves with the number of resends. The
 * caller must pass a send of the SAME messages on the SAME producer each time (see the module comment).
 * Fails with KAFKA_UNAVAILABLE whose details say how many attempts over how long.
 */
export async function sendThroughOutage<T>(send: () => Promise<T>, options: SendThroughOutageOptions): Promise<{ result: T; retries: number }> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return { result: await send(), retries: attempt - 1 };
    } catch (err) {
      const elapsedMs = Math.round(performance.now() - started);
      const decision = decideOutageRetry(err, attempt, elapsedMs, options.policy);
      if (!decision.retry) throw gaveUp(err, options, attempt, elapsedMs, decision.reason);
      options.onRetry?.({ attempt, delayMs: decision.delayMs, elapsedMs, error: kafkaError(err, options.doing) });
      await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
    }
  }
}

function gaveUp(err: unknown, options: SendThroughOutageOptions, attempts: number, elapsedMs: number, reason: 'permanent' | 'budget-spent'): DriftlineError {
  const error = kafkaError(err, options.doing);
  const { budgetMs } = options.policy;
  const details = { ...error.details, attempts, outage_ms: elapsedMs, outage_budget_ms: budgetMs, gave_up: reason };
  return new DriftlineError(error.code, `${error.message}${givingUpReason(reason, attempts, elapsedMs, budgetMs)}`, { cause: error.cause ?? err, details });
}

function givingUpReason(reason: 'permanent' | 'budget-spent', attempts: number, elapsedMs: number, budgetMs: number): string {
  if (reason === 'budget-spent') {
    return ` (still failing after ${attempts} attempt${attempts === 1 ? '' : 's'} over ${(elapsedMs / 1000).toFixed(1)} s; outage budget DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS=${budgetMs})`;
  }
  return attempts > 1 ? ` (not retriable, after ${attempts} attempts)` : '';
}
