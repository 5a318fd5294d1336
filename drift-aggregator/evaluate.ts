/**
 * Turns the sketch hashes of one closed window into drift measurements with METRICS' code
 * (core/drift/metrics.ts, core/drift/distribution.ts): per segment, every monitored value against the
 * model version's reference baseline, plus the model-level health numbers from the window summary.
 * Thresholds and statuses are applied afterwards (status.ts via closer.ts).
 */
import type { ReferenceBaseline } from '../core/drift/baseline.js';
import {
  categoricalBaselineDistribution,
  categoricalDistribution,
  histogramDistribution,
  numericBaselineDistribution,
} from '../core/drift/distribution.js';
import { confidenceDrop, livePerformance, meanConfidence, metricsFor, outlierRate, predictionDrift } from '../core/drift/metrics.js';
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import type { BinnedDistribution } from '../core/drift/types.js';
import type { SummaryState } from '../core/sketch/index.js';
import { SENTIMENTS } from '../schemas/types.js';
import { SUMMARY_HASH, parseHashName, type VersionSketches } from './increments.js';
import type { WindowHashes } from './redis-state.js';

/** Model-level metrics are reported under this feature name. */
export const MODEL_FEATURE = 'model';

export interface Measurement {
  segment: string;
  feature: string;
  /** psi | ks | js_distance | wasserstein | chi_square | unseen_rate | prediction_drift | confidence_drop | outlier_rate | accuracy | macro_f1 */
  metric: string;
  value: number;
  /** What thresholds are compared with (equals value except Wasserstein: W1 / reference std). */
  effect: number;
  pValue: number | null;
  currentCount: number;
  referenceCount: number;
}

export interface SegmentSummary {
  segment: string;
  summary: SummaryState;
  outlierRate: number;
  meanConfidence: number;
  /** null when no review in the segment had a usable rating label. */
  accuracy: number | null;
  macroF1: number | null;
}

export interface WindowEvaluation {
  measurements: Measurement[];
  summaries: SegmentSummary[];
}

/** Decoded sketch states of one segment (missing hashes are zero states). */
interface SegmentHashes {
  summary: Record<string, string>;
  values: Map<string, Record<string, string>>;
}

function groupBySegment(hashes: WindowHashes): Map<string, SegmentHashes> {
  const segments = new Map<string, SegmentHashes>();
  for (const [name, hash] of hashes) {
    const { segment, value } = parseHashName(name);
    let entry = segments.get(segment);
    if (!entry) segments.set(segment, (entry = { summary: {}, values: new Map() }));
    if (value === SUMMARY_HASH) entry.summary = hash;
    else entry.values.set(value, hash);
  }
  return segments;
}

/** The reference's predicted-class counts (SENTIMENTS order) from its 'prediction.sentiment' baseline. */
function referencePredicted(baseline: ReferenceBaseline): number[] | null {
  const feature = baseline.features['prediction.sentiment'];
  if (!feature || feature.kind !== 'categorical') return null;
  return SENTIMENTS.map((sentiment) => {
    const index = feature.categories.indexOf(sentiment);
    return index < 0 ? 0 : feature.counts[index]!;
  });
}

function featureMeasurements(segment: string, hashes: SegmentHashes, sketches: VersionSketches, baseline: ReferenceBaseline): Measurement[] {
  const out: Measurement[] = [];
  const push = (feature: string, reference: BinnedDistribution, current: BinnedDistribution, kind: 'numeric' | 'categorical', referenceCount: number): void => {
    const currentCount = current.counts.reduce((a, b) => a + b, 0);
    for (const metric of metricsFor(kind)) {
      const result = metric.compute(reference, current);
      out.push({ segment, feature, metric: metric.name, value: result.value, effect: result.effect, pValue: result.pValue ?? null, currentCount, referenceCount });
      if (metric.name === 'chi_square') {
        const unseenRate = result.details?.unseenRate ?? 0;
        out.push({ segment, feature, metric: 'unseen_rate', value: unseenRate, effect: unseenRate, pValue: null, currentCount, referenceCount });
      }
    }
  };
  for (const [name, sketch] of sketches.numeric) {
    const feature = baseline.features[name];
    if (!feature || feature.kind !== 'numeric') continue;
    const state = sketch.fromHash(hashes.values.get(name) ?? {});
    push(name, numericBaselineDistribution(feature), histogramDistribution(sketch, state), 'numeric', feature.total);
  }
  for (const [name, sketch] of sketches.categorical) {
    const feature = baseline.features[name];
    if (!feature || feature.kind !== 'categorical') continue;
    // Inside a category segment the category itself is constant by construction: not drift.
    if (name === 'category' && segment !== ALL_SEGMENTS) continue;
    const state = sketch.fromHash(hashes.values.get(name) ?? {});
    push(name, categoricalBaselineDistribution(feature), categoricalDistribution(sketch, state), 'categorical', feature.total);
  }
  return out;
}

function modelMeasurements(segment: string, summary: SummaryState, baseline: ReferenceBaseline): { measurements: Measurement[]; performance: ReturnType<typeof livePerformance> } {
  const performance = livePerformance(summary.confusion);
  const reference = baseline.reference;
  const base = { segment, feature: MODEL_FEATURE, pValue: null, currentCount: summary.count, referenceCount: baseline.rows };
  const measurements: Measurement[] = [];
  const add = (metric: string, value: number, count = summary.count): void => {
    measurements.push({ ...base, metric, value, effect: value, currentCount: count });
  };
  const predicted = referencePredicted(baseline);
  if (predicted) add('prediction_drift', predictionDrift(predicted, summary.predicted));
  add('confidence_drop', confidenceDrop(reference.meanConfidence, summary));
  add('outlier_rate', outlierRate(summary));
  if (performance.labelled > 0) {
    add('accuracy', performance.accuracy, performance.labelled);
    add('macro_f1', performance.macroF1, performance.labelled);
  }
  return { measurements, performance };
}

/** Every measurement of a window (all segments present), or only summaries when there is no baseline. */
export function evaluateWindow(hashes: WindowHashes, sketches: VersionSketches): WindowEvaluation {
  const measurements: Measurement[] = [];
  const summaries: SegmentSummary[] = [];
  for (const [segment, segmentHashes] of groupBySegment(hashes)) {
    const summary = sketches.summary.fromHash(segmentHashes.summary);
    const performance = livePerformance(summary.confusion);
    summaries.push({
      segment,
      summary,
      outlierRate: outlierRate(summary),
      meanConfidence: meanConfidence(summary),
      accuracy: performance.labelled > 0 ? performance.accuracy : null,
      macroF1: performance.labelled > 0 ? performance.macroF1 : null,
    });
    if (!sketches.baseline) continue;
    measurements.push(...featureMeasurements(segment, segmentHashes, sketches, sketches.baseline));
    measurements.push(...modelMeasurements(segment, summary, sketches.baseline).measurements);
  }
  return { measurements, summaries };
}
