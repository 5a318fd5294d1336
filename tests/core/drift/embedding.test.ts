/**
 * Embedding drift (core/drift/embedding.ts): on the shipped model's own review representation, a window
 * whose text comes from one unusual category (book reviews, ~4 % of the training mix) is red with a tiny
 * p-value, while windows drawn from the same reviews as the reference are green with unremarkable
 * p-values; on synthetic vectors the χ² p-value holds its level and the noise-corrected MMD stays near 0.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDriftThresholds } from '../../../core/drift/config.js';
import { buildEmbeddingBaseline, embeddingDrift, embeddingSketchFor, EMBEDDING_FEATURE, type EmbeddingBaseline } from '../../../core/drift/embedding.js';
import { assessWindow } from '../../../core/drift/evaluate.js';
import type { ReferenceBaseline } from '../../../core/drift/baseline.js';
import { classify } from '../../../core/drift/status.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { repoPath, SHIPPED_REVIEWS } from '../../../core/paths.js';
import type { EmbeddingState } from '../../../core/sketch/embedding.js';
import { loadLabeledJsonl, type LabeledReview } from '../../../trainer/data.js';
import { scoreAll } from '../../../trainer/evaluate.js';
import { seededNormal } from './random.js';

const WINDOW = 300;
const thresholds = defaultDriftThresholds();

function stateOf(reference: EmbeddingBaseline, vectors: ReadonlyArray<readonly number[]>): EmbeddingState {
  const sketch = embeddingSketchFor(reference);
  return vectors.reduce((state, vector) => sketch.add(state, vector), sketch.zero());
}

function status(reference: EmbeddingBaseline, vectors: ReadonlyArray<readonly number[]>) {
  const result = embeddingDrift(reference, stateOf(reference, vectors));
  const threshold = thresholds.metrics.embedding_mmd;
  return { ...result, status: classify(result.effect, threshold, { adjustedPValue: result.pValue ?? 1, alpha: thresholds.alpha }).status };
}

const hashed = (id: string): number => createHash('sha1').update(id).digest().readUInt32BE(0) / 2 ** 32;

describe('embedding drift on the shipped model', () => {
  let reference: EmbeddingBaseline;
  let sameWindows: number[][][];
  let books: number[][];

  beforeAll(async () => {
    const all = (await loadLabeledJsonl([repoPath(SHIPPED_REVIEWS)])).rows;
    // The reference and the same-distribution windows: disjoint random parts of the training mix.
    // The file is grouped by source: order by another hash so every slice is a random draw of the mix.
    const mix = all.filter((row) => hashed(row.review_id) < 0.08).sort((x, y) => hashed(`${x.review_id}#`) - hashed(`${y.review_id}#`));
    const bookRows = all.filter((row) => row.category === 'Books').slice(0, WINDOW);
    const runtime = await loadModelRuntime(repoPath('models/default'), { name: 'reviews', version: 1 });
    const embed = async (rows: LabeledReview[]) => (await scoreAll(runtime, rows)).map((p) => p.embedding!);
    try {
      const mixVectors = await embed(mix);
      const split = Math.floor(mixVectors.length * 0.6);
      reference = buildEmbeddingBaseline(mixVectors.slice(0, split))!;
      const rest = mixVectors.slice(split);
      sameWindows = [0, 1, 2].map((k) => rest.slice(k * WINDOW, (k + 1) * WINDOW));
      books = await embed(bookRows);
    } finally {
      runtime.dispose();
    }
  }, 300_000);

  it('carries the model representation in every prediction and has a large enough reference', () => {
    expect(reference.dims).toBe(16);
    expect(reference.count).toBeGreaterThan(1_000);
    expect(sameWindows.every((w) => w.length === WINDOW)).toBe(true);
    expect(books.length).toBe(WINDOW);
  });

  it('windows from the reference distribution stay green with unremarkable p-values', () => {
    for (const window of sameWindows) {
      const result = status(reference, window);
      expect(result.status).toBe('green');
      expect(result.pValue!).toBeGreaterThan(0.001);
      expect(result.effect).toBeLessThan(thresholds.metrics.embedding_mmd.amber);
    }
  });

  it('a window of book reviews only is red, far beyond its noise', () => {
    const result = status(reference, books);
    expect(result.status).toBe('red');
    expect(result.pValue!).toBeLessThan(1e-6);
    const same = status(reference, sameWindows[0]!);
    expect(result.effect).toBeGreaterThan(3 * thresholds.metrics.embedding_mmd.red);
    expect(result.value).toBeGreaterThan(2 * same.value);
  });

  it('is a drift row of assessWindow when the baseline has an embedding reference', () => {
    const baseline = { formatVersion: 1, modelName: 'm', modelVersion: 1, createdAtMs: 0, rows: reference.count, features: {}, reference: { accuracy: 0.9, macroF1: 0.8, meanConfidence: 0.8, outlierRate: 0.01 }, embedding: reference } satisfies ReferenceBaseline;
    const assessments = assessWindow(baseline, { numeric: {}, categorical: {}, embedding: stateOf(reference, books) }, thresholds);
    const row = assessments.find((a) => a.feature === EMBEDDING_FEATURE);
    expect(row?.metric).toBe('embedding_mmd');
    expect(row?.rawStatus).toBe('red');
    expect(row?.pValueAdjusted).not.toBeNull();
    const none = assessWindow({ ...baseline, embedding: undefined }, { numeric: {}, categorical: {}, embedding: stateOf(reference, books) }, thresholds);
    expect(none.some((a) => a.feature === EMBEDDING_FEATURE)).toBe(false);
  });
});

describe('embedding drift on synthetic vectors', () => {
  const normal = seededNormal(5, 0, 1);
  const vectors = (count: number, shift = 0) => Array.from({ length: count }, () => Array.from({ length: 8 }, (_, d) => normal() + (d < 2 ? shift : 0)));
  const reference = buildEmbeddingBaseline(vectors(4_000))!;

  it('rejects at about its level when both samples share a distribution, and its effect stays near 0', () => {
    const pValues = Array.from({ length: 200 }, () => embeddingDrift(reference, stateOf(reference, vectors(WINDOW))).pValue!);
    const rejected = pValues.filter((p) => p < 0.01).length / pValues.length;
    expect(rejected).toBeLessThan(0.04);
    // Not stuck at 1 either: about half the p-values lie below 0.5.
    expect(pValues.filter((p) => p < 0.5).length).toBeGreaterThan(60);
    const effects = Array.from({ length: 20 }, () => embeddingDrift(reference, stateOf(reference, vectors(WINDOW))).effect);
    expect(Math.max(...effects)).toBeLessThan(thresholds.metrics.embedding_mmd.amber);
  });

  it('finds a half-sigma shift of two of eight dimensions', () => {
    const result = embeddingDrift(reference, stateOf(reference, vectors(WINDOW, 0.5)));
    expect(result.pValue!).toBeLessThan(1e-4);
  });

  it('is mergeable: the metric of two half windows merged equals the whole window\'s', () => {
    const sketch = embeddingSketchFor(reference);
    const window = vectors(WINDOW, 0.2);
    const merged = sketch.merge(stateOf(reference, window.slice(0, 100)), stateOf(reference, window.slice(100)));
    expect(embeddingDrift(reference, merged).value).toBeCloseTo(embeddingDrift(reference, stateOf(reference, window)).value, 12);
  });
});
