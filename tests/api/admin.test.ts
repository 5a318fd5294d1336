/**
 * Admin routes around the real shipped model and a temp registry: evaluation (checked against the
 * predictions of /v1/predict), training jobs (a small real training run registered as version 2),
 * and request checks of both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTIMENTS } from '../../schemas/types.js';
import { ADMIN_TOKEN, MODEL_NAME, REVIEWS, buildTestApi, type TestApi } from './helpers.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const labelled = (from: number, count: number) =>
  REVIEWS.slice(from, from + count).map((r) => ({ review_id: r.review_id, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified, ts: r.ts }));
const label = (rating: number): string => (rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive');

/** Polls a job until it is finished (no timing is asserted; the wait is only bounded). */
async function finishedJob(test: TestApi, id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const job = (await test.api.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth })).json() as Record<string, unknown>;
    if (job.status !== 'queued' && job.status !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('admin: evaluation and training jobs', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi();
  });
  afterAll(async () => {
    await test?.close();
  });

  it('evaluates the serving model on labelled reviews, consistently with /v1/predict', async () => {
    const reviews = labelled(1000, 300);
    const response = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { reviews }, headers: auth });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.model).toEqual({ name: MODEL_NAME, version: 1 });
    expect(body.rows).toBe(300);
    expect(body.labels).toEqual([...SENTIMENTS]);
    const confusion = body.confusion_matrix as number[][];
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(300);

    const predicted = (
      await test.api.app.inject({ method: 'POST', url: '/v1/predict', payload: { reviews: reviews.map(({ review_id, ...rest }) => ({ ...rest, id: review_id })) } })
    ).json().predictions as Array<{ sentiment: string }>;
    const correct = reviews.filter((r, i) => predicted[i]!.sentiment === label(r.rating)).length;
    expect(body.accuracy).toBeCloseTo(correct / 300, 4);
    SENTIMENTS.forEach((actual, a) => {
      const support = reviews.filter((r) => label(r.rating) === actual).length;
      expect(body.per_class[actual].support).toBe(support);
      SENTIMENTS.forEach((guess, p) => {
        expect(confusion[a]![p]).toBe(reviews.filter((r, i) => label(r.rating) === actual && predicted[i]!.sentiment === guess).length);
      });
    });
    const present = SENTIMENTS.filter((s) => body.per_class[s].support > 0).map((s) => body.per_class[s].f1 as number);
    expect(body.macro_f1).toBeCloseTo(present.reduce((a, b) => a + b, 0) / present.length, 3);
  });

  it('refuses evaluation of an unknown version and unlabelled reviews', async () => {
    const unknown = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { reviews: labelled(0, 3), version: 42 }, headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('MODEL_NOT_FOUND');
    const unlabelled = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { reviews: [{ review_id: 'a', text: 'x' }] }, headers: auth });
    expect(unlabelled.statusCode).toBe(400);
    expect(unlabelled.json().errors[0]).toMatchObject({ item: 0, field: 'rating', code: 'FIELD_MISSING' });
  });

  it('checks training requests before starting a job', async () => {
    const both = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { dataset_path: 'x.jsonl', reviews: labelled(0, 1) }, headers: auth });
    expect(both.statusCode).toBe(400);
    const unreadable = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { dataset_path: '/nonexistent/data.jsonl' }, headers: auth });
    expect(unreadable.statusCode).toBe(400);
    expect(unreadable.json()).toMatchObject({ code: 'REQUEST_INVALID', field: 'dataset_path' });
    const badParams = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 1), params: { epochs: 'many', wings: 2 } }, headers: auth });
    expect(badParams.statusCode).toBe(400);
    expect((badParams.json().errors as Array<{ field: string }>).map((e) => e.field).sort()).toEqual(['params.epochs', 'params.wings']);
    const badBase = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 1), base_version: 7 }, headers: auth });
    expect(badBase.statusCode).toBe(404);
    expect(badBase.json()).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    const badBaseModel = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 1), base_model: 'other', base_version: 'latest' }, headers: auth });
    expect(badBaseModel.statusCode).toBe(404);
    const badWord = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 1), base_version: 'newest' }, headers: auth });
    expect(badWord.statusCode).toBe(400);
    // A warm start continues the base's weights: another embedding width cannot be continued.
    const reshaped = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 1), params: { embeddingDim: 8 } }, headers: auth });
    expect(reshaped.statusCode).toBe(400);
    expect(reshaped.json()).toMatchObject({ code: 'REQUEST_INVALID', field: 'params.embeddingDim' });
  });

  it('reports a failed job with its error (too few reviews)', async () => {
    const accepted = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 30) }, headers: auth });
    expect(accepted.statusCode).toBe(202);
    const job = await finishedJob(test, accepted.json().id);
    expect(job).toMatchObject({ status: 'failed', result: null, error: { code: 'TRAINING_FAILED' } });
  });

  it('trains a new version in a job from the production model (warm start): 202, progress, then the registered version and its parent', async () => {
    const params = { epochs: 1, autoencoderEpochs: 1, forestTrees: 10, outlierFitRows: 300 };
    const accepted = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 400), params }, headers: auth });
    expect(accepted.statusCode).toBe(202);
    const submitted = accepted.json();
    expect(accepted.headers.location).toBe(`/v1/jobs/${submitted.id}`);
    expect(submitted).toMatchObject({ status: 'queued', request: { reviews: 400, base_version: null, base_model: null, rebuild_vocabulary: false, dataset_path: null, promote: false } });

    const job = await finishedJob(test, submitted.id);
    expect(job).toMatchObject({
      status: 'succeeded',
      error: null,
      progress: { fraction: 1 },
      result: { version: 2, stage: 'staging', base: { model: MODEL_NAME, requested: 'production', parent_version: 1, rebuild_vocabulary: false, note: null } },
    });
    const model = (await test.api.app.inject({ method: 'GET', url: `/v1/models/${MODEL_NAME}` })).json() as { versions: Array<{ version: number; parent_version: number | null; parent_model: string | null }> };
    expect(model.versions.map((v) => [v.version, v.parent_version])).toEqual([
      [1, null],
      [2, 1],
    ]);
    const metrics = (job.result as { metrics: { macroF1: number; heldOutRows: number } }).metrics;
    expect(metrics.macroF1).toBeGreaterThanOrEqual(0);
    expect(metrics.heldOutRows).toBeGreaterThan(0);
    const record = await test.registry.get(MODEL_NAME, 2);
    expect(record.stage).toBe('staging');
    // The run's parameters: the request's, then the parent's (its architecture always).
    expect(record.params).toMatchObject({ epochs: 1, forestTrees: 10, hidden: 48, embeddingDim: 16, buckets: 65_536 });
    expect(record.parent_version).toBe(1);

    const listed = (await test.api.app.inject({ method: 'GET', url: '/v1/jobs', headers: auth })).json().jobs as Array<{ id: string }>;
    expect(listed.map((j) => j.id)).toContain(submitted.id);
    // The serving model is unchanged until someone promotes the new version.
    expect(test.modelService.current().version).toBe(1);
  });

  it('with promote: true, refuses promoting a version worse than production and says why', async () => {
    const params = { epochs: 1, buckets: 4096, embeddingDim: 8, hidden: 8, autoencoderEpochs: 1, forestTrees: 10, outlierFitRows: 300 };
    const accepted = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(400, 300), params, promote: true, base_version: 'none' }, headers: auth });
    expect(accepted.statusCode).toBe(202);
    const job = await finishedJob(test, accepted.json().id);
    expect(job).toMatchObject({ status: 'succeeded', result: { version: 3, stage: 'staging', base: { requested: 'none', parent_version: null }, metrics: { promotionRefused: expect.stringContaining('macro-F1') } } });
    expect(await test.registry.productionVersion(MODEL_NAME)).toBe(1);
  });
});
