/**
 * One window's (or one dataset comparison's) drift assessment: every metric of every feature, p-values
 * corrected across the window's tests, each metric classified against its thresholds. Pure: the
 * aggregator and the dataset comparison both call it, so live and offline numbers mean the same.
 *
 * One file on purpose (~360 lines): the metric runs, the p-value correction across them and the status rules
 * all work on one window's list of assessments; the metrics themselves are in metrics.ts and embedding.ts.
 */
import type { DriftStatus } from '../../schemas/types.js';
import { SENTIMENTS } from '../../schemas/types.js';
import type { CategoricalState } from '../sketch/categorical.js';
import type { HistogramState } from '../sketch/histogram.js';
import type { SummaryState } from '../sketch/summary.js';
import type { EmbeddingState } from '../sketch/embedding.js';
import { EMBEDDING_FEATURE, EMBEDDING_METRIC, embeddingDrift, type EmbeddingBaseline } from './embedding.js';
import type { ExpectedConfusionState } from '../sketch/expected-confusion.js';
import type { ReferenceBaseline } from './baseline.js';
import { thresholdFor, type DriftThresholds, type StatusMetricName, type Threshold } from './config.js';
import {
  categoricalBaselineDistribution,
  categoricalDistribution,
  categoricalSketchFor,
  coarsePair,
  histogramDistribution,
  histogramSketchFor,
  numericBaselineDistribution,
} from './distribution.js';
import { chiSquareMetric, confidenceDrop, livePerformance, meanConfidence, metricsFor, outlierRate, predictionDrift } from './metrics.js';
import { adjustPValues, classify, outlierRateThreshold, worstStatus } from './status.js';
import type { DriftMetricRow } from './tables.js';
import type { BinnedDistribution, MetricResult } from './types.js';

/** Feature name of the model-level metrics (prediction drift, confidence, outliers, live performance). */
export const MODEL_FEATURE = '__model__';

export interface FeatureComparison {
  feature: string;
  kind: 'numeric' | 'categorical';
  reference: BinnedDistribution;
  current: BinnedDistribution;
}

export interface Assessment {
  feature: string;
  metric: StatusMetricName;
  /** The metric in its own units (PSI, D, JS, W1, chi-square statistic, current accuracy...). */
  value: number;
  /** What the thresholds are compared with (see MetricResult.effect; drops for confidence/accuracy/macro-F1). */
  effect: number;
  pValue: number | null;
  pValueAdjusted: number | null;
  thresholdAmber: number;
  thresholdRed: number;
  /** Status of this window alone (before hysteresis). */
  rawStatus: DriftStatus;
  /** Too few values on either side: rawStatus is green and the window must not move hysteresis. */
  insufficient: boolean;
  note: string | null;
  currentCount: number;
  referenceCount: number;
  details?: Record<string, number>;
}

