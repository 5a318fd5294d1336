/**
 * The aggregator's drift gauges (drift-aggregator/telemetry.ts): what a closed window's assessments turn
 * into on /metrics — the same numbers as its drift_metrics rows — checked on the registry's exposition
 * text and by the real `promtool check metrics`.
 */
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AggregatorMetrics, type DriftGaugeItem } from '../../drift-aggregator/telemetry.js';
import { samples, series } from '../support/exposition.js';

const KS: DriftGaugeItem = {
  segment: '__all__',
  feature: 'feature.text_chars',
  metric: 'ks',
  effect: 0.31,
  pValue: 1e-9,
  pValueAdjusted: 4e-9,
  thresholdAmber: 0.1,
  thresholdRed: 0.2,
  rawStatus: 'red',
  status: 'amber',
  currentCount: 412,
  referenceCount: 3000,
};
const PSI: DriftGaugeItem = { ...KS, metric: 'psi', effect: 0.42, pValue: null, pValueAdjusted: null, thresholdAmber: 0.1, thresholdRed: 0.25, rawStatus: 'red', status: 'red' };

function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw new Error(`promtool could not run (${result.error.message}); scripts/services.sh up installs it`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('drift gauges', () => {
  it('carry value, unadjusted and adjusted p-value, thresholds, both statuses, n and the model version', async () => {
    const metrics = new AggregatorMetrics(new Registry());
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 3, start: 1_700_000_040_000 }, [KS, PSI]);
    const text = await metrics.registry.metrics();
    const got = samples(text);
    const ks = { model: 'reviews', version: '3', segment: '__all__', feature: 'feature.text_chars', metric: 'ks' };
    expect(got.get(series('driftline_drift_value', ks))).toBe(0.31);
    expect(got.get(series('driftline_drift_p_value', ks))).toBe(1e-9);
    expect(got.get(series('driftline_drift_p_value_adjusted', ks))).toBe(4e-9);
    expect(got.get(series('driftline_drift_threshold', { ...ks, level: 'amber' }))).toBe(0.1);
    expect(got.get(series('driftline_drift_threshold', { ...ks, level: 'red' }))).toBe(0.2);
    expect(got.get(series('driftline_drift_status', ks))).toBe(1);
    expect(got.get(series('driftline_drift_raw_status', ks))).toBe(2);
    expect(got.get(series('driftline_drift_samples', { ...ks, side: 'current' }))).toBe(412);
    expect(got.get(series('driftline_drift_samples', { ...ks, side: 'reference' }))).toBe(3000);
    expect(got.get(series('driftline_drift_window_start_seconds', { model: 'reviews', version: '3' }))).toBe(1_700_000_040);
    // An effect-only metric has no p-value series at all (not a stale or fake one).
    const psi = { ...ks, metric: 'psi' };
    expect(got.get(series('driftline_drift_value', psi))).toBe(0.42);
    expect(got.has(series('driftline_drift_p_value', psi))).toBe(false);
    expect(got.has(series('driftline_drift_p_value_adjusted', psi))).toBe(false);

    const { status, output } = promtoolCheckMetrics(text);
    expect(status, output).toBe(0);
  });

  it('a window without a p-value removes the previous one instead of keeping it', async () => {
    const metrics = new AggregatorMetrics(new Registry());
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 3, start: 60_000 }, [KS]);
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 3, start: 120_000 }, [{ ...KS, pValue: null, pValueAdjusted: null, effect: 0.02, status: 'green', rawStatus: 'green', currentCount: 12 }]);
    const got = samples(await metrics.registry.metrics());
    const ks = { model: 'reviews', version: '3', segment: '__all__', feature: 'feature.text_chars', metric: 'ks' };
    expect(got.has(series('driftline_drift_p_value', ks))).toBe(false);
    expect(got.get(series('driftline_drift_value', ks))).toBe(0.02);
    expect(got.get(series('driftline_drift_samples', { ...ks, side: 'current' }))).toBe(12);
  });

  it('follow the newest window: a new version replaces the old series, an older window is ignored', async () => {
    const metrics = new AggregatorMetrics(new Registry());
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 3, start: 60_000 }, [KS, PSI]);
    metrics.recordWindow({ modelName: 'other', modelVersion: 1, start: 60_000 }, [PSI]);
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 4, start: 120_000 }, [{ ...KS, status: 'green', rawStatus: 'green' }]);
    // A late close of version 3's earlier window must not bring its red back.
    metrics.recordWindow({ modelName: 'reviews', modelVersion: 3, start: 0 }, [PSI]);
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/model="reviews",version="3"/);
    const got = samples(text);
    expect(got.get(series('driftline_drift_status', { model: 'reviews', version: '4', segment: '__all__', feature: 'feature.text_chars', metric: 'ks' }))).toBe(0);
    // Other models keep theirs.
    expect(got.get(series('driftline_drift_status', { model: 'other', version: '1', segment: '__all__', feature: 'feature.text_chars', metric: 'psi' }))).toBe(2);
    const { status, output } = promtoolCheckMetrics(text);
    expect(status, output).toBe(0);
  });
});

describe('label-free estimate gauges', () => {
  it('show the newest window per segment and drop the older version when a newer one closes a window', async () => {
    const metrics = new AggregatorMetrics(new Registry());
    const rows = [
      { segment: '__all__', estimated_accuracy: 0.861, estimated_macro_f1: 0.672 },
      { segment: 'Books', estimated_accuracy: null, estimated_macro_f1: null },
    ];
    metrics.recordPerformanceEstimate({ modelName: 'reviews', modelVersion: 1, start: 60_000 }, rows);
    let shown = samples(await metrics.registry.metrics());
    expect(shown.get(series('driftline_estimated_accuracy', { model: 'reviews', version: '1', segment: '__all__' }))).toBe(0.861);
    expect(shown.get(series('driftline_estimated_macro_f1', { model: 'reviews', version: '1', segment: '__all__' }))).toBe(0.672);
    expect(shown.has(series('driftline_estimated_accuracy', { model: 'reviews', version: '1', segment: 'Books' }))).toBe(false);
    // An earlier window closing late does not overwrite the newer one.
    metrics.recordPerformanceEstimate({ modelName: 'reviews', modelVersion: 1, start: 0 }, [{ segment: '__all__', estimated_accuracy: 0.5, estimated_macro_f1: 0.4 }]);
    expect(samples(await metrics.registry.metrics()).get(series('driftline_estimated_accuracy', { model: 'reviews', version: '1', segment: '__all__' }))).toBe(0.861);
    metrics.recordPerformanceEstimate({ modelName: 'reviews', modelVersion: 2, start: 120_000 }, [{ segment: '__all__', estimated_accuracy: 0.8, estimated_macro_f1: 0.6 }]);
    shown = samples(await metrics.registry.metrics());
    expect(shown.has(series('driftline_estimated_accuracy', { model: 'reviews', version: '1', segment: '__all__' }))).toBe(false);
    expect(shown.get(series('driftline_estimated_accuracy', { model: 'reviews', version: '2', segment: '__all__' }))).toBe(0.8);
  });
});
