/**
 * The one back-off of the code base: exponential, starting at `initialDelayMs`, doubling per attempt,
 * capped at `maxDelayMs`. `withRetry` adds full jitter and retries only retriable DriftlineErrors, never
 * programming errors (a TypeError is not a DriftlineError and is thrown at once). Callers that keep their
 * own loop (a paused Kafka partition, a Redis outbox, a supervised child) use `backoffDelayMs` directly.
 */
import { DriftlineError } from './errors.js';

export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Wait before retry number `attempt` (1-based): initialDelayMs × 2^(attempt−1), capped at maxDelayMs. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy): number {
  const doublings = Math.min(Math.max(attempt, 1) - 1, 40); // 2^40 × any sane initial delay is past every cap
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** doublings);
}

export interface RetryOptions {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  onRetry?: (err: DriftlineError, attempt: number, delayMs: number) => void;
  /** Stops retrying: no new attempt starts once it is aborted, and a wait in progress ends at once. */
  signal?: AbortSignal;
  /**
   * Which errors to retry; default isRetriable. Only for a caller whose context makes a code that is final
   * elsewhere worth another try (loading a model version: a registry read or a worker can fail once).
   */
  retryIf?: (err: DriftlineError) => boolean;
}

/** Exponential back-off with full jitter, for retriable DriftlineErrors only (or what retryIf accepts). */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      const worthRetrying = err instanceof DriftlineError && (options.retryIf ? options.retryIf(err) : err.retriable);
      if (!worthRetrying || attempt >= options.retries || options.signal?.aborted) throw err;
      const ceiling = backoffDelayMs(attempt + 1, options);
      const delayMs = Math.round(Math.random() * ceiling);
      options.onRetry?.(err, attempt + 1, delayMs);
      await abortableDelay(delayMs, options.signal);
      if (options.signal?.aborted) throw err;
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