function sum(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

interface Pending {
  feature: string;
  metric: StatusMetricName;
  result: MetricResult;
  threshold: Threshold;
  currentCount: number;
  referenceCount: number;
  isTest: boolean;
}

/**
 * Effect-only metrics that the feature's test gates (gateOnTest): PSI, KL and JS are biased upwards at small
 * samples (about (bins - 1)/n for PSI) and Wasserstein is noisy on heavy tails, so without the gate two
 * random halves of the same 800 reviews already showed Wasserstein 0.12σ (amber). With it they can
 * only raise a status when the distributions differ significantly (adjusted p < alpha).
 */
const GATED_METRICS: ReadonlySet<StatusMetricName> = new Set(['psi', 'js_distance', 'wasserstein', 'kl_divergence']);

/** Metrics that read the fine numeric bins (the others read coarsePair's groups). */
const FINE_METRICS: ReadonlySet<StatusMetricName> = new Set(['ks', 'wasserstein']);

function insufficientNote(pending: Pending, minSamples: number): string | null {
  if (pending.currentCount >= minSamples && pending.referenceCount >= minSamples) return null;
  return `insufficient samples: current ${pending.currentCount}, reference ${pending.referenceCount}, minimum ${minSamples}`;
}

/** Classifies pending results; the p-values of the tests with enough samples form one family for the correction. */
function finish(pendings: Pending[], thresholds: DriftThresholds): Assessment[] {
  const notes = pendings.map((pending) => insufficientNote(pending, thresholds.minSamples));
  const family: Array<{ index: number; pValue: number }> = [];
  pendings.forEach((pending, i) => {
    const pValue = pending.result.pValue;
    if (pending.isTest && notes[i] === null && pValue !== undefined) family.push({ index: i, pValue });
  });
  const adjusted = adjustPValues(family.map((member) => member.pValue), thresholds.pAdjust);
  const adjustedByIndex = new Map(family.map(({ index }, k) => [index, adjusted[k]]));
  // Each feature's own test (KS / chi-square) gates its effect-only metrics when configured.
  const featureTestP = new Map<string, number>();
  pendings.forEach((pending, i) => {
    const adjusted = adjustedByIndex.get(i);
    if (adjusted !== undefined && pending.isTest) featureTestP.set(pending.feature, adjusted);
  });
  return pendings.map((pending, i) => {
    // notes has one entry per pending (same map); the fallback is never taken.
    const note = notes[i] ?? null;
    const insufficient = note !== null;
    const pValueAdjusted = adjustedByIndex.get(i) ?? null;
    const gate = pending.isTest
      ? { adjustedPValue: pValueAdjusted ?? 1, alpha: thresholds.alpha }
      : thresholds.gateOnTest && GATED_METRICS.has(pending.metric) && featureTestP.has(pending.feature)
        ? { adjustedPValue: featureTestP.get(pending.feature) ?? 1, alpha: thresholds.alpha }
        : undefined;
    const classification = insufficient ? { status: 'green' as const, note } : classify(pending.result.effect, pending.threshold, gate);
    const assessment: Assessment = {
      feature: pending.feature,
      metric: pending.metric,
      value: pending.result.value,
      effect: pending.result.effect,
      pValue: pending.result.pValue ?? null,
      pValueAdjusted,
      thresholdAmber: pending.threshold.amber,
      thresholdRed: pending.threshold.red,
      rawStatus: classification.status,
      insufficient,
      note: classification.note,
      currentCount: pending.currentCount,
      referenceCount: pending.referenceCount,
    };
    if (pending.result.details) assessment.details = pending.result.details;
    return assessment;
  });
}

function featurePendings(comparison: FeatureComparison, thresholds: DriftThresholds): Pending[] {
  const currentCount = sum(comparison.current.counts);
  const referenceCount = sum(comparison.reference.counts);
  // KS and Wasserstein read the fine bins; PSI, JS and KL the ten coarse groups their thresholds were set on.
  const [coarseReference, coarseCurrent] = comparison.kind === 'numeric' ? coarsePair(comparison.reference, comparison.current) : [comparison.reference, comparison.current];
  const pendings: Pending[] = metricsFor(comparison.kind).map((metric) => ({
    feature: comparison.feature,
    metric: metric.name,
    result: FINE_METRICS.has(metric.name) ? metric.compute(comparison.reference, comparison.current) : metric.compute(coarseReference, coarseCurrent),
    threshold: thresholdFor(thresholds, comparison.feature, metric.name),
    currentCount,
    referenceCount,
    isTest: metric.name === 'ks' || metric.name === 'chi_square',
  }));
  const chiSquare = pendings.find((pending) => pending.metric === 'chi_square');
  if (chiSquare) {
    const unseenRate = chiSquare.result.details?.unseenRate ?? 0;
    pendings.push({
      feature: comparison.feature,
      metric: 'unseen_rate',
      result: { value: unseenRate, effect: unseenRate, details: { unseen: chiSquare.result.details?.unseen ?? 0 } },
      threshold: thresholdFor(thresholds, comparison.feature, 'unseen_rate'),
      currentCount,
      referenceCount,
      isTest: false,
    });
  }
  return pendings;
}

/** Per-feature metrics of a set of comparisons; one p-value family across all of them. */
export function assessFeatures(comparisons: readonly FeatureComparison[], thresholds: DriftThresholds): Assessment[] {
  return finish(comparisons.flatMap((comparison) => featurePendings(comparison, thresholds)), thresholds);
}

export interface ModelHealthInput {
  summary: SummaryState;
  /** Training-set quality (ReferenceBaseline.reference). */
  reference: ReferenceBaseline['reference'];
  referenceRows: number;
  /** Reference predicted-class counts, SENTIMENTS order (omit: no prediction-drift metric). */
  referencePredicted?: readonly number[];
}

function modelPendings(input: ModelHealthInput, thresholds: DriftThresholds): Pending[] {
  const { summary, reference } = input;
  const performance = livePerformance(summary.confusion);
  const base = { feature: MODEL_FEATURE, currentCount: summary.count, referenceCount: input.referenceRows, isTest: false };
  const threshold = (metric: StatusMetricName): Threshold => thresholdFor(thresholds, MODEL_FEATURE, metric);
  const rate = outlierRate(summary);
  const pendings: Pending[] = [
    {
      ...base,
      metric: 'confidence_drop',
      result: { value: meanConfidence(summary), effect: confidenceDrop(reference.meanConfidence, summary), details: { referenceMeanConfidence: reference.meanConfidence } },
      threshold: threshold('confidence_drop'),
    },
    {
      ...base,
      metric: 'outlier_rate',
      result: { value: rate, effect: rate, details: { referenceOutlierRate: reference.outlierRate } },
      threshold: outlierRateThreshold(reference.outlierRate, thresholds.outlierRatio, threshold('outlier_rate')),
    },
    {
      ...base,
      currentCount: performance.labelled,
      metric: 'accuracy',
      result: { value: performance.accuracy, effect: reference.accuracy - performance.accuracy, details: { referenceAccuracy: reference.accuracy } },
      threshold: threshold('accuracy'),
    },
    {
      ...base,
      currentCount: performance.labelled,
      metric: 'macro_f1',
      result: { value: performance.macroF1, effect: reference.macroF1 - performance.macroF1, details: { referenceMacroF1: reference.macroF1 } },
      threshold: threshold('macro_f1'),
    },
  ];
  if (input.referencePredicted) {
    // Effect: JS distance of the class mixes; significance: chi-square on the same 2 x 3 table.
    const drift = predictionDrift(input.referencePredicted, summary.predicted);
    const test = chiSquareMetric.compute({ counts: [...input.referencePredicted] }, { counts: [...summary.predicted] });
    pendings.unshift({
      ...base,
      referenceCount: sum(input.referencePredicted),
      metric: 'prediction_drift',
      result: { value: drift, effect: drift, ...(test.pValue === undefined ? {} : { pValue: test.pValue }) },
      threshold: threshold('prediction_drift'),
      isTest: true,
    });
  }
  return pendings;
}

export function assessModelHealth(input: ModelHealthInput, thresholds: DriftThresholds): Assessment[] {
  return finish(modelPendings(input, thresholds), thresholds);
}

/** What one window holds, as read back from Redis: states by monitored-value name. */
export interface WindowStates {
  numeric: Record<string, HistogramState | undefined>;
  categorical: Record<string, CategoricalState | undefined>;
  summary?: SummaryState;
  /** Expected confusion sums of the label-free performance estimate (cbpe.ts); not a drift test. */
  expected?: ExpectedConfusionState;
  /** Random-feature sums of the model's review representation (embedding.ts). */
  embedding?: EmbeddingState;
}

/** Reference predicted-class counts in SENTIMENTS order, from the baseline's 'prediction.sentiment' feature. */
export function referencePredictedCounts(baseline: ReferenceBaseline): number[] | undefined {
  const feature = baseline.features['prediction.sentiment'];
  if (!feature || feature.kind !== 'categorical') return undefined;
  return SENTIMENTS.map((sentiment) => {
    const index = feature.categories.indexOf(sentiment);
    // indexOf gives -1 for a class the baseline never saw: no such entry, so 0.
    return feature.counts[index] ?? 0;
  });
}

/** The comparisons of every baseline feature against a window; a feature the window lacks compares with an empty sketch. */
export function windowComparisons(baseline: ReferenceBaseline, window: WindowStates): FeatureComparison[] {
  return Object.entries(baseline.features).map(([feature, featureBaseline]): FeatureComparison => {
    if (featureBaseline.kind === 'numeric') {
      const sketch = histogramSketchFor(featureBaseline);
      const state = window.numeric[feature] ?? sketch.zero();
      return { feature, kind: 'numeric', reference: numericBaselineDistribution(featureBaseline), current: histogramDistribution(sketch, state) };
    }
    const sketch = categoricalSketchFor(featureBaseline);
    const state = window.categorical[feature] ?? sketch.zero();
    return { feature, kind: 'categorical', reference: categoricalBaselineDistribution(featureBaseline), current: categoricalDistribution(sketch, state) };
  });
}

/**
 * Everything for one window: per-feature drift metrics and, when the window has a summary, the
 * model-level metrics. The KS/chi-square p-values of all features form one correction family.
 */
export function assessWindow(baseline: ReferenceBaseline, window: WindowStates, thresholds: DriftThresholds): Assessment[] {
  const pendings = windowComparisons(baseline, window).flatMap((comparison) => featurePendings(comparison, thresholds));
  if (baseline.embedding && window.embedding) pendings.push(embeddingPending(baseline.embedding, window.embedding, thresholds));
  if (window.summary) {
    const referencePredicted = referencePredictedCounts(baseline);
    pendings.push(
      ...modelPendings({ summary: window.summary, reference: baseline.reference, referenceRows: baseline.rows, ...(referencePredicted ? { referencePredicted } : {}) }, thresholds),
    );
  }
  return finish(pendings, thresholds);
}

/** The embedding-drift test of a window (one more member of the window's p-value family). */
function embeddingPending(reference: EmbeddingBaseline, current: EmbeddingState, thresholds: DriftThresholds): Pending {
  return {
    feature: EMBEDDING_FEATURE,
    metric: EMBEDDING_METRIC,
    result: embeddingDrift(reference, current),
    threshold: thresholdFor(thresholds, EMBEDDING_FEATURE, EMBEDDING_METRIC),
    currentCount: current.count,
    referenceCount: reference.count,
    isTest: true,
  };
}

export interface FeatureStatus {
  feature: string;
  /** Worst raw status over the feature's metrics with enough samples. */
  rawStatus: DriftStatus;
  /** Every metric of the feature lacked samples: feed 'insufficient' to applyHysteresis. */
  insufficient: boolean;
  /** The metrics at that status (empty when green). */
  drivers: StatusMetricName[];
}

export function featureStatuses(assessments: readonly Assessment[]): FeatureStatus[] {
  const byFeature = new Map<string, Assessment[]>();
  for (const assessment of assessments) {
    const list = byFeature.get(assessment.feature) ?? [];
    list.push(assessment);
    byFeature.set(assessment.feature, list);
  }
  return [...byFeature.entries()].map(([feature, list]) => {
    const rawStatus = worstStatus(list.map((a) => a.rawStatus));
    return {
      feature,
      rawStatus,
      insufficient: list.every((a) => a.insufficient),
      drivers: rawStatus === 'green' ? [] : list.filter((a) => a.rawStatus === rawStatus).map((a) => a.metric),
    };
  });
}

export interface RowContext {
  windowStartMs: number;
  windowEndMs: number;
  modelName: string;
  modelVersion: number;
  segment: string;
  /** Status after hysteresis (defaults to the raw status). */
  status?: DriftStatus;
  writtenAtMs: number;
}

/**
 * A drift_metrics row. `value` holds the effect (the number the thresholds apply to), so a dashboard
 * can draw value against threshold_amber/red directly; the metric's own value is in the assessment.
 */
export function toDriftMetricRow(assessment: Assessment, context: RowContext): DriftMetricRow {
  return {
    window_start: context.windowStartMs,
    window_end: context.windowEndMs,
    window_size_ms: context.windowEndMs - context.windowStartMs,
    model_name: context.modelName,
    model_version: context.modelVersion,
    segment: context.segment,
    feature: assessment.feature,
    metric: assessment.metric,
    value: assessment.effect,
    p_value: assessment.pValue,
    p_value_adjusted: assessment.pValueAdjusted,
    threshold_amber: assessment.thresholdAmber,
    threshold_red: assessment.thresholdRed,
    raw_status: assessment.rawStatus,
    status: context.status ?? assessment.rawStatus,
    current_count: assessment.currentCount,
    reference_count: assessment.referenceCount,
    written_at: context.writtenAtMs,
  };
}
