/**
 * What every ModelRuntime loader must do, run over each implementation: the main-thread runtime
 * (runtime.test.ts) and the worker-thread pool (worker-runtime.test.ts). The reference is the trained
 * model scored in memory on this thread; a loaded runtime must predict exactly the same numbers.
 */
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { MANIFEST_FILE, writeModelArtifacts } from '../../../core/model/artifacts.js';
import { createModelRuntime } from '../../../core/model/runtime.js';
import type { RuntimeLoader } from '../../../core/model/service.js';
import { loadTf } from '../../../core/model/tf.js';
import type { ModelRuntime } from '../../../core/model/types.js';
import type { TrainResult } from '../../../trainer/train.js';
import { syntheticReviews } from '../../trainer/fixtures.js';

export interface ConformanceFixture {
  trained: TrainResult;
  /** The trained model's artifacts. */
  dir: string;
}

export const probe = syntheticReviews(120, 99);

export async function expectCode(promise: Promise<unknown>, code: string): Promise<DriftlineError> {
  const err = await promise.then(
    () => expect.unreachable(`expected ${code}`),
    (rejection: unknown) => rejection,
  );
  expect(err).toBeInstanceOf(DriftlineError);
  expect((err as DriftlineError).code).toBe(code);
  return err as DriftlineError;
}

/** A copy of the artifacts, changed by `corrupt`; removed by the caller. */
export async function corruptCopy(trained: TrainResult, corrupt: (copy: string) => Promise<void>): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'driftline-model-copy-'));
  await writeModelArtifacts(trained.bundle, copy);
  await corrupt(copy);
  return copy;
}

/** A model whose category list does not match its head: it loads, and its smoke check fails. */
/** One category more in the manifest than the head has (and no category blend, whose per-class offsets the loader would refuse first). */
export const extraCategory = async (copy: string): Promise<void> => {
  const { categoryBlend: _blend, ...manifest } = JSON.parse(await readFile(join(copy, MANIFEST_FILE), 'utf8')) as { categories: string[]; categoryBlend?: unknown };
  await writeFile(join(copy, MANIFEST_FILE), JSON.stringify({ ...manifest, categories: [...manifest.categories, 'Extra'] }));
};

export function describeRuntimeConformance(label: string, load: RuntimeLoader, fixture: () => ConformanceFixture): void {
  describe(`ModelRuntime conformance: ${label}`, () => {
    let runtime: ModelRuntime;
    let reference: ModelRuntime;

    beforeAll(async () => {
      const { tf, backend } = await loadTf();
      reference = createModelRuntime(tf, backend, fixture().trained.bundle, { name: 'tiny', version: 1 });
      runtime = await load(fixture().dir, { name: 'tiny', version: 1 });
    }, 120_000);
    afterAll(() => runtime?.dispose());

    it('passes its smoke check after loading, on the backend this thread uses', async () => {
      await expect(runtime.check()).resolves.toBeUndefined();
      expect(runtime.backend).toBe(reference.backend);
      expect(['wasm', 'cpu', 'tensorflow']).toContain(runtime.backend);
      expect([runtime.name, runtime.version]).toEqual(['tiny', 1]);
    });

    it('predicts exactly what the in-memory model predicts, sentences included (bit for bit)', async () => {
      expect(await runtime.score(probe, { sentences: true })).toEqual(await reference.score(probe, { sentences: true }));
    });

    it('returns nothing for an empty batch', async () => {
      expect(await runtime.score([])).toEqual([]);
    });

    it('answers concurrent calls each with its own reviews, in input order', async () => {
      const slices = [0, 20, 40, 60, 80, 100].map((start) => probe.slice(start, start + 20 - (start % 7)));
      const results = await Promise.all(slices.map((slice) => runtime.score(slice)));
      for (const [i, slice] of slices.entries()) {
        expect(results[i]!.map((p) => p.review_id)).toEqual(slice.map((r) => r.review_id));
        expect(results[i]).toEqual(await reference.score(slice));
      }
    });

    it('MODEL_LOAD_FAILED for a missing directory or truncated weights', async () => {
      await expectCode(load(join(fixture().dir, 'nope'), { name: 'tiny', version: 2 }), 'MODEL_LOAD_FAILED');
      const copy = await corruptCopy(fixture().trained, (dir) => truncate(join(dir, 'text', 'weights.bin'), 10));
      await expectCode(load(copy, { name: 'tiny', version: 3 }), 'MODEL_LOAD_FAILED');
      await rm(copy, { recursive: true, force: true });
    });

    it('MODEL_CHECK_FAILED when the category list does not match the head', async () => {
      const copy = await corruptCopy(fixture().trained, extraCategory);
      const loaded = await load(copy, { name: 'tiny', version: 5 });
      await expectCode(loaded.check(), 'MODEL_CHECK_FAILED');
      loaded.dispose();
      await rm(copy, { recursive: true, force: true });
    });

    it('refuses to score after dispose', async () => {
      const loaded = await load(fixture().dir, { name: 'tiny', version: 6 });
      loaded.dispose();
      await expectCode(loaded.score(probe.slice(0, 2)), 'MODEL_SCORING_FAILED');
    });
  });
}
