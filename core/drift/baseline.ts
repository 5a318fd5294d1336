/**
 * Reference baselines: per model version, for every monitored value, the histogram of the training
 * data (quantile bin edges for numeric values, counts for categorical ones). The trainer writes one
 * with each version; the drift aggregator bins live values on the same edges and compares.
 * `monitoredValues` is the single definition of what is monitored, used on both sides.
 */
import type { ScoredReview } from '../../schemas/types.js';

import { BASELINE_FORMAT_VERSION, type CategoricalBaseline, type FeatureBaseline, type NumericBaseline, type ReferenceBaseline } from '../../schemas/baseline.js';

// The stored shape lives with the schemas (the registry stores it without importing the drift family); its users import it from here.
export { BASELINE_FORMAT_VERSION, type CategoricalBaseline, type FeatureBaseline, type NumericBaseline, type ReferenceBaseline };

/** What one scored review contributes to monitoring. The same shape comes from the trainer's own predictions. */
export type MonitoredInput = Pick<
  ScoredReview,
  'rating' | 'helpful_votes' | 'verified' | 'category' | 'features' | 'sentiment' | 'confidence' | 'outlier_score' | 'shift_score'
>;

export const CATEGORICAL_MONITORED = ['rating', 'verified', 'category', 'prediction.sentiment'] as const;

/** Monitored value name -> value. Numeric features are prefixed `feature.`; null values are `'(null)'` / skipped. */
export function monitoredValues(input: MonitoredInput): { numeric: Record<string, number>; categorical: Record<string, string> } {
  const numeric: Record<string, number> = {};
  for (const [name, value] of Object.entries(input.features)) numeric[`feature.${name}`] = value;
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

const DEFAULT_BINS = 10;
const MAX_CATEGORIES = 50;

/** Bin index of `value` for inner edges `edges`: (-inf, e0] is 0, (e_{k-1}, +inf) is k. */
export function binIndex(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Quantile bin edges (deduplicated, so heavily tied values such as all-zero ratios give fewer bins). */
export function buildNumericBaseline(values: readonly number[], bins = DEFAULT_BINS): NumericBaseline {
  const finite = values.filter(Number.isFinite);
  const sorted = Float64Array.from(finite).sort();
  const edges: number[] = [];
  for (let q = 1; q < bins && sorted.length > 0; q++) {
    const edge = sorted[Math.min(sorted.length - 1, Math.floor((q * sorted.length) / bins))];
    // The top edge equal to the maximum would leave the last bin empty; skip it.
    if ((edges.length === 0 || edge > edges[edges.length - 1]) && edge < sorted[sorted.length - 1]) edges.push(edge);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  let sum = 0;
  for (const v of sorted) {
    counts[binIndex(edges, v)]++;
    sum += v;
  }
  return {
    kind: 'numeric',
    edges,
    counts,
    total: sorted.length,
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
    min: sorted.length === 0 ? 0 : sorted[0],
    max: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
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
  return {
    formatVersion: BASELINE_FORMAT_VERSION,
    modelName: meta.modelName,
    modelVersion: meta.modelVersion,
    createdAtMs: meta.createdAtMs ?? Date.now(),
    rows: inputs.length,
    features,
    reference: meta.reference,
  };
}
