import { describe, expect, it } from 'vitest';
import { DriftlineError, ERROR_CODES, ERROR_CODE_LIST, type ErrorCode } from '../../core/errors.js';
import { backoffDelayMs, withRetry } from '../../core/retry.js';

const FAST = { initialDelayMs: 1, maxDelayMs: 2 };

/** An operation that fails with the given errors in turn, then succeeds; counts its calls. */
function flaky(failures: unknown[]): { run: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    run: async () => {
      const failure = failures[calls++];
      if (failure !== undefined) throw failure;
      return 'ok';
    },
    calls: () => calls,
  };
}

describe('backoffDelayMs', () => {
  it('starts at the initial delay, doubles per attempt and stops at the cap', () => {
    const policy = { initialDelayMs: 250, maxDelayMs: 3_000 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, policy))).toEqual([250, 500, 1_000, 2_000, 3_000, 3_000]);
  });

  it('treats attempt 0 or less as the first and never overflows to Infinity', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 60_000 };
    expect(backoffDelayMs(0, policy)).toBe(100);
    expect(backoffDelayMs(-3, policy)).toBe(100);
    expect(backoffDelayMs(10_000, policy)).toBe(60_000);
  });
});

describe('withRetry', () => {
  const retriable: ErrorCode[] = ERROR_CODE_LIST.filter((c) => ERROR_CODES[c].retriable);
  const permanent: ErrorCode[] = ERROR_CODE_LIST.filter((c) => !ERROR_CODES[c].retriable);

  it('there are both kinds of codes', () => {
    expect(retriable.length).toBeGreaterThan(0);
    expect(permanent.length).toBeGreaterThan(0);
  });

  it.each(retriable)('%s is retried until the operation succeeds', async (code) => {
    const op = flaky([new DriftlineError(code, 'blip'), new DriftlineError(code, 'blip')]);
    const attempts: number[] = [];
    await expect(withRetry(op.run, { retries: 5, ...FAST, onRetry: (_e, attempt) => attempts.push(attempt) })).resolves.toBe('ok');
    expect(op.calls()).toBe(3);
    expect(attempts).toEqual([1, 2]);
  });

  it.each(permanent)('%s is never retried', async (code) => {
    const error = new DriftlineError(code, 'bad');
    const op = flaky([error]);
    await expect(withRetry(op.run, { retries: 5, ...FAST })).rejects.toBe(error);
    expect(op.calls()).toBe(1);
  });

  it.each([
    ['TypeError', new TypeError('cannot read properties of undefined')],
    ['plain Error', new Error('ECONNREFUSED')],
    ['thrown string', 'oops'],
    ['look-alike object', { code: 'KAFKA_UNAVAILABLE', retriable: true }],
  ])('a programming error (%s) is never retried', async (_name, error) => {
    const op = flaky([error]);
    await expect(withRetry(op.run, { retries: 5, ...FAST })).rejects.toBe(error);
    expect(op.calls()).toBe(1);
  });

  it('gives up after `retries` retries with the last error', async () => {
    const errors = Array.from({ length: 10 }, (_, i) => new DriftlineError('REDIS_UNAVAILABLE', `blip ${i}`));
    const op = flaky(errors);
    await expect(withRetry(op.run, { retries: 3, ...FAST })).rejects.toBe(errors[3]);
    expect(op.calls()).toBe(4);
  });

  it('retries: 0 means one attempt', async () => {
    const op = flaky([new DriftlineError('KAFKA_UNAVAILABLE', 'down')]);
    await expect(withRetry(op.run, { retries: 0, ...FAST })).rejects.toBeInstanceOf(DriftlineError);
    expect(op.calls()).toBe(1);
  });

  it('stops retrying once the signal is aborted', async () => {
    const controller = new AbortController();
    const op = flaky(Array.from({ length: 10 }, () => new DriftlineError('KAFKA_UNAVAILABLE', 'down')));
    const run = async (): Promise<string> => {
      if (op.calls() === 2) controller.abort();
      return op.run();
    };
    await expect(withRetry(run, { retries: 9, ...FAST, signal: controller.signal })).rejects.toBeInstanceOf(DriftlineError);
    expect(op.calls()).toBe(3);
  });

  it('ends a wait at once when the signal is aborted during it', async () => {
    const controller = new AbortController();
    const op = flaky(Array.from({ length: 10 }, () => new DriftlineError('KAFKA_UNAVAILABLE', 'down')));
    // A wait of up to ten minutes: only the abort can end this test in time.
    const retrying = withRetry(op.run, { retries: 9, initialDelayMs: 600_000, maxDelayMs: 600_000, signal: controller.signal, onRetry: () => setImmediate(() => controller.abort()) });
    await expect(retrying).rejects.toBeInstanceOf(DriftlineError);
    expect(op.calls()).toBe(1);
  });

  it('retryIf decides for the caller which codes to retry', async () => {
    const op = flaky([new DriftlineError('MODEL_LOAD_FAILED', 'worker stopped'), new DriftlineError('MODEL_CHECK_FAILED', 'NaN')]);
    const retryIf = (err: DriftlineError): boolean => err.code !== 'MODEL_CHECK_FAILED';
    await expect(withRetry(op.run, { retries: 5, ...FAST, retryIf })).rejects.toMatchObject({ code: 'MODEL_CHECK_FAILED' });
    expect(op.calls()).toBe(2);
  });

  it('back-off delays stay within [0, min(maxDelay, initial·2^attempt)]', async () => {
    const delays: number[] = [];
    const op = flaky(Array.from({ length: 6 }, () => new DriftlineError('CLICKHOUSE_UNAVAILABLE', 'down')));
    await withRetry(op.run, { retries: 6, initialDelayMs: 1, maxDelayMs: 8, onRetry: (_e, _a, delayMs) => delays.push(delayMs) });
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(8, 2 ** i));
    });
    expect(delays).toHaveLength(6);
  });
});
