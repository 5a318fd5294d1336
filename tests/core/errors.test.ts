import { describe, expect, it } from 'vitest';
import { DriftlineError, ERROR_CODES, ERROR_CODE_LIST, isDriftlineError, isRetriable, toDriftlineError, withRetry, type ErrorCode } from '../../core/errors.js';

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

describe('error codes', () => {
  it('the list is closed: ERROR_CODE_LIST is exactly the keys, each with an HTTP status, retriable flag and description', () => {
    expect(ERROR_CODE_LIST).toEqual(Object.keys(ERROR_CODES));
    expect(new Set(ERROR_CODE_LIST).size).toBe(ERROR_CODE_LIST.length);
    for (const code of ERROR_CODE_LIST) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      const spec = ERROR_CODES[code];
      expect(spec.http).toBeGreaterThanOrEqual(400);
      expect(spec.http).toBeLessThan(600);
      expect(typeof spec.retriable).toBe('boolean');
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });

  it('bad-input codes are 4xx and never retriable; retriable codes are unavailability (503), rate limits (429) or conflicts (409)', () => {
    for (const code of ERROR_CODE_LIST) {
      const spec = ERROR_CODES[code];
      if (spec.http < 500 && spec.http !== 409 && spec.http !== 429) expect({ code, retriable: spec.retriable }).toEqual({ code, retriable: false });
      if (spec.retriable) expect([409, 429, 503]).toContain(spec.http);
    }
  });

  it.each(ERROR_CODE_LIST)('%s: a DriftlineError carries the code’s retriable flag and HTTP status', (code) => {
    const error = new DriftlineError(code, 'boom', { field: 'rating', details: { a: 1 } });
    expect(error.retriable).toBe(ERROR_CODES[code].retriable);
    expect(isRetriable(error)).toBe(ERROR_CODES[code].retriable);
    expect(error.httpStatus).toBe(ERROR_CODES[code].http);
    expect(error.toJSON()).toEqual({ code, message: 'boom', retriable: ERROR_CODES[code].retriable, field: 'rating', details: { a: 1 } });
  });

  it('toJSON leaves out absent field and details; the cause is kept', () => {
    const cause = new Error('socket closed');
    const error = new DriftlineError('KAFKA_UNAVAILABLE', 'down', { cause });
    expect(error.toJSON()).toEqual({ code: 'KAFKA_UNAVAILABLE', message: 'down', retriable: true });
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('DriftlineError');
  });

  it('non-Driftline errors are never retriable', () => {
    for (const err of [new TypeError('x is undefined'), new Error('ECONNREFUSED'), 'string', null, undefined, { code: 'KAFKA_UNAVAILABLE', retriable: true }]) {
      expect(isRetriable(err)).toBe(false);
      expect(isDriftlineError(err)).toBe(false);
    }
  });

  it('toDriftlineError keeps a DriftlineError and wraps anything else', () => {
    const original = new DriftlineError('TEXT_EMPTY', 'empty');
    expect(toDriftlineError(original)).toBe(original);
    const wrapped = toDriftlineError(new RangeError('bad'), 'REDIS_UNAVAILABLE');
    expect(wrapped.code).toBe('REDIS_UNAVAILABLE');
    expect(wrapped.message).toBe('bad');
    expect(toDriftlineError('text').code).toBe('INTERNAL');
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
