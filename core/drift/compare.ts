/**
 * Dataset comparison: are two sets of reviews drawn from the same distribution? No model is needed:
 * each review is reduced to the model-independent monitored values — the featurizer's raw numeric
 * features (`feature.<name>`, the same names the live monitoring uses), helpful votes, and the
 * categorical rating / verified / category — then the reference's quantile bins and category list are
 * built from the reference dataset and both sides go through the same metric and status code as the
 * live windows (assessFeatures). Used by `driftline drift compare` and POST /v1/drift/compare.
 */
import type { DriftStatus } from '../../schemas/types.js';
import { createFeaturizerConfig, featureMap, featurizeBatch } from '../features/featurizer.js';
import type { ReviewInput } from '../review.js';
import { CategoricalCountSketch } from '../sketch/categorical.js';
import { BinnedHistogramSketch } from '../sketch/histogram.js';
import { defaultDriftThresholds, type DriftThresholds } from './config.js';
import { buildNumericBaseline, DEFAULT_NUMERIC_BINS } from './baseline.js';
import { categoricalDistribution, histogramDistribution } from './distribution.js';
import { assessFeatures, featureStatuses, type Assessment, type FeatureComparison } from './evaluate.js';
import { worstStatus } from './status.js';

/** A review as read from a dataset (JSONL line, API item): the model input fields plus the rating. */
export type ReviewRecord = ReviewInput;

export interface CompareOptions {
  /** Equal-mass bins of the reference per numeric feature (default DEFAULT_NUMERIC_BINS, like a model's baseline). */
  bins?: number;
  /** Most frequent reference categories kept per categorical feature; the rest are 'other' (default 50). */
  maxCategories?: number;
  /** Default: the built-in defaults (callers pass loadDriftThresholds() to honour the environment). */
  thresholds?: DriftThresholds;
}

export interface FeatureReport {
  feature: string;
  kind: 'numeric' | 'categorical';
  /** Worst metric status of the feature. */
  status: DriftStatus;
  insufficient: boolean;
  /** Metrics at that status. */
  drivers: string[];
  referenceCount: number;
  currentCount: number;
  /** Values that were missing or invalid (null helpful votes, NaN). */
  referenceMissing: number;
  currentMissing: number;
  metrics: Assessment[];
}

export interface CompareReport {
  referenceCount: number;
  currentCount: number;
  status: DriftStatus;
  features: FeatureReport[];
  settings: { bins: number; maxCategories: number; alpha: number; pAdjust: string; minSamples: number };
}

interface MonitoredColumns {
  numeric: Map<string, Array<number | null>>;
  categorical: Map<string, string[]>;
}

/** The model-independent monitored values, named like the live ones (see core/drift/baseline.ts). */
function monitoredColumns(reviews: readonly ReviewRecord[]): MonitoredColumns {
  const numeric = new Map<string, Array<number | null>>();
  const categorical = new Map<string, string[]>();
  const push = <T>(map: Map<string, T[]>, name: string, value: T): void => {
    const column = map.get(name) ?? [];
    column.push(value);
    map.set(name, column);
  };
  const batch = featurizeBatch(reviews, createFeaturizerConfig());
  reviews.forEach((review, row) => {
    for (const [name, value] of Object.entries(featureMap(batch, row))) push(numeric, `feature.${name}`, value);
    push(numeric, 'helpful_votes', typeof review.helpful_votes === 'number' ? review.helpful_votes : null);
    push(categorical, 'rating', review.rating === null || review.rating === undefined ? '(null)' : String(review.rating));
    push(categorical, 'verified', review.verified === null || review.verified === undefined ? '(null)' : String(review.verified));
    push(categorical, 'category', review.category ?? '(null)');
  });
  return { numeric, categorical };
}

function numericComparison(feature: string, reference: Array<number | null>, current: Array<number | null>, bins: number) {
  const referenceValues = reference.filter((value): value is number => value !== null && Number.isFinite(value));
  // The trainer's own quantile binning, so a dataset comparison bins exactly like a reference baseline.
  const sketch = new BinnedHistogramSketch(buildNumericBaseline(referenceValues, bins).edges);
  const fill = (values: Array<number | null>) => {
    const state = sketch.zero();
    for (const value of values) if (value !== null) sketch.add(state, value);
    return state;
  };
  const referenceState = fill(reference);
  const currentState = fill(current);
  const comparison: FeatureComparison = {
    feature,
    kind: 'numeric',
    reference: histogramDistribution(sketch, referenceState),
    current: histogramDistribution(sketch, currentState),
  };
  return { comparison, referenceMissing: reference.length - referenceState.count, currentMissing: current.length - currentState.count };
}

/** Most frequent first, ties by name, so the category order is deterministic. */
function rankCategories(values: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([value]) => value);
}

function categoricalComparison(feature: string, reference: string[], current: string[], maxCategories: number) {
  const ranked = rankCategories(reference);
  const sketch = new CategoricalCountSketch(ranked.slice(0, maxCategories), { otherValues: ranked.slice(maxCategories) });
  const fill = (values: string[]) => values.reduce((state, value) => sketch.add(state, value), sketch.zero());
  const comparison: FeatureComparison = {
    feature,
    kind: 'categorical',
    reference: categoricalDistribution(sketch, fill(reference)),
    current: categoricalDistribution(sketch, fill(current)),
  };
  return { comparison, referenceMissing: 0, currentMissing: 0 };
}

export function compareDatasets(reference: readonly ReviewRecord[], current: readonly ReviewRecord[], options: CompareOptions = {}): CompareReport {
  const bins = Math.max(2, Math.floor(options.bins ?? DEFAULT_NUMERIC_BINS));
  const maxCategories = Math.max(1, Math.floor(options.maxCategories ?? 50));
  const thresholds = options.thresholds ?? defaultDriftThresholds();
  const referenceColumns = monitoredColumns(reference);
  const currentColumns = monitoredColumns(current);
  const built = [
    ...[...referenceColumns.numeric.keys()].map((name) => numericComparison(name, referenceColumns.numeric.get(name) ?? [], currentColumns.numeric.get(name) ?? [], bins)),
    ...[...referenceColumns.categorical.keys()].map((name) =>
      categoricalComparison(name, referenceColumns.categorical.get(name) ?? [], currentColumns.categorical.get(name) ?? [], maxCategories),
    ),
  ];
  const assessments = assessFeatures(
    built.map((item) => item.comparison),
    thresholds,
  );
  const statuses = new Map(featureStatuses(assessments).map((status) => [status.feature, status]));
  const features: FeatureReport[] = built.map(({ comparison, referenceMissing, currentMissing }) => {
    const metrics = assessments.filter((assessment) => assessment.feature === comparison.feature);
    const status = statuses.get(comparison.feature);
    return {
      feature: comparison.feature,
      kind: comparison.kind,
      status: status?.rawStatus ?? 'green',
      insufficient: status?.insufficient ?? true,
      drivers: status?.drivers ?? [],
      referenceCount: metrics[0]?.referenceCount ?? 0,
      currentCount: metrics[0]?.currentCount ?? 0,
      referenceMissing,
      currentMissing,
      metrics,
    };
  });
  return {
    referenceCount: reference.length,
    currentCount: current.length,
    status: worstStatus(features.map((feature) => feature.status)),
    features,
    settings: { bins, maxCategories, alpha: thresholds.alpha, pAdjust: thresholds.pAdjust, minSamples: thresholds.minSamples },
  };
}
