/**
 * One caller must not hurt the others: a large POST /v1/drift/compare runs off the event loop (a
 * prediction is answered while it is still running), compared texts have validation's byte bound,
 * and public routes have per-client rate limits answered as 429 RATE_LIMITED with Retry-After.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';
import { buildTestApi, type TestApi } from './helpers.js';

interface SampleReview {
  review_id: string;
  text: string;
  title: string | null;
  category: string | null;
  rating: number;
  helpful_votes: number | null;
  verified: boolean | null;
}

const SAMPLE: SampleReview[] = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as SampleReview);

const compareItem = (r: SampleReview, copy: number) => ({ review_id: `${r.review_id}-${copy}`, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified });

/** `rows` real reviews (the sample repeated as needed). */
function dataset(rows: number, offset = 0): Array<ReturnType<typeof compareItem>> {
  return Array.from({ length: rows }, (_, i) => compareItem(SAMPLE[(offset + i) % SAMPLE.length]!, Math.floor((offset + i) / SAMPLE.length)));
}

const predictBody = (i: number) => JSON.stringify({ reviews: [{ id: `p${i}`, text: SAMPLE[i % SAMPLE.length]!.text, rating: SAMPLE[i % SAMPLE.length]!.rating }] });

describe('a large comparison does not hold up predictions', () => {
  let test: TestApi;
  let url: string;
  beforeAll(async () => {
    test = await buildTestApi({ settings: { maxCompareRows: 20_000, bodyLimitBytes: 64 * 1024 * 1024, port: 0 } });
    url = await test.api.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await test?.close();
  });

  it('answers predictions while a 2 x 20,000-row comparison is still running', async () => {
    // The server has read the whole comparison body: from here on it parses and runs the comparison.
    const received = new Promise<void>((resolve) => {
      test.api.app.server.on('request', (request: IncomingMessage) => {
        if (request.url === '/v1/drift/compare') request.once('end', () => resolve());
      });
    });
    const body = JSON.stringify({ reference: dataset(20_000), current: dataset(20_000, 1_000) });
    let compareDone = false;
    const compared = fetch(`${url}/v1/drift/compare`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (response) => {
      compareDone = true;
      return { status: response.status, json: (await response.json()) as { reference_count: number; current_count: number } };
    });
    await received;
    expect(compareDone).toBe(false);
    const answeredDuringCompare: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: predictBody(i) });
      expect(response.status).toBe(200);
      if (!compareDone) answeredDuringCompare.push(i);
    }
    const result = await compared;
    expect(result.status).toBe(200);
    expect(result.json).toMatchObject({ reference_count: 20_000, current_count: 20_000 });
    // The predictions were answered before the comparison finished.
    expect(answeredDuringCompare).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('bounds of POST /v1/drift/compare', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi({ loadModel: false, core: { maxTextBytes: 10_000 }, settings: { compareQueue: 1, rateLimitHeavy: 0 } });
  });
  afterAll(async () => {
    await test?.close();
  });
  const compare = (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/drift/compare', payload });

  it('refuses texts and titles over DRIFTLINE_MAX_TEXT_BYTES (UTF-8 bytes), naming each', async () => {
    const ok = dataset(3);
    const tooManyCharacters = await compare({ reference: [...ok, { text: 'a'.repeat(10_001) }], current: ok });
    expect(tooManyCharacters.statusCode).toBe(400);
    expect(tooManyCharacters.json()).toMatchObject({ code: 'REQUEST_INVALID', errors: [{ field: 'reference.3.text', code: 'FIELD_RANGE' }] });
    // 5,001 and 4,000 characters: within a character bound, over the byte bound.
    const tooManyBytes = await compare({ reference: ok, current: [...ok, { text: 'é'.repeat(5_001), title: '€'.repeat(4_000) }] });
    expect(tooManyBytes.statusCode).toBe(400);
    const body = tooManyBytes.json() as { code: string; errors: Array<{ field: string; code: string; reason: string }> };
    expect(body.code).toBe('REQUEST_INVALID');
    expect(body.errors.map((e) => [e.field, e.code])).toEqual([
      ['current.3.text', 'TEXT_TOO_LONG'],
      ['current.3.title', 'TEXT_TOO_LONG'],
    ]);
    expect(body.errors[0]!.reason).toBe('is 10002 UTF-8 bytes, the limit is 10000');
  });

  it('refuses a comparison with 429 RATE_LIMITED while the queue is full, and runs it afterwards', async () => {
    const payload = { reference: dataset(500), current: dataset(500, 500) };
    const [first, second] = await Promise.all([compare(payload), compare(payload)]);
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json()).toMatchObject({ code: 'RATE_LIMITED', retriable: true });
    expect((await compare(payload)).statusCode).toBe(200);
  });
});

describe('per-client rate limits of the public routes', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi({ loadModel: false, settings: { rateLimitPredict: 3, rateLimitRead: 2, rateLimitHeavy: 1, rateLimitWindowMs: 60_000 } });
  });
  afterAll(async () => {
    await test?.close();
  });

  const from = (remoteAddress: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    test.api.app.inject({ method, url, remoteAddress, ...(payload ? { payload } : {}) });

  it('answers the request over a client\'s limit with 429, Retry-After and the common error body', async () => {
    // No model is loaded: predictions are refused (503), but they still count against the limit.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await from('10.0.0.1', 'POST', '/v1/predict', { reviews: [{ text: 'fine' }] })).statusCode);
    expect(statuses).not.toContain(429);
    const refused = await from('10.0.0.1', 'POST', '/v1/predict', { reviews: [{ text: 'fine' }] });
    expect(refused.statusCode).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = refused.json() as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'RATE_LIMITED', retriable: true, limit: 3, window_seconds: 60 });
    expect(body.message).toMatch(/limit 3 per 60 s/);
    expect(typeof body.request_id).toBe('string');
    expect(refused.headers['x-request-id']).toBe(body.request_id);
  });

  it('counts each client and each route on its own, and never limits health or metrics', async () => {
    expect((await from('10.0.0.2', 'POST', '/v1/predict', { reviews: [{ text: 'fine' }] })).statusCode).not.toBe(429);
    for (let i = 0; i < 2; i++) expect((await from('10.0.0.3', 'GET', '/v1/models')).statusCode).toBe(200);
    expect((await from('10.0.0.3', 'GET', '/v1/models')).statusCode).toBe(429);
    expect((await from('10.0.0.3', 'GET', '/v1/drift')).statusCode).not.toBe(429);
    for (let i = 0; i < 10; i++) {
      expect((await from('10.0.0.3', 'GET', '/health')).statusCode).toBe(200);
      expect((await from('10.0.0.3', 'GET', '/metrics')).statusCode).toBe(200);
    }
  });

  it('gives the dataset comparison the low (heavy) limit', async () => {
    const payload = { reference: dataset(50), current: dataset(50, 50) };
    expect((await from('10.0.0.4', 'POST', '/v1/drift/compare', payload)).statusCode).toBe(200);
    const second = await from('10.0.0.4', 'POST', '/v1/drift/compare', payload);
    expect(second.statusCode).toBe(429);
    expect(second.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 1 });
  });
});
