/**
 * Embedding drift: how far a window's distribution of the model's own review representation (its
 * standardised pooled embedding, carried in the scored event as `embedding`) is from the reference's.
 *
 * Both sides are summarised by the mean of D random Fourier features of the representation
 * (core/sketch/embedding.ts), i.e. their Gaussian-kernel mean embeddings, so the distance between the two
 * means is the maximum mean discrepancy (MMD) of that kernel, computed in linear time from mergeable sums:
 * - value: MMD = |Δ|, Δ = mean z(current) - mean z(reference);
 * - effect (what the thresholds see): the MMD with its sampling noise taken out,
 *   √max(0, |Δ|² - tr(Σ)·(1/n + 1/m)), Σ the reference covariance of z (|Δ|² of two samples of one
 *   distribution is tr(Σ)·(1/n + 1/m) on average), so same-distribution windows read ~0 at any size;
 * - p-value, permutation-free: T = Δᵀ [Σ·(1/n + 1/m)]⁻¹ Δ is asymptotically χ² with D degrees of freedom
 *   when both samples come from one distribution (Hotelling's statistic with the reference covariance);
 *   Σ gets a small ridge (1e-6 of its mean variance) since random features can be nearly collinear.
 */
import type { EmbeddingBaseline } from '../../schemas/baseline.js';
import { EmbeddingSketch, type EmbeddingFeatures, type EmbeddingState } from '../sketch/embedding.js';
import { seededRandom } from '../model/prng.js';
import { chiSquareSurvival } from './stats.js';
import type { MetricResult } from './types.js';

export type { EmbeddingBaseline };

/** Feature name of the embedding-drift row (like MODEL_FEATURE for the model-level metrics). */
export const EMBEDDING_FEATURE = '__embedding__';
export const EMBEDDING_METRIC = 'embedding_mmd';
/** Random features: 32 keep the per-window Redis hash small and the χ² test well-conditioned at 200+ reviews. */
export const EMBEDDING_FEATURES = 32;
export const EMBEDDING_SEED = 0x2026_1206;
/** Pairs of reference rows the median-distance bandwidth is taken from. */
const BANDWIDTH_PAIRS = 2_000;

export function embeddingSketchFor(baseline: EmbeddingBaseline): EmbeddingSketch {
  return new EmbeddingSketch({ dims: baseline.dims, features: baseline.features, seed: baseline.seed, bandwidth: baseline.bandwidth });
}

/** Median distance between random pairs of rows (the usual kernel bandwidth heuristic); 1 when degenerate. */
export function medianDistance(vectors: readonly (readonly number[])[], seed = EMBEDDING_SEED): number {
  const random = seededRandom(seed);
  const distances: number[] = [];
  for (let k = 0; k < BANDWIDTH_PAIRS && vectors.length >= 2; k++) {
    const a = vectors[Math.floor(random() * vectors.length)]!;
    const b = vectors[Math.floor(random() * vectors.length)]!;
    let sq = 0;
    for (let d = 0; d < a.length; d++) sq += (a[d]! - b[d]!) ** 2;
    if (sq > 0) distances.push(Math.sqrt(sq));
  }
  if (distances.length === 0) return 1;
  distances.sort((x, y) => x - y);
  return distances[Math.floor(distances.length / 2)]!;
}

/** The reference of a set of representations (rows without one are skipped); undefined when there are none. */
export function buildEmbeddingBaseline(vectors: ReadonlyArray<readonly number[] | null | undefined>, features: Partial<EmbeddingFeatures> = {}): EmbeddingBaseline | undefined {
  const usable = vectors.filter((v): v is readonly number[] => Array.isArray(v) && v.length > 0);
  if (usable.length === 0) return undefined;
  const config: EmbeddingFeatures = {
    dims: features.dims ?? usable[0]!.length,
    features: features.features ?? EMBEDDING_FEATURES,
    seed: features.seed ?? EMBEDDING_SEED,
    bandwidth: features.bandwidth ?? medianDistance(usable),
  };
  return embeddingBaselineWith(config, usable);
}

/** The reference on given random features (a segment uses the global one's, so its windows share one sketch). */
export function embeddingBaselineWith(features: EmbeddingFeatures, vectors: ReadonlyArray<readonly number[] | null | undefined>): EmbeddingBaseline | undefined {
  const config: EmbeddingFeatures = { dims: features.dims, features: features.features, seed: features.seed, bandwidth: features.bandwidth };
  const sketch = new EmbeddingSketch(config);
  const D = config.features;
  const mean = new Float64Array(D);
  const second = new Float64Array(D * D);
  const z = new Float64Array(D);
  let count = 0;
  for (const vector of vectors) {
    if (!sketch.project(vector, z)) continue;
    count++;
    for (let i = 0; i < D; i++) {
      mean[i]! += z[i]!;
      for (let j = i; j < D; j++) second[i * D + j]! += z[i]! * z[j]!;
    }
  }
  if (count === 0) return undefined;
  for (let i = 0; i < D; i++) mean[i]! /= count;
  const covariance = new Array<number>(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = i; j < D; j++) {
      const c = second[i * D + j]! / count - mean[i]! * mean[j]!;
      covariance[i * D + j] = c;
      covariance[j * D + i] = c;
    }
  }
  return { ...config, count, mean: Array.from(mean), covariance };
}

/** Solves (A) x = b for symmetric positive definite A (n × n, row-major) by Cholesky; null when A is not. */
function choleskySolve(a: readonly number[], b: readonly number[], n: number): number[] | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return null;
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const x = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/** The embedding-drift metric of a window against its reference (see the module comment). */
export function embeddingDrift(reference: EmbeddingBaseline, current: EmbeddingState): MetricResult {
  const n = reference.count;
  const m = current.count;
  const D = reference.features;
  if (n === 0 || m === 0 || current.sums.length !== D) return { value: 0, effect: 0, pValue: 1, details: { n, m } };
  const delta = current.sums.map((sum, j) => sum / m - reference.mean[j]!);
  const squared = delta.reduce((acc, d) => acc + d * d, 0);
  let trace = 0;
  for (let j = 0; j < D; j++) trace += reference.covariance[j * D + j]!;
  const factor = 1 / n + 1 / m;
  const ridge = 1e-6 * (trace / D) + 1e-12;
  const scaled = reference.covariance.map((c, k) => factor * (c + (k % (D + 1) === 0 ? ridge : 0)));
  const solved = choleskySolve(scaled, delta, D);
  const statistic = solved ? solved.reduce((acc, x, j) => acc + x * delta[j]!, 0) : Number.NaN;
  const pValue = Number.isFinite(statistic) ? chiSquareSurvival(statistic, D) : 1;
  const value = Math.sqrt(squared);
  const effect = Math.sqrt(Math.max(0, squared - trace * factor));
  return { value, effect, pValue, details: { n, m, statistic: Number.isFinite(statistic) ? statistic : 0, df: D } };
}
