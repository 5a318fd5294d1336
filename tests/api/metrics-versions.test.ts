/**
 * The API's per-version prediction series are bounded: after a hot swap to a new model version, with
 * DRIFTLINE_METRICS_MODEL_VERSIONS=1, GET /metrics shows the new version's series only.
 */
import { cp } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_NAME, SHIPPED_MODEL_DIR, buildTestApi, type TestApi } from './helpers.js';

process.env.DRIFTLINE_METRICS_MODEL_VERSIONS = '1';

/** Registers a copy of version 1's artifacts as a new version and promotes it. */
async function promoteCopy(test: TestApi): Promise<number> {
  const v1 = await test.registry.get(MODEL_NAME, 1);
  const { version } = await test.registry.register({
    name: MODEL_NAME,
    writeArtifacts: (dir) => cp(SHIPPED_MODEL_DIR, dir, { recursive: true }),
    metrics: v1.metrics,
    baseline: await test.registry.baseline(MODEL_NAME, 1),
    featurizer: v1.featurizer,
    dataFingerprint: v1.data_fingerprint,
    params: v1.params,
    timings: v1.timings,
    actor: 'test',
  });
  await test.registry.promote(MODEL_NAME, version, { actor: 'test', force: true });
  return version;
}

describe('prediction series per model version', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi();
  });
  afterAll(async () => {
    await test?.close();
    delete process.env.DRIFTLINE_METRICS_MODEL_VERSIONS;
  });

  const predict = () => test.api.app.inject({ method: 'POST', url: '/v1/predict', payload: { reviews: [{ id: 'a', text: 'Great value, works as described.' }, { id: 'b', text: 'Broke after two days.' }] } });
  const versionsInMetrics = async (): Promise<string[]> => {
    const text = (await test.api.app.inject({ method: 'GET', url: '/metrics' })).body;
    return [...new Set([...text.matchAll(/^driftline_api_predictions_total\{[^}]*model_version="(\d+)"/gm)].map((m) => m[1]!))];
  };

  it('removes the replaced version\'s series once the new version predicts', async () => {
    expect((await predict()).statusCode).toBe(200);
    expect(await versionsInMetrics()).toEqual(['1']);
    const version = await promoteCopy(test);
    await test.modelService.reconcile();
    expect(test.modelService.current().version).toBe(version);
    expect((await predict()).statusCode).toBe(200);
    expect(await versionsInMetrics()).toEqual([String(version)]);
  });
});
