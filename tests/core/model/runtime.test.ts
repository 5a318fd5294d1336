import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { featureMap, featurizeBatch } from '../../../core/features/featurizer.js';
import { ARTIFACT_FILES, MANIFEST_FILE, writeModelArtifacts } from '../../../core/model/artifacts.js';
import { createModelRuntime, loadModelRuntime, splitSentences } from '../../../core/model/runtime.js';
import { createWideScratch, wideProbabilities } from '../../../core/model/wide-scoring.js';
import { loadTf } from '../../../core/model/tf.js';
import type { ModelRuntime } from '../../../core/model/types.js';
import { makeAnomaly } from '../../../trainer/evaluate.js';
import type { TrainResult } from '../../../trainer/train.js';
import { seededRandom } from '../../../core/model/prng.js';
import { trainTiny } from '../../trainer/fixtures.js';
import { describeRuntimeConformance, expectCode, probe } from './runtime-conformance.js';

let trained: TrainResult;
let dir: string;
let loaded: ModelRuntime;

async function copyArtifacts(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'driftline-model-copy-'));
  await writeModelArtifacts(trained.bundle, copy);
  return copy;
}

beforeAll(async () => {
  trained = await trainTiny();
  dir = await mkdtemp(join(tmpdir(), 'driftline-model-'));
  await writeModelArtifacts(trained.bundle, dir);
  loaded = await loadModelRuntime(dir, { name: 'tiny', version: 1 });
}, 120_000);

