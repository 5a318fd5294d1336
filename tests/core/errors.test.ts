import { describe, expect, it } from 'vitest';
import { DriftlineError, ERROR_CODES, ERROR_CODE_LIST, isDriftlineError, isRetriable, toDriftlineError, type ErrorCode } from '../../core/errors.js';

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
