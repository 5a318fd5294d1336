/**
 * Error answers of the API with fastify.inject: every error is `{ code, message, ... }` with the
 * code's status; validation names each bad item and field; size limits; admin auth; readiness;
 * request ids; security headers; the OpenAPI document. These need no loaded model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, buildTestApi, type TestApi } from './helpers.js';

interface Problem {
  item?: number;
  field: string;
  reason: string;
  code: string;
}

describe('API error answers (no model loaded)', () => {
  let test: TestApi;

  beforeAll(async () => {
    test = await buildTestApi({ loadModel: false, settings: { maxBatch: 5, bodyLimitBytes: 4096 } });
  });
  afterAll(async () => {
    await test?.close();
  });

  const predict = (payload: unknown, headers: Record<string, string> = {}) =>
    test.api.app.inject({ method: 'POST', url: '/v1/predict', payload: payload as Record<string, unknown>, headers });

  it('names each bad item and field in one 400 REQUEST_INVALID answer', async () => {
    const response = await predict({
      reviews: [
        { id: 'ok', text: 'fine product' },
        { id: 'no-text' },
        { id: 'typed', text: 5, rating: '5' },
        { id: 'range', text: 'x', rating: 9, helpful_votes: -1 },
        { text: 'no id' },
      ],
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('REQUEST_INVALID');
    const problems = (body.errors as Problem[]).map((p) => `${p.item}:${p.field}:${p.code}`).sort();
    expect(problems).toEqual(['1:text:FIELD_MISSING', '2:rating:FIELD_TYPE', '2:text:FIELD_TYPE', '3:helpful_votes:FIELD_RANGE', '3:rating:FIELD_RANGE', '4:id:FIELD_MISSING']);
    expect(body.message).toContain('item 1');
  });

  it('reports the content rules of core/validation.ts per item (empty, encoding, duplicate ids, timestamps)', async () => {
    const response = await predict({
      reviews: [
        { id: 'a', text: '   ' },
        { id: 'b', text: 'broken \uD800 text' },
        { id: 'c', text: 'good' },
        { id: 'c', text: 'same id again' },
        { id: 'd', text: 'old', ts: '1970-01-01' },
      ],
    });
    expect(response.statusCode).toBe(400);
    const problems = (response.json().errors as Problem[]).map((p) => `${p.item}:${p.field}:${p.code}`);
    expect(problems).toEqual(['0:text:TEXT_EMPTY', '1:text:TEXT_ENCODING', '3:id:DUPLICATE_REVIEW', '4:ts:TIMESTAMP_INVALID']);
  });

  it('refuses a too long text with TEXT_TOO_LONG', async () => {
    const big = await buildTestApi({ loadModel: false, core: { maxTextBytes: 64 } });
    try {
      const response = await big.api.app.inject({ method: 'POST', url: '/v1/predict', payload: { review: { id: 'long', text: 'word '.repeat(40) } } });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors).toEqual([expect.objectContaining({ item: 0, field: 'text', code: 'TEXT_TOO_LONG' })]);
    } finally {
      await big.close();
    }
  });

  it('refuses envelope errors even in partial mode', async () => {
    const response = await predict({ reviews: 'nope', options: { partial: true, extra: 1 } });
    expect(response.statusCode).toBe(400);
    const fields = (response.json().errors as Problem[]).map((p) => p.field).sort();
    expect(fields).toEqual(['options.extra', 'reviews']);
  });

  it('refuses an empty batch and a body with both forms', async () => {
    const empty = await predict({ reviews: [] });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().errors).toEqual([expect.objectContaining({ field: 'reviews', code: 'FIELD_RANGE' })]);
    const both = await predict({ reviews: [{ id: 'a', text: 'x' }], review: { id: 'b', text: 'y' } });
    expect(both.statusCode).toBe(400);
    expect(both.json().code).toBe('REQUEST_INVALID');
  });

  it('answers 413 BATCH_TOO_LARGE above DRIFTLINE_API_MAX_BATCH', async () => {
    const reviews = Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, text: 't' }));
    const response = await predict({ reviews });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'BATCH_TOO_LARGE', limit: 5, received: 6 });
  });

  it('answers 413 PAYLOAD_TOO_LARGE above DRIFTLINE_API_BODY_LIMIT_BYTES', async () => {
    const response = await predict({ reviews: [{ id: 'big', text: 'x'.repeat(5000) }] });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 400 RECORD_UNPARSEABLE for a body that is not JSON', async () => {
    const response = await test.api.app.inject({ method: 'POST', url: '/v1/predict', payload: '{"reviews": [', headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('RECORD_UNPARSEABLE');
  });

  it('answers 503 MODEL_NOT_READY for valid requests before a model is loaded', async () => {
    const response = await predict({ reviews: [{ id: 'a', text: 'good' }] });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'MODEL_NOT_READY', retriable: true });
  });

  it('is alive but not ready without a model, and says what is missing', async () => {
    expect((await test.api.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await test.api.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ code: 'MODEL_NOT_READY', missing: ['model'], checks: { model: false, promotion_follower: 'disabled' } });
  });

  it('names the promotion follower when it is not connected', async () => {
    const withFollower = await buildTestApi({ loadModel: false, follower: { isConnected: () => false } });
    try {
      const ready = await withFollower.api.app.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().missing).toEqual(['model', 'promotion_follower']);
    } finally {
      await withFollower.close();
    }
  });

  it('answers 404 NOT_FOUND in the common format for unknown routes and jobs', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/v2/nothing' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND' });
    const job = await test.api.app.inject({ method: 'GET', url: '/v1/jobs/unknown', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(job.statusCode).toBe(404);
    expect(job.json().code).toBe('NOT_FOUND');
  });

  it('propagates a safe x-request-id and generates one otherwise', async () => {
    const given = await test.api.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'client-abc.123' } });
    expect(given.headers['x-request-id']).toBe('client-abc.123');
    const generated = await test.api.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const failed = await predict({ reviews: [{ id: 'x' }] }, { 'x-request-id': 'trace-42' });
    expect(failed.headers['x-request-id']).toBe('trace-42');
    expect(failed.json().request_id).toBe('trace-42');
  });

  it('sends security headers', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/health' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBeDefined();
    expect(response.headers['strict-transport-security']).toBeDefined();
  });

  it('publishes an OpenAPI document listing every route with its schema', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths).sort();
    expect(paths).toEqual(
      [
        '/health',
        '/metrics',
        '/ready',
        '/v1/drift',
        '/v1/drift/compare',
        '/v1/drift/windows',
        '/v1/evaluate',
        '/v1/jobs',
        '/v1/jobs/{id}',
        '/v1/models',
        '/v1/models/{name}',
        '/v1/models/{name}/promote',
        '/v1/models/{name}/rollback',
        '/v1/predict',
        '/v1/runs',
        '/v1/runs/{id}',
        '/v1/runs/{id}/artifacts/{name}',
        '/v1/train',
      ].sort(),
    );
    expect(doc.paths['/v1/predict'].post.requestBody.content['application/json'].schema.properties.reviews.type).toBe('array');
    expect(doc.paths['/v1/models/{name}/promote'].post.security).toEqual([{ bearerAuth: [] }]);
  });

  it('serves Prometheus metrics with request counts by route', async () => {
    await test.api.app.inject({ method: 'GET', url: '/health' });
    const response = await test.api.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toMatch(/driftline_api_http_requests_total\{[^}]*route="\/health"[^}]*status="200"[^}]*\} [1-9]/);
    expect(response.body).toContain('driftline_api_http_request_duration_seconds_bucket');
    expect(response.body).toMatch(/driftline_api_model_version\{[^}]*model="reviews"[^}]*\} 0/);
  });
});

describe('admin authentication', () => {
  it('answers 404 ADMIN_DISABLED on admin routes when no token is configured, and keeps model listing public', async () => {
    const test = await buildTestApi({ loadModel: false, settings: { adminToken: '' } });
    try {
      for (const [method, url] of [
        ['POST', '/v1/train'],
        ['GET', '/v1/jobs/x'],
        ['POST', '/v1/models/default/promote'],
        ['POST', '/v1/models/default/rollback'],
        ['POST', '/v1/evaluate'],
      ] as const) {
        const response = await test.api.app.inject({ method, url, payload: {}, headers: { authorization: 'Bearer anything' } });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(response.json().code).toBe('ADMIN_DISABLED');
      }
      const models = await test.api.app.inject({ method: 'GET', url: '/v1/models' });
      expect(models.statusCode).toBe(200);
      expect(models.json()).toEqual({ models: [] });
    } finally {
      await test.close();
    }
  });

  it('answers 401 UNAUTHORIZED without or with a wrong token (before reading the body)', async () => {
    const test = await buildTestApi({ loadModel: false, settings: { bodyLimitBytes: 1024 } });
    try {
      const missing = await test.api.app.inject({ method: 'POST', url: '/v1/models/default/promote', payload: { version: 1 } });
      expect(missing.statusCode).toBe(401);
      expect(missing.json().code).toBe('UNAUTHORIZED');
      expect(missing.headers['www-authenticate']).toContain('Bearer');
      const wrong = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: 'x'.repeat(5000) }, headers: { authorization: 'Bearer wrong' } });
      expect(wrong.statusCode).toBe(401);
      const basic = await test.api.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Basic ${ADMIN_TOKEN}` } });
      expect(basic.statusCode).toBe(401);
      const right = await test.api.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(right.statusCode).toBe(200);
      expect(right.json()).toEqual({ jobs: [] });
    } finally {
      await test.close();
    }
  });
});