afterAll(async () => {
  loaded?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Smoke check, bit-for-bit round trip, empty batch, concurrent calls, load/check failures, dispose.
describeRuntimeConformance('main-thread runtime (loadModelRuntime)', loadModelRuntime, () => ({ trained, dir }));

describe('model runtime round trip', () => {
  it('writes every artifact file', async () => {
    for (const file of ARTIFACT_FILES) expect((await readFile(join(dir, file))).byteLength).toBeGreaterThan(0);
  });

  it('serves the same numeric features as the training path (no skew)', async () => {
    const predictions = await loaded.score(probe);
    const batch = featurizeBatch(probe, trained.bundle.featurizer);
    predictions.forEach((p, r) => expect(p.features).toEqual(featureMap(batch, r)));
  });

  it('gives the same prediction for a review alone and inside a batch', async () => {
    const batch = await loaded.score(probe.slice(0, 40));
    const alone = await loaded.score([probe[17]!]);
    expect(alone[0]!.sentiment).toBe(batch[17]!.sentiment);
    expect(alone[0]!.features).toEqual(batch[17]!.features);
    for (const k of ['negative', 'neutral', 'positive'] as const) expect(alone[0]!.probabilities[k]).toBeCloseTo(batch[17]!.probabilities[k], 5);
  });

  it('learns the synthetic sentiment well above chance', async () => {
    const predictions = await loaded.score(probe);
    const label = (rating: number) => (rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive');
    const correct = predictions.filter((p, i) => p.sentiment === label(probe[i]!.rating)).length;
    expect(correct / probe.length).toBeGreaterThan(0.8);
  });
});

describe('scores', () => {
  it('keeps outlier and shift scores in [0, 1], probabilities summing to 1', async () => {
    for (const p of await loaded.score(probe)) {
      expect(p.outlierScore).toBeGreaterThanOrEqual(0);
      expect(p.outlierScore).toBeLessThanOrEqual(1);
      expect(p.shiftScore).toBeGreaterThanOrEqual(0);
      expect(p.shiftScore).toBeLessThanOrEqual(1);
      expect(p.probabilities.negative + p.probabilities.neutral + p.probabilities.positive).toBeCloseTo(1, 5);
      expect(p.confidence).toBe(Math.max(p.probabilities.negative, p.probabilities.neutral, p.probabilities.positive));
    }
  });

  it('scores injected anomalies higher than normal reviews', async () => {
    const random = seededRandom(5);
    const anomalies = Array.from({ length: 40 }, (_, i) => makeAnomaly(i % 2 === 0 ? 'gibberish' : 'foreign', probe[i]!, random, i));
    const normal = await loaded.score(probe);
    const odd = await loaded.score(anomalies);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(odd.map((p) => p.outlierScore))).toBeGreaterThan(mean(normal.map((p) => p.outlierScore)) + 0.2);
    expect(mean(odd.map((p) => p.shiftScore))).toBeGreaterThan(mean(normal.map((p) => p.shiftScore)));
  });

  it('flags rating/text disagreement only when the rating is known', async () => {
    const text = 'terrible awful broke refund worst waste useless disappointed';
    const [withRating, withoutRating, consistent] = await loaded.score([
      { review_id: 'a', text, rating: 5 },
      { review_id: 'b', text, rating: null },
      { review_id: 'c', text, rating: 1 },
    ]);
    expect(withRating!.sentiment).toBe('negative');
    expect(withRating!.ratingTextDisagreement).toBe(withRating!.probabilities.negative >= 0.7);
    expect(withoutRating!.ratingTextDisagreement).toBe(false);
    expect(consistent!.ratingTextDisagreement).toBe(false);
  });

  it('scores sentences with the same model when asked', async () => {
    const [p] = await loaded.score([{ review_id: 's', text: 'The pan is perfect and I love it. But the kettle broke, awful! Okay.' }], { sentences: true });
    expect(p!.sentences?.map((s) => s.text)).toEqual(['The pan is perfect and I love it.', 'But the kettle broke, awful!', 'Okay.']);
    const [plain] = await loaded.score([{ review_id: 's', text: 'The pan is perfect and I love it.' }]);
    expect(p!.sentences?.[0]!.probabilities).toEqual(plain!.probabilities);
    expect(splitSentences('One. Two!  Three?\nFour', 2)).toEqual(['One.', 'Two!']);
  });
});

describe('load failures', () => {
  it('MODEL_LOAD_FAILED for a missing directory or file', async () => {
    await expectCode(loadModelRuntime(join(dir, 'nope'), { name: 'tiny', version: 2 }), 'MODEL_LOAD_FAILED');
    const copy = await copyArtifacts();
    await unlink(join(copy, 'featurizer.json'));
    await expectCode(loadModelRuntime(copy, { name: 'tiny', version: 2 }), 'MODEL_LOAD_FAILED');
    await rm(copy, { recursive: true, force: true });
  });

  it('MODEL_LOAD_FAILED for truncated weights, corrupt JSON and unknown formats', async () => {
    const corruptions: Array<(copy: string) => Promise<void>> = [
      (copy) => truncate(join(copy, 'text', 'weights.bin'), 10),
      (copy) => truncate(join(copy, 'embedding', 'weights.bin'), 100),
      (copy) => writeFile(join(copy, 'outlier.json'), '{"forest": '),
      (copy) => writeFile(join(copy, 'autoencoder', 'model.json'), JSON.stringify({ modelTopology: null })),
      async (copy) => {
        const manifest = JSON.parse(await readFile(join(copy, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
        await writeFile(join(copy, MANIFEST_FILE), JSON.stringify({ ...manifest, formatVersion: 42 }));
      },
      (copy) => truncate(join(copy, 'wide', 'weights.bin'), 64),
      (copy) => unlink(join(copy, 'wide', 'model.json')),
      async (copy) => {
        const manifest = JSON.parse(await readFile(join(copy, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
        await writeFile(join(copy, MANIFEST_FILE), JSON.stringify({ ...manifest, blend: { wideWeight: 2, logOffsets: [0, 0, 0] } }));
      },
    ];
    for (const corrupt of corruptions) {
      const copy = await copyArtifacts();
      await corrupt(copy);
      await expectCode(loadModelRuntime(copy, { name: 'tiny', version: 3 }), 'MODEL_LOAD_FAILED');
      await rm(copy, { recursive: true, force: true });
    }
  });
});

describe('model format versions', () => {
  it('refuses a format-1 model (no wide part) with MODEL_LOAD_FAILED naming the version', async () => {
    const copy = await copyArtifacts();
    const manifest = JSON.parse(await readFile(join(copy, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
    const { blend: _blend, ...formatOne }: Record<string, unknown> = { ...manifest, formatVersion: 1 };
    await writeFile(join(copy, MANIFEST_FILE), JSON.stringify(formatOne));
    await rm(join(copy, 'wide'), { recursive: true, force: true });
    await expect(loadModelRuntime(copy, { name: 'tiny', version: 7 })).rejects.toSatisfy(
      (err: unknown) => err instanceof DriftlineError && err.code === 'MODEL_LOAD_FAILED' && /formatVersion 1/.test(err.message),
    );
    await rm(copy, { recursive: true, force: true });
  });
});

describe('wide part', () => {
  it('blends the wide probabilities into the sentiment: another wide weight gives other probabilities', async () => {
    const { tf, backend } = await loadTf();
    const { blend } = trained.bundle.manifest;
    const score = async (wideWeight: number) => {
      const bundle = { ...trained.bundle, manifest: { ...trained.bundle.manifest, blend: { ...blend, wideWeight } } };
      return createModelRuntime(tf, backend, bundle, { name: 'tiny', version: 1 }).score(probe.slice(0, 20));
    };
    const [deepOnly, wideOnly, half] = await Promise.all([score(0), score(1), score(0.5)]);
    const offsets = blend.logOffsets.map(Math.exp);
    // With offsets undone and renormalised, the 0.5 blend is the mean of the pure deep and pure wide probabilities.
    const undo = (p: Record<'negative' | 'neutral' | 'positive', number>) => {
      const raw = [p.negative / offsets[0]!, p.neutral / offsets[1]!, p.positive / offsets[2]!];
      const sum = raw[0]! + raw[1]! + raw[2]!;
      return raw.map((x) => x / sum);
    };
    for (let i = 0; i < 20; i++) {
      const d = undo(deepOnly[i]!.probabilities);
      const w = undo(wideOnly[i]!.probabilities);
      const h = undo(half[i]!.probabilities);
      for (let c = 0; c < 3; c++) expect(h[c]).toBeCloseTo((d[c]! + w[c]!) / 2, 5);
    }
    expect(deepOnly.some((p, i) => Math.abs(p.probabilities.positive - wideOnly[i]!.probabilities.positive) > 1e-3)).toBe(true);
  });

  it('gives the same wide probabilities for a review alone and inside a batch (per-row sparse vectors)', async () => {
    const scratch = createWideScratch(trained.bundle.featurizer.buckets);
    const batch = featurizeBatch(probe.slice(0, 30), trained.bundle.featurizer);
    const together = wideProbabilities(batch, trained.bundle.wide, scratch);
    for (const r of [0, 13, 29]) {
      const alone = wideProbabilities(featurizeBatch([probe[r]!], trained.bundle.featurizer), trained.bundle.wide, scratch);
      for (let c = 0; c < 3; c++) expect(alone[c]).toBeCloseTo(together[r * 3 + c]!, 6);
    }
  });
});

describe('smoke check', () => {
  it('MODEL_CHECK_FAILED when the weights produce NaN', async () => {
    const copy = await copyArtifacts();
    const runtime = await loadModelRuntime(copy, { name: 'tiny', version: 4 });
    const { tf } = await loadTf();
    const weights = JSON.parse(await readFile(join(copy, 'text', 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ shape: number[] }> }> };
    // Poison the loaded head through the tfjs weights (what a corrupt-but-well-sized file would do).
    const bundleHead = (runtime as unknown as { bundle: { head: { setWeights(w: unknown[]): void } } }).bundle.head;
    bundleHead.setWeights(weights.weightsManifest[0]!.weights.map((w) => tf.fill(w.shape, Number.NaN)));
    await expectCode(runtime.check(), 'MODEL_CHECK_FAILED');
    runtime.dispose();
    await rm(copy, { recursive: true, force: true });
  });

});
