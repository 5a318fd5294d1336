/**
 * Training from a chosen model (issue #14): a run continues from its base version's weights, records it as
 * its parent, and an unknown base is a typed 404. "Continues" is measured: after one epoch on a small new
 * sample, the warm-started model predicts (probability vectors, and labels) much like its parent, a model
 * trained from scratch on the same sample does not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { readModelBundle } from '../../core/model/artifacts.js';
import { ModelForward, loadModelRuntime } from '../../core/model/runtime.js';
import { withoutCategoryBlend } from '../../core/model/text-model.js';
import { loadTf } from '../../core/model/tf.js';
import type { Prediction } from '../../core/model/types.js';
import { AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines } from '../../core/paths.js';
import { toReview } from '../../trainer/data.js';
import { runTrainingJob, type TrainingReport } from '../../trainer/pipeline.js';
import { openRunStore, runsDirFor } from '../../trainer/runs/store.js';
import { TINY_PARAMS, syntheticReviews } from './fixtures.js';

/** Real reviews (the shipped data): a task hard enough that one epoch from scratch is visibly not the parent. */
const REAL = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX).map((line, i) => toReview(JSON.parse(line), `review ${i}`));

let root: string;
let registry: ModelRegistry;
let parent: TrainingReport;
let warm: TrainingReport;
let scratch: TrainingReport;

/** One epoch of each part on a small new sample: what a warm start changes is most visible here. */
const ONE_EPOCH = { epochs: 1, wideEpochs: 1 };
const quiet = (): void => {};

async function predictions(version: number, probe = REAL.slice(3000, 3500)): Promise<Prediction[]> {
  const runtime = await loadModelRuntime(registry.versionDir('tiny', version), { name: 'tiny', version });
  try {
    return await runtime.score(probe);
  } finally {
    runtime.dispose();
  }
}

/**
 * The category head's own argmax per probe review, without the category blend: the served category also goes through
 * a blend weight and offsets re-tuned on every run's validation rows, the head shows the weights most directly.
 */
async function headCategories(version: number, probe = REAL.slice(3000, 3500)): Promise<string[]> {
  const { tf } = await loadTf();
  const bundle = await readModelBundle(tf, registry.versionDir('tiny', version));
  const { categories } = bundle.manifest;
  try {
    const probabilities = new ModelForward(tf, withoutCategoryBlend(bundle)).heads(probe).category;
    const k = categories.length;
    return probe.map((_, r) => {
      const row = Array.from(probabilities.subarray(r * k, (r + 1) * k));
      return categories[row.indexOf(Math.max(...row))]!;
    });
  } finally {
    bundle.head.dispose();
    bundle.autoencoder.dispose();
  }
}

