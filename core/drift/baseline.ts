/**
 * Reference baselines: per model version, for every monitored value, the histogram of the training
 * data (quantile bin edges for numeric values, counts for categorical ones). The trainer writes one
 * with each version; the drift aggregator bins live values on the same edges and compares.
 * `monitoredValues` is the single definition of what is monitored, used on both sides.
 */
import type { ScoredReview } from '../../schemas/types.js';
import { scoredFeatureEntries } from '../features/scored-features.js';

import { buildEmbeddingBaseline } from './embedding.js';
import { BASELINE_FORMAT_VERSION, type CategoricalBaseline, type FeatureBaseline, type NumericBaseline, type ReferenceBaseline } from '../../schemas/baseline.js';

// The stored shape lives with the schemas (the registry stores it without importing the drift family); its users import it from here.
export { BASELINE_FORMAT_VERSION, type CategoricalBaseline, type FeatureBaseline, type NumericBaseline, type ReferenceBaseline };

/** What one scored review contributes to monitoring. The same shape comes from the trainer's own predictions. */
export type MonitoredInput = Pick<
  ScoredReview,
  'rating' | 'helpful_votes' | 'verified' | 'category' | 'features' | 'feature_values' | 'sentiment' | 'confidence' | 'outlier_score' | 'shift_score' | 'embedding'
>;

export const CATEGORICAL_MONITORED = ['rating', 'verified', 'category', 'prediction.sentiment'] as const;

/** Monitored value name -> value. Numeric features are prefixed `feature.`; null values are `'(null)'` / skipped. */
export function monitoredValues(input: MonitoredInput): { numeric: Record<string, number>; categorical: Record<string, string> } {
  const numeric: Record<string, number> = {};
  // v5 events carry the values in feature order (map empty), older ones the map: both name the same values.
  for (const [name, value] of scoredFeatureEntries(input)) numeric[`feature.${name}`] = value;
  if (input.helpful_votes !== null) numeric['helpful_votes'] = input.helpful_votes;
  numeric['prediction.confidence'] = input.confidence;
  numeric['prediction.outlier_score'] = input.outlier_score;
  numeric['prediction.shift_score'] = input.shift_score;
  const categorical: Record<string, string> = {
    rating: String(input.rating),
    verified: input.verified === null ? '(null)' : String(input.verified),
    category: input.category ?? '(null)',
    'prediction.sentiment': input.sentiment,
  };
  return { numeric, categorical };
}

// ---------------------------------------------------------------------------------------------
// Building a baseline (the trainer, from its own predictions on the training rows)

/**
 * Equal-mass bins per numeric value. 256 keeps every reference bin near 0.4 % of the mass, so KS read at
 * the edges is within about that of the raw-data value, and the per-bin sums make Wasserstein exact up to
 * the bins where the CDFs cross (docs/drift.md, "Precision"); PSI, JS and KL still read ten coarse groups
 * of these bins (coarseDistribution in distribution.ts). Was 10 before baselines stored per-bin sums.
 */
export const DEFAULT_NUMERIC_BINS = 256;

/**
 * Widest bin, as a share of the reference range: equal-width edges at every 1/WIDTH_BINS of [min, max]
 * are added to the quantile edges. Equal-mass bins get very wide in long tails (helpful votes: the last
 * bin spans most of the range), and where the two CDFs cross inside a bin only a bound of Wasserstein is
 * known; capping the width caps that error. Tail bins are mostly empty, so they cost almost nothing.
 */
export const WIDTH_BINS = 64;
const MAX_CATEGORIES = 50;

/** Bin index of `value` for inner edges `edges`: (-inf, e0] is 0, (e_{k-1}, +inf) is k. */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]!) hi = mid; // lo <= mid < hi <= edges.length
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Equal-mass bin edges that respect ties: each edge is placed at the value that closes a bin of
 * (remaining values / remaining bins), moved up to the end of its run of equal values. After a heavy tie
 * (a ratio that is 0 for 90 % of reviews) the remaining bins are spread over the remaining values instead
 * of being lost to deduplication, so zero-inflated features keep fine bins where their values vary.
 * Then the range's ends and the WIDTH_BINS equal-width edges are added (see WIDTH_BINS and below).
 */
