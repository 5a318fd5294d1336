/**
 * Raw statuses of one window's measurements with METRICS' rules (core/drift/status.ts, config.ts):
 * thresholds per metric/feature, tests (KS, chi-square) also need a Holm-adjusted p-value below
 * alpha (adjusted over the tests of one window × segment), too few samples is 'insufficient'.
 * Accuracy and macro-F1 thresholds are drops from the reference; they are stored as the live values
 * below which the window is amber/red, so every row reads "value vs threshold" directly.
 */
import type { ReferenceBaseline } from '../core/drift/baseline.js';
import { STATUS_METRICS, thresholdFor, type DriftThresholds, type StatusMetricName, type Threshold } from '../core/drift/config.js';
import { adjustPValues, classify, outlierRateThreshold } from '../core/drift/status.js';
import type { DriftStatus } from '../schemas/types.js';
import type { Measurement } from './evaluate.js';

export type RawStatus = DriftStatus | 'insufficient';

export interface RatedMeasurement extends Measurement {
  pValueAdjusted: number | null;
  thresholdAmber: number;
  thresholdRed: number;
  rawStatus: RawStatus;
}

const TESTS: ReadonlySet<string> = new Set(['ks', 'chi_square']);

function isStatusMetric(metric: string): metric is StatusMetricName {
  return (STATUS_METRICS as readonly string[]).includes(metric);
}

/** The band in the metric's own effect space, and how to map a measurement into it. */
function band(m: Measurement, thresholds: DriftThresholds, baseline: ReferenceBaseline): { threshold: Threshold; effect: number; stored: Threshold } {
  const metric = m.metric as StatusMetricName;
  const configured = thresholdFor(thresholds, m.feature, metric);
  if (metric === 'outlier_rate') {
    const threshold = outlierRateThreshold(baseline.reference.outlierRate, thresholds.outlierRatio, configured);
    return { threshold, effect: m.effect, stored: threshold };
  }
  if (metric === 'accuracy' || metric === 'macro_f1') {
    const reference = metric === 'accuracy' ? baseline.reference.accuracy : baseline.reference.macroF1;
    return { threshold: configured, effect: reference - m.value, stored: { amber: reference - configured.amber, red: reference - configured.red } };
  }
  return { threshold: configured, effect: m.effect, stored: configured };
}

/** Rates every measurement of one window (all segments). */
export function rateMeasurements(measurements: readonly Measurement[], thresholds: DriftThresholds, baseline: ReferenceBaseline): RatedMeasurement[] {
  const adjusted = new Map<Measurement, number>();
  const testsBySegment = new Map<string, Measurement[]>();
  for (const m of measurements) {
    if (!TESTS.has(m.metric) || m.pValue === null) continue;
    const list = testsBySegment.get(m.segment) ?? [];
    list.push(m);
    testsBySegment.set(m.segment, list);
  }
  for (const tests of testsBySegment.values()) {
    const values = adjustPValues(tests.map((t) => t.pValue!), thresholds.pAdjust);
    tests.forEach((t, i) => adjusted.set(t, values[i]!));
  }
  return measurements.filter((m) => isStatusMetric(m.metric)).map((m) => {
    const { threshold, effect, stored } = band(m, thresholds, baseline);
    const pValueAdjusted = adjusted.get(m) ?? null;
    const insufficient = m.currentCount < thresholds.minSamples || m.referenceCount < thresholds.minSamples;
    const rawStatus: RawStatus = insufficient
      ? 'insufficient'
      : classify(effect, threshold, pValueAdjusted === null ? undefined : { adjustedPValue: pValueAdjusted, alpha: thresholds.alpha }).status;
    return { ...m, pValueAdjusted, thresholdAmber: stored.amber, thresholdRed: stored.red, rawStatus };
  });
}
