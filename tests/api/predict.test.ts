/**
 * POST /v1/predict and the model routes with fastify.inject, around the real shipped model
 * (models/default) loaded through a real registry (temp dir) and ModelService.
 */
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_FILE } from '../../core/model/registry/index.js';
import type { ReferenceBaseline } from '../../core/drift/baseline.js';
import { ADMIN_TOKEN, MODEL_NAME, SHIPPED_MODEL_DIR, buildTestApi, sampleItems, type TestApi } from './helpers.js';

interface PredictionBody {
  id: string;
  sentiment: 'negative' | 'neutral' | 'positive';
  probabilities: Record<'negative' | 'neutral' | 'positive', number>;
  confidence: number;
  category: string | null;
  category_confidence: number | null;
  outlier_score: number;
  outlier_flag: boolean;
  shift_score: number;
  rating_text_disagreement: boolean;
  model: { name: string; version: number };
  sentences?: Array<{ text: string; sentiment: string }>;
  error?: { code: string; message: string; field?: string };
}

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('POST /v1/predict with the shipped model', () => {
  let test: TestApi;

  beforeAll(async () => {
    test = await buildTestApi();
  });
  afterAll(async () => {
    await test?.close();
  });

  const predict = async (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/predict', payload });

  it('scores a batch: every item answered, same order, keyed by id, with all scores', async () => {
    const items = sampleItems(40);
    const response = await predict({ reviews: items });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { model: { name: string; version: number }; predictions: PredictionBody[]; refused: number };
    expect(body.model).toEqual({ name: MODEL_NAME, version: 1 });
    expect(body.refused).toBe(0);
    expect(body.predictions.map((p) => p.id)).toEqual(items.map((item) => item.id));
    for (const prediction of body.predictions) {
      const probabilities = Object.values(prediction.probabilities);
      expect(Object.keys(prediction.probabilities).sort()).toEqual(['negative', 'neutral', 'positive']);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(prediction.confidence).toBeCloseTo(prediction.probabilities[prediction.sentiment], 6);
      expect(prediction.confidence).toBeCloseTo(Math.max(...probabilities), 6);
      expect(prediction.outlier_score).toBeGreaterThanOrEqual(0);
      expect(prediction.outlier_score).toBeLessThanOrEqual(1);
      expect(prediction.shift_score).toBeGreaterThanOrEqual(0);
      expect(prediction.shift_score).toBeLessThanOrEqual(1);
      expect(typeof prediction.outlier_flag).toBe('boolean');
      expect(typeof prediction.rating_text_disagreement).toBe('boolean');
      expect(prediction.model).toEqual({ name: MODEL_NAME, version: 1 });
      expect(prediction.sentences).toBeUndefined();
    }
    // Mostly 5-star real reviews: a working model calls most of them positive.
    const positive = body.predictions.filter((p) => p.sentiment === 'positive').length;
    expect(positive).toBeGreaterThan(items.length / 2);
  });

  it('gives each item the same answer alone as inside a batch (no mix-up of order or ids)', async () => {
    const items = sampleItems(6, 100);
    const batch = (await predict({ reviews: [...items].reverse() })).json().predictions as PredictionBody[];
    for (const item of items) {
      const alone = (await predict({ review: item })).json().prediction as PredictionBody;
      const inBatch = batch.find((p) => p.id === item.id);
      expect(inBatch?.sentiment).toBe(alone.sentiment);
      expect(inBatch?.probabilities.positive).toBeCloseTo(alone.probabilities.positive, 5);
      expect(inBatch?.outlier_score).toBeCloseTo(alone.outlier_score, 5);
    }
  });

  it('accepts one review as { review } and answers { prediction }', async () => {
    const response = await predict({ review: { id: 'single-1', text: 'Terrible. It broke after one day and support never answered.', rating: 5 } });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.predictions).toBeUndefined();
    expect(body.prediction.id).toBe('single-1');
    expect(body.prediction.sentiment).toBe('negative');
    expect(body.prediction.rating_text_disagreement).toBe(true);
  });

  it('scores sentences when asked', async () => {
    const response = await predict({
      reviews: [{ id: 's1', text: 'The color is lovely. The zipper broke on the second day and I had to return it.' }],
      options: { sentences: true },
    });
    expect(response.statusCode).toBe(200);
    const [prediction] = response.json().predictions as PredictionBody[];
    expect(prediction!.sentences?.length).toBeGreaterThanOrEqual(2);
    for (const sentence of prediction!.sentences ?? []) expect(['negative', 'neutral', 'positive']).toContain(sentence.sentiment);
  });

  it('with options.partial answers the good items and returns each bad one with its error in place', async () => {
    const [good1, good2] = sampleItems(2, 200);
    const response = await predict({
      reviews: [good1, { id: 'empty', text: '' }, { id: 'typed', text: 42 }, good2, { id: 'old', text: 'ok', ts: '1980-05-05' }],
      options: { partial: true },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { predictions: PredictionBody[]; refused: number };
    expect(body.refused).toBe(3);
    expect(body.predictions.map((p) => p.id)).toEqual([good1!.id, 'empty', 'typed', good2!.id, 'old']);
    expect(body.predictions[0]!.sentiment).toBeDefined();
    expect(body.predictions[3]!.sentiment).toBeDefined();
    expect(body.predictions[1]).toEqual({ id: 'empty', error: { code: 'TEXT_EMPTY', message: expect.any(String), field: 'text' } });
    expect(body.predictions[2]!.error).toMatchObject({ code: 'FIELD_TYPE', field: 'text' });
    expect(body.predictions[2]!.sentiment).toBeUndefined();
    expect(body.predictions[4]!.error).toMatchObject({ code: 'TIMESTAMP_INVALID', field: 'ts' });
  });

  it('without options.partial refuses the whole batch for one bad item', async () => {
    const response = await predict({ reviews: [...sampleItems(3), { id: 'bad', text: ' ' }] });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([expect.objectContaining({ item: 3, field: 'text', code: 'TEXT_EMPTY' })]);
  });

  it('scores text with U+FFFD (valid Unicode) and counts it; refuses body bytes that are not UTF-8 on the item and field', async () => {
    const metric = async (): Promise<number> => {
      const body = (await test.api.app.inject({ method: 'GET', url: '/metrics' })).body;
      return Number(/^driftline_api_replacement_char_total(?:\{[^}]*\})? (\d+)/m.exec(body)?.[1] ?? 'NaN');
    };
    const before = await metric();
    const ok = await predict({ reviews: [{ id: 'fffd-1', text: 'Broke after a week \uFFFD would not buy again' }, { id: 'fffd-2', title: 'Gr\uFFFDat', text: 'Works well.' }, { id: 'plain', text: 'Works well.' }] });
    expect(ok.statusCode).toBe(200);
    expect((ok.json().predictions as PredictionBody[]).map((p) => p.id)).toEqual(['fffd-1', 'fffd-2', 'plain']);
    expect(await metric()).toBe(before + 2);
    // The same place in the body as raw bytes C3 28 (not UTF-8): refused, and named.
    const raw = Buffer.concat([Buffer.from('{"reviews":[{"id":"ok","text":"fine"},{"id":"bytes","text":"Broke '), Buffer.from([0xc3, 0x28]), Buffer.from(' again"}]}')]);
    const bad = await test.api.app.inject({ method: 'POST', url: '/v1/predict', payload: raw, headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.objectContaining({ item: 1, field: 'text', code: 'TEXT_ENCODING' })]);
  });

  it('counts predictions by class and shows the serving version in /metrics', async () => {
    const body = (await test.api.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(body).toMatch(/driftline_api_predictions_total\{[^}]*sentiment="positive"[^}]*\} [1-9]/);
    expect(body).toMatch(/driftline_api_model_version\{[^}]*model="reviews"[^}]*\} 1/);
    expect(body).toMatch(/driftline_api_http_request_duration_seconds_count\{[^}]*route="\/v1\/predict"/);
  });

  it('is ready once the model is loaded', async () => {
    const ready = await test.api.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', model: { name: MODEL_NAME, version: 1 }, checks: { model: true, promotion_follower: 'disabled' } });
  });
});

