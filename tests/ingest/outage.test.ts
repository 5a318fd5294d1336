/**
 * The outage retry policy as pure functions: which failures are resent, how long ingest waits between
 * attempts, and when the budget is spent. The loop against a broker that stops and starts is in
 * outage.int.test.ts.
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { ingestSettings } from '../../ingest/config.js';
import { decideOutageRetry, OUTAGE_BACKOFF, outageBackoffMs, outagePolicy } from '../../ingest/outage.js';

// kafkajs's protocol error table (CommonJS internals, no types): the error a broker's MESSAGE_TOO_LARGE becomes.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => Error };

const refused = new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
const tooLarge = createErrorFromCode(10);

describe('outageBackoffMs', () => {
  it('starts at the initial delay and doubles per attempt', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 100_000 };
    expect([1, 2, 3, 4, 5].map((retry) => outageBackoffMs(retry, policy))).toEqual([100, 200, 400, 800, 1_600]);
  });

  it('never waits longer than the cap, however many attempts failed', () => {
    for (const retry of [6, 7, 20, 1_000, Number.MAX_SAFE_INTEGER]) expect(outageBackoffMs(retry, OUTAGE_BACKOFF)).toBe(OUTAGE_BACKOFF.maxDelayMs);
    for (let retry = 1; retry < 40; retry++) {
      const delay = outageBackoffMs(retry, OUTAGE_BACKOFF);
      expect(delay).toBeGreaterThanOrEqual(OUTAGE_BACKOFF.initialDelayMs);
      expect(delay).toBeLessThanOrEqual(OUTAGE_BACKOFF.maxDelayMs);
    }
  });
});

describe('decideOutageRetry', () => {
  const policy = outagePolicy(60_000);

  it('resends a retriable failure with the back-off of its attempt while the budget lasts', () => {
    expect(decideOutageRetry(refused, 1, 13_000, policy)).toEqual({ retry: true, delayMs: OUTAGE_BACKOFF.initialDelayMs });
    expect(decideOutageRetry(refused, 3, 20_000, policy)).toEqual({ retry: true, delayMs: outageBackoffMs(3, OUTAGE_BACKOFF) });
  });

  it('never waits past the budget', () => {
    expect(decideOutageRetry(refused, 10, 59_700, policy)).toEqual({ retry: true, delayMs: 300 });
  });

  it('gives up once the batch was unacknowledged for the whole budget', () => {
    expect(decideOutageRetry(refused, 4, 60_000, policy)).toEqual({ retry: false, reason: 'budget-spent' });
    expect(decideOutageRetry(refused, 4, 75_000, policy)).toEqual({ retry: false, reason: 'budget-spent' });
  });

  it('with a budget of 0 fails at the first failed send', () => {
    expect(decideOutageRetry(refused, 1, 0, outagePolicy(0))).toEqual({ retry: false, reason: 'budget-spent' });
  });

  it('does not resend what cannot heal, however much budget is left', () => {
    expect(decideOutageRetry(tooLarge, 1, 0, policy)).toEqual({ retry: false, reason: 'permanent' });
    expect(decideOutageRetry(new TypeError('x is not a function'), 1, 0, policy)).toEqual({ retry: false, reason: 'permanent' });
    expect(decideOutageRetry(new DriftlineError('AVRO_ENCODE_FAILED', 'rating does not fit'), 1, 0, policy)).toEqual({ retry: false, reason: 'permanent' });
  });
});

describe('DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS', () => {
  it('defaults to one minute; 0 is allowed, negative is not', () => {
    expect(ingestSettings.load({}).outageTimeoutMs).toBe(60_000);
    expect(ingestSettings.load({ DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS: '0' }).outageTimeoutMs).toBe(0);
    expect(() => ingestSettings.load({ DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS: '-1' })).toThrow(/DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS/);
  });
});