export function quantileEdges(sorted: Float64Array, bins: number): number[] {
  const edges: number[] = [];
  const n = sorted.length;
  const low = sorted[0];
  const high = sorted[n - 1];
  if (low === undefined || high === undefined) return edges; // no values, no edges
  let start = 0;
  while (start < n && edges.length < bins - 1) {
    const target = Math.ceil((n - start) / (bins - edges.length));
    let end = Math.min(n - 1, start + target - 1);
    const edge = sorted[end]!; // start <= end <= n - 1
    if (!(edge < high)) break; // the maximum is added below
    while (end + 1 < n && sorted[end + 1] === edge) end++;
    edges.push(edge);
    start = end + 1;
  }
  const step = (high - low) / WIDTH_BINS;
  // The minimum and maximum are edges too, and the double just below the minimum: (-inf, below min] and
  // (max, +inf) are then the reference's empty "outside its range" bins, so mass arriving outside the range
  // is told apart from mass at its ends (a constant reference gets two edges instead of none).
  const withWidth = [...edges, nextDown(low), low, high];
  if (high > low) for (let k = 1; k < WIDTH_BINS; k++) withWidth.push(low + k * step);
  withWidth.sort((a, b) => a - b);
  return withWidth.filter((edge, i) => i === 0 || edge > withWidth[i - 1]!);
}

/** The largest double below `x` (finite x). */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const bits = new BigInt64Array(Float64Array.of(x).buffer);
  bits[0]! += x > 0 ? -1n : 1n;
  return new Float64Array(bits.buffer)[0]!;
}

/** Quantile bin edges (tie-aware, width-capped: see quantileEdges), per-bin counts and sums, and the moments. */
export function buildNumericBaseline(values: readonly number[], bins = DEFAULT_NUMERIC_BINS): NumericBaseline {
  const finite = values.filter(Number.isFinite);
  const sorted = Float64Array.from(finite).sort();
  const edges = quantileEdges(sorted, bins);
  const counts = new Array<number>(edges.length + 1).fill(0);
  const sums = new Array<number>(edges.length + 1).fill(0);
  let sum = 0;
  let sumSquares = 0;
  for (const v of sorted) {
    const bin = binIndex(edges, v); // in [0, edges.length]: counts and sums have edges.length + 1 entries
    counts[bin]!++;
    sums[bin]! += v;
    sum += v;
    sumSquares += v * v;
  }
  const n = sorted.length;
  const mean = n === 0 ? 0 : sum / n;
  return {
    kind: 'numeric',
    edges,
    counts,
    total: n,
    mean,
    min: sorted[0] ?? 0,
    max: sorted[n - 1] ?? 0,
    sums,
    std: n === 0 ? 0 : Math.sqrt(Math.max(0, sumSquares / n - mean * mean)),
  };
}

export function buildCategoricalBaseline(values: readonly string[], maxCategories = MAX_CATEGORIES): CategoricalBaseline {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const kept = ranked.slice(0, maxCategories);
  const other = ranked.slice(maxCategories).reduce((n, [, c]) => n + c, 0);
  return { kind: 'categorical', categories: kept.map(([c]) => c), counts: kept.map(([, c]) => c), other, total: values.length };
}

export interface BaselineMeta {
  modelName: string;
  modelVersion: number;
  reference: ReferenceBaseline['reference'];
  createdAtMs?: number;
  bins?: number;
}

/** The reference histogram of every monitored value, from the training rows' own predictions. */
export function buildReferenceBaseline(inputs: readonly MonitoredInput[], meta: BaselineMeta): ReferenceBaseline {
  const numeric = new Map<string, number[]>();
  const categorical = new Map<string, string[]>();
  for (const input of inputs) {
    const values = monitoredValues(input);
    for (const [name, v] of Object.entries(values.numeric)) {
      let list = numeric.get(name);
      if (!list) numeric.set(name, (list = []));
      list.push(v);
    }
    for (const [name, v] of Object.entries(values.categorical)) {
      let list = categorical.get(name);
      if (!list) categorical.set(name, (list = []));
      list.push(v);
    }
  }
  const features: Record<string, FeatureBaseline> = {};
  for (const name of [...numeric.keys()].sort()) features[name] = buildNumericBaseline(numeric.get(name)!, meta.bins);
  for (const name of [...categorical.keys()].sort()) features[name] = buildCategoricalBaseline(categorical.get(name)!);
  const embedding = buildEmbeddingBaseline(inputs.map((input) => input.embedding));
  return {
    ...(embedding ? { embedding } : {}),
    formatVersion: BASELINE_FORMAT_VERSION,
    modelName: meta.modelName,
    modelVersion: meta.modelVersion,
    createdAtMs: meta.createdAtMs ?? Date.now(),
    rows: inputs.length,
    features,
    reference: meta.reference,
  };
}
