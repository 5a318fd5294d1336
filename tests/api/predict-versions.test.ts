/**
 * POST /v1/predict with `model_version`: the serving version by default, another version (number, latest) loaded
 * on first use and kept in a small LRU (api/model-cache.ts), the answer naming the version that scored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelVersionCache } from '../../api/model-cache.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import type { ModelRuntime } from '../../core/model/types.js';
import { MODEL_NAME, buildTestApi, registerShippedCopy, sampleItems, type TestApi } from './helpers.js';

describe('POST /v1/predict with model_version', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi({ settings: { modelCache: 1 } });
    await registerShippedCopy(test.registry); // v2
    await registerShippedCopy(test.registry); // v3
  });
  afterAll(async () => {
    await test?.close();
  });

  const predict = (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/predict', payload });
  const reviews = sampleItems(20, 500);

  it('scores with the serving production version by default and says so', async () => {
    const plain = await predict({ reviews });
    expect(plain.statusCode).toBe(200);
    expect(plain.json().model).toEqual({ name: MODEL_NAME, version: 1 });
    expect((await predict({ reviews, model_version: 'production' })).json().model.version).toBe(1);
    expect((await predict({ reviews, model_version: 1 })).json().model.version).toBe(1);
  });

  it('scores with another version by number or latest; the same weights give the same scores', async () => {
    const serving = (await predict({ reviews })).json().predictions as Array<{ probabilities: unknown; model: unknown }>;
    const second = await predict({ reviews, model_version: 2 });
    expect(second.statusCode).toBe(200);
    const body = second.json() as { model: { version: number }; predictions: Array<{ probabilities: unknown; model: { version: number } }> };
    expect(body.model).toEqual({ name: MODEL_NAME, version: 2 });
    expect(body.predictions.every((p) => p.model.version === 2)).toBe(true);
    expect(body.predictions.map((p) => p.probabilities)).toEqual(serving.map((p) => p.probabilities));
    const latest = await predict({ review: reviews[0], model_version: 'latest' });
    expect(latest.json()).toMatchObject({ model: { version: 3 }, prediction: { model: { version: 3 } } });
  });

  it('answers 404 for an unknown version and 400 for a reference that is not one', async () => {
    const unknown = await predict({ reviews, model_version: 9 });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('MODEL_NOT_FOUND');
    expect((await predict({ reviews, model_version: 'newest' })).statusCode).toBe(400);
    expect((await predict({ reviews, model_version: 0 })).statusCode).toBe(400);
  });
});

describe('model version cache', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi();
    for (let i = 0; i < 3; i++) await registerShippedCopy(test.registry); // v2, v3, v4
  });
  afterAll(async () => {
    await test?.close();
  });

  /** Real runtimes, with their loads and disposals counted. */
  function countingLoader() {
    const loads: number[] = [];
    const disposed: number[] = [];
    const load = async (dir: string, meta: { name: string; version: number }): Promise<ModelRuntime> => {
      loads.push(meta.version);
      const runtime = await loadModelRuntime(dir, meta);
      const dispose = runtime.dispose.bind(runtime);
      return Object.assign(runtime, { dispose: () => (disposed.push(meta.version), dispose()) });
    };
    return { loads, disposed, load };
  }

  it('keeps the most recently used versions, loads each once, and disposes an evicted one only after its calls', async () => {
    const counted = countingLoader();
    const cache = createModelVersionCache({ registry: test.registry, modelService: test.modelService, capacity: 2, load: counted.load });
    expect(await cache.acquire(undefined)).toBeUndefined();
    expect(await cache.acquire('production')).toBeUndefined();
    expect(await cache.acquire(1)).toBeUndefined(); // the serving version is never loaded twice

    const [a, b] = await Promise.all([cache.acquire(2), cache.acquire(2)]);
    expect(counted.loads).toEqual([2]);
    a!.release();
    (await cache.acquire(3))!.release();
    expect(cache.loaded()).toEqual([3, 2]);
    // v2 is still leased by `b` when v4 pushes it out: disposed only when `b` is released.
    (await cache.acquire(4))!.release();
    expect(cache.loaded()).toEqual([4, 3]);
    expect(counted.disposed).toEqual([]);
    expect((await b!.runtime.score([{ review_id: 'x', text: 'still scoring after eviction' }]))[0]!.sentiment).toBeDefined();
    b!.release();
    expect(counted.disposed).toEqual([2]);
    (await cache.acquire('latest'))!.release();
    expect(counted.loads).toEqual([2, 3, 4]);
    cache.close();
    expect(counted.disposed.sort()).toEqual([2, 3, 4]);
  });

  it('forgets a failed load, so the next request tries again', async () => {
    let fail = true;
    const cache = createModelVersionCache({
      registry: test.registry,
      modelService: test.modelService,
      capacity: 2,
      load: async (dir, meta) => {
        if (fail) throw new Error('disk hiccup');
        return loadModelRuntime(dir, meta);
      },
    });
    await expect(cache.acquire(2)).rejects.toThrow('disk hiccup');
    expect(cache.loaded()).toEqual([]);
    fail = false;
    const lease = await cache.acquire(2);
    expect(lease?.runtime.version).toBe(2);
    lease?.release();
    cache.close();
  });
});
