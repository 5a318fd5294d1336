/**
 * GET /v1/runs, /v1/runs/{id} and /v1/runs/{id}/artifacts/{name} on the real app: runs made by a real
 * training job (a model warm-started from version 1 through POST /v1/train) and by POST /v1/evaluate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, MODEL_NAME, REVIEWS, buildTestApi, type TestApi } from './helpers.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const labelled = (from: number, count: number) =>
  REVIEWS.slice(from, from + count).map((r) => ({ review_id: r.review_id, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified, ts: r.ts }));
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function finishedJob(test: TestApi, id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const job = (await test.api.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: auth })).json() as Record<string, unknown>;
    if (job.status !== 'queued' && job.status !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('runs API', () => {
  let test: TestApi;
  let trainRunId: string;
  let evalRunId: string;

  beforeAll(async () => {
    test = await buildTestApi();
    // A warm start from version 1 keeps its architecture (hidden 48); the rest is the request's.
    const params = { epochs: 1, autoencoderEpochs: 1, forestTrees: 10, outlierFitRows: 300 };
    const accepted = await test.api.app.inject({ method: 'POST', url: '/v1/train', payload: { reviews: labelled(0, 400), base_version: 1, params }, headers: auth });
    const job = await finishedJob(test, accepted.json().id);
    expect(job).toMatchObject({ status: 'succeeded', result: { version: 2 } });
    trainRunId = (job.result as { run_id: string }).run_id;
    const evaluated = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { reviews: labelled(1000, 250), version: 2 }, headers: auth });
    expect(evaluated.statusCode).toBe(200);
    evalRunId = evaluated.json().run_id;
  }, 240_000);

  afterAll(async () => {
    await test?.close();
  });

  it('names the runs of the training job and the evaluation by kind and UTC time', () => {
    expect(trainRunId).toMatch(/^train_\d{8}T\d{9}Z$/);
    expect(evalRunId).toMatch(/^eval_\d{8}T\d{9}Z$/);
  });

  it('lists runs newest first, by kind, in pages', async () => {
    const all = await test.api.app.inject({ method: 'GET', url: '/v1/runs' });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect((all.json().runs as Array<{ id: string }>).map((r) => r.id)).toEqual([evalRunId, trainRunId]);
    const trains = (await test.api.app.inject({ method: 'GET', url: '/v1/runs?kind=train' })).json();
    expect(trains.total).toBe(1);
    expect(trains.runs[0].id).toBe(trainRunId);
    const second = (await test.api.app.inject({ method: 'GET', url: '/v1/runs?limit=1&offset=1' })).json();
    expect(second).toMatchObject({ total: 2, limit: 1, offset: 1, runs: [{ id: trainRunId }] });
    const bad = await test.api.app.inject({ method: 'GET', url: '/v1/runs?kind=deploy&limit=0' });
    expect(bad.statusCode).toBe(400);
    expect((bad.json().errors as Array<{ field: string }>).map((e) => e.field).sort()).toEqual(['kind', 'limit']);
  });

  it('shows a training run with its lineage, parameters, fingerprint, metrics and artifact links', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: `/v1/runs/${trainRunId}` });
    expect(response.statusCode).toBe(200);
    const run = response.json();
    const record = await test.registry.get(MODEL_NAME, 2);
    expect(run).toMatchObject({ id: trainRunId, kind: 'train', model: { name: MODEL_NAME, version: 2, parent_version: 1 }, params: { epochs: 1, hidden: 48 }, data: { fingerprint: record.data_fingerprint, rows: 400, files: [] } });
    expect(run.metrics.macroF1).toBe(record.metrics['macroF1']);
    expect(run.metrics.heads.sentiment.perClass.positive).toEqual(expect.objectContaining({ precision: expect.any(Number), recall: expect.any(Number), f1: expect.any(Number) }));
    const names = (run.artifacts as Array<{ name: string; url: string; content_type: string }>).map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['confusion-sentiment.svg', 'confusion-sentiment.png', 'calibration-sentiment.svg', 'calibration-sentiment.png', 'metrics.json']));
    expect(run.artifacts[0].url).toBe(`/v1/runs/${trainRunId}/artifacts/${run.artifacts[0].name}`);
  });

  it('shows an evaluation run with its drift report against the version baseline', async () => {
    const run = (await test.api.app.inject({ method: 'GET', url: `/v1/runs/${evalRunId}` })).json();
    expect(run).toMatchObject({ kind: 'eval', model: { name: MODEL_NAME, version: 2, parent_version: 1 }, data: { rows: 250 } });
    expect(['green', 'amber', 'red']).toContain(run.metrics.drift.status);
    const report = await test.api.app.inject({ method: 'GET', url: `/v1/runs/${evalRunId}/artifacts/drift-report.json` });
    expect(report.statusCode).toBe(200);
    expect(report.headers['content-type']).toMatch(/^application\/json/);
    expect(report.json()).toMatchObject({ rows: 250, baseline: { modelName: MODEL_NAME } });
  });

  it('serves the pictures with their content types', async () => {
    const png = await test.api.app.inject({ method: 'GET', url: `/v1/runs/${trainRunId}/artifacts/confusion-sentiment.png` });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect([...png.rawPayload.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const svg = await test.api.app.inject({ method: 'GET', url: `/v1/runs/${trainRunId}/artifacts/calibration-sentiment.svg` });
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(svg.headers['content-security-policy']).toContain("default-src 'none'");
    expect(svg.body.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });

  it('answers 404 for unknown runs and artifacts and 400 for names that are not plain file names', async () => {
    const unknown = await test.api.app.inject({ method: 'GET', url: '/v1/runs/train_20000101T000000000Z' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    expect((await test.api.app.inject({ method: 'GET', url: `/v1/runs/${trainRunId}/artifacts/drift-report.json` })).statusCode).toBe(404);
    expect((await test.api.app.inject({ method: 'GET', url: `/v1/runs/${trainRunId}/artifacts/run.json` })).statusCode).toBe(404);
    for (const url of [`/v1/runs/${trainRunId}/artifacts/..%2Frun.json`, `/v1/runs/${trainRunId}/artifacts/.hidden`, '/v1/runs/..%2F..%2Fetc', `/v1/runs/${trainRunId}/artifacts/%2Fetc%2Fpasswd`]) {
      const response = await test.api.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().code, url).toBe('REQUEST_INVALID');
    }
  });
});