/** Mean L1 distance of the sentiment probability vectors, the share of equal sentiment labels and of equal head categories. */
function closeness(a: Prediction[], b: Prediction[], categoriesA: string[], categoriesB: string[]): { l1: number; agreement: number; categoryAgreement: number } {
  let l1 = 0;
  let same = 0;
  a.forEach((p, i) => {
    const q = b[i]!;
    l1 += Object.keys(p.probabilities).reduce((sum, k) => sum + Math.abs(p.probabilities[k as keyof typeof p.probabilities] - q.probabilities[k as keyof typeof q.probabilities]), 0);
    if (p.sentiment === q.sentiment) same++;
  });
  const sameCategory = categoriesA.filter((c, i) => c === categoriesB[i]).length;
  return { l1: l1 / a.length, agreement: same / a.length, categoryAgreement: sameCategory / categoriesA.length };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-warm-'));
  registry = openRegistry(join(root, 'registry'));
  const common = { registry, name: 'tiny', compareBaseline: false, progress: quiet };
  // No production version yet: the default base falls back to scratch and says so.
  parent = await runTrainingJob({ ...common, rows: REAL.slice(0, 2000), params: TINY_PARAMS, promote: true });
  const small = REAL.slice(2000, 3000);
  warm = await runTrainingJob({ ...common, rows: small, params: ONE_EPOCH });
  scratch = await runTrainingJob({ ...common, rows: small, params: { ...TINY_PARAMS, ...ONE_EPOCH }, base: { version: 'none' } });
}, 300_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('training from a chosen model', () => {
  it('falls back to scratch when there is no production version, and says so', async () => {
    expect(parent.base).toMatchObject({ requested: 'production', parentVersion: null, note: expect.stringContaining('no production version') });
    expect(await registry.get('tiny', parent.version)).toMatchObject({ parent_version: null, parent_model: null });
  });

  it('continues from the production version by default and records it as the parent', async () => {
    expect(warm.base).toMatchObject({ model: 'tiny', requested: 'production', parentVersion: parent.version, note: null });
    expect(await registry.get('tiny', warm.version)).toMatchObject({ parent_model: 'tiny', parent_version: parent.version });
    // The parent's featurizer and architecture are kept (its parameters are the defaults of the run).
    const [parentRecord, warmRecord] = [await registry.get('tiny', parent.version), await registry.get('tiny', warm.version)];
    expect(warmRecord.featurizer).toEqual(parentRecord.featurizer);
    expect(warm.params).toMatchObject({ buckets: TINY_PARAMS.buckets, embeddingDim: TINY_PARAMS.embeddingDim, hidden: TINY_PARAMS.hidden, epochs: 1 });
    // The training run carries the same lineage.
    const runs = openRunStore(runsDirFor(registry.root, {}));
    expect((await runs.get(warm.runId!)).model).toMatchObject({ name: 'tiny', version: warm.version, parentVersion: parent.version });
    expect(scratch.base).toMatchObject({ requested: 'none', parentVersion: null, note: null });
    expect((await registry.get('tiny', scratch.version)).parent_version).toBeNull();
  });

  it('predicts much like its parent after one epoch, where a scratch model does not', async () => {
    const reference = await predictions(parent.version);
    const referenceCategories = await headCategories(parent.version);
    const fromWarm = closeness(await predictions(warm.version), reference, await headCategories(warm.version), referenceCategories);
    const fromScratch = closeness(await predictions(scratch.version), reference, await headCategories(scratch.version), referenceCategories);
    // Measured (1000 new reviews, 500 probes): category agreement 0.92 warm vs 0.01 scratch; sentiment L1 0.070 vs 0.097.
    // The category head shows the weights directly; the sentiment output is re-calibrated on every run's
    // validation rows (temperatures, blend), which moves both models' probabilities by similar amounts.
    expect(fromWarm.categoryAgreement).toBeGreaterThan(0.8);
    expect(fromScratch.categoryAgreement).toBeLessThan(fromWarm.categoryAgreement - 0.3);
    expect(fromWarm.l1).toBeLessThan(fromScratch.l1);
  });

  it('with rebuildVocabulary, refits the featurizer statistics and category classes but keeps the hashing and the shared classes', async () => {
    const rebuilt = await runTrainingJob({ registry, name: 'tiny', rows: REAL.slice(2000, 3000), params: { ...ONE_EPOCH, categoryMinRows: 60 }, base: { version: parent.version, rebuildVocabulary: true }, compareBaseline: false, progress: quiet });
    expect(rebuilt.base).toMatchObject({ parentVersion: parent.version, rebuildVocabulary: true });
    const [parentRecord, rebuiltRecord] = [await registry.get('tiny', parent.version), await registry.get('tiny', rebuilt.version)];
    const featurizer = (record: typeof parentRecord) => record.featurizer as { buckets: number; hashSeed: number; numeric: { mean: number[] } };
    expect(featurizer(rebuiltRecord).buckets).toBe(featurizer(parentRecord).buckets);
    expect(featurizer(rebuiltRecord).hashSeed).toBe(featurizer(parentRecord).hashSeed);
    expect(featurizer(rebuiltRecord).numeric.mean).not.toEqual(featurizer(parentRecord).numeric.mean);
    // Fewer rows per class than the parent had: other classes; the ones both have keep the parent's weights.
    expect(rebuilt.heldOut.category?.classes).not.toEqual(parent.heldOut.category?.classes);
    const reference = await predictions(parent.version);
    const scored = await predictions(rebuilt.version);
    const shared = new Set(rebuilt.heldOut.category?.classes.filter((c) => parent.heldOut.category?.classes.includes(c) && c !== 'other'));
    const onShared = reference.map((p, i) => [p, scored[i]] as const).filter(([p]) => p.category !== null && shared.has(p.category));
    expect(onShared.length).toBeGreaterThan(100);
    expect(onShared.filter(([p, q]) => p.category === q!.category).length / onShared.length).toBeGreaterThan(0.6);
  });

  it('refuses an unknown base version, and an architecture other than the parent\'s, before training', async () => {
    const unknown = runTrainingJob({ registry, name: 'tiny', rows: syntheticReviews(260, 33), base: { version: 42 }, progress: quiet });
    await expect(unknown).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(unknown).rejects.toBeInstanceOf(DriftlineError);
    const otherModel = runTrainingJob({ registry, name: 'tiny', rows: syntheticReviews(260, 33), base: { model: 'nope', version: 'latest' }, progress: quiet });
    await expect(otherModel).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    const reshaped = runTrainingJob({ registry, name: 'tiny', rows: syntheticReviews(260, 33), params: { embeddingDim: 16 }, progress: quiet });
    await expect(reshaped).rejects.toMatchObject({ code: 'REQUEST_INVALID', field: 'params.embeddingDim' });
    expect((await registry.list('tiny')).length).toBe(4);
  });
});