describe('model routes with a real registry', () => {
  let test: TestApi;

  beforeAll(async () => {
    test = await buildTestApi();
    // A second version: the shipped artifacts registered again (staging).
    const baseline = JSON.parse(await readFile(join(SHIPPED_MODEL_DIR, BASELINE_FILE), 'utf8')) as ReferenceBaseline;
    await test.registry.register({
      name: MODEL_NAME,
      writeArtifacts: (dir) => cp(SHIPPED_MODEL_DIR, dir, { recursive: true }),
      metrics: { macroF1: 0.99 },
      baseline,
      featurizer: null,
      dataFingerprint: 'test-v2',
      params: { note: 'copy of v1' },
      timings: {},
    });
  });
  afterAll(async () => {
    await test?.close();
  });

  it('lists versions, stages and metrics publicly', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/v1/models' });
    expect(response.statusCode).toBe(200);
    const [model] = response.json().models;
    expect(model).toMatchObject({ name: MODEL_NAME, production_version: 1, serving_version: 1 });
    expect(model.versions.map((v: { version: number; stage: string }) => [v.version, v.stage])).toEqual([
      [1, 'production'],
      [2, 'staging'],
    ]);
    expect(model.versions[1].metrics).toEqual({ macroF1: 0.99 });
    const one = await test.api.app.inject({ method: 'GET', url: `/v1/models/${MODEL_NAME}` });
    expect(one.json().name).toBe(MODEL_NAME);
    const missing = await test.api.app.inject({ method: 'GET', url: '/v1/models/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('MODEL_NOT_FOUND');
  });

  it('promotes and rolls back through the registry (admin)', async () => {
    const unknown = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/promote`, payload: { version: 9 }, headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('MODEL_NOT_FOUND');

    const promoted = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/promote`, payload: { version: 2, reason: 'better' }, headers: auth });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json()).toMatchObject({ name: MODEL_NAME, version: 2, stage: 'production', change: { action: 'promote', to_stage: 'production', previous_production_version: 1, reason: 'better' } });
    expect(await test.registry.productionVersion(MODEL_NAME)).toBe(2);

    const rolledBack = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/rollback`, payload: {}, headers: auth });
    expect(rolledBack.statusCode).toBe(200);
    expect(rolledBack.json()).toMatchObject({ version: 1, stage: 'production', change: { action: 'rollback', previous_production_version: 2 } });
    expect(await test.registry.productionVersion(MODEL_NAME)).toBe(1);

    const nothingLeft = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/rollback`, headers: auth });
    expect(nothingLeft.statusCode).toBe(409);
    expect(nothingLeft.json().code).toBe('PROMOTION_REFUSED');
  });

  it('validates promote bodies', async () => {
    const response = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/promote`, payload: { version: 'two', force: 'yes' }, headers: auth });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((e: { field: string }) => e.field).sort()).toEqual(['force', 'version']);
  });
});
