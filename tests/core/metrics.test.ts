/** Prometheus series labelled by model version are bounded (core/metrics.ts ModelVersionSeries). */
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ModelVersionSeries } from '../../core/metrics.js';
import { AggregatorMetrics } from '../../drift-aggregator/telemetry.js';
import { createScorerMetrics } from '../../scorer/metrics.js';

/** The version label values present in a registry's exposition of `metric`. */
async function versionsOf(registry: Registry, metric: string, label: string): Promise<string[]> {
  const text = await registry.metrics();
  const pattern = new RegExp(`^${metric}\\{[^}]*${label}="([^"]+)"`, 'gm');
  return [...new Set([...text.matchAll(pattern)].map((match) => match[1]!))].sort();
}

describe('ModelVersionSeries', () => {
  it('keeps the series of the most recently used versions and removes the rest', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'test_scored_total', help: 'h', labelNames: ['model_version', 'sentiment'], registers: [registry] });
    const series = new ModelVersionSeries(2);
    for (let version = 1; version <= 50; version++) {
      for (const sentiment of ['positive', 'negative']) counter.inc(series.note(counter, version, { model_version: String(version), sentiment }));
    }
    expect(await versionsOf(registry, 'test_scored_total', 'model_version')).toEqual(['49', '50']);
    // A rollback to 49 makes it the most recent: 51 then retires 50, not 49.
    counter.inc(series.note(counter, 49, { model_version: '49', sentiment: 'positive' }));
    counter.inc(series.note(counter, 51, { model_version: '51', sentiment: 'positive' }));
    expect(await versionsOf(registry, 'test_scored_total', 'model_version')).toEqual(['49', '51']);
    expect(series.versions()).toEqual(['49', '51']);
  });

  it('refuses to keep no version', () => {
    expect(() => new ModelVersionSeries(0)).toThrow(RangeError);
  });
});

describe('per-version series of the components', () => {
  it("the aggregator's drift gauges show only the newest window's version (a retired version's series are removed)", async () => {
    const metrics = new AggregatorMetrics(new Registry());
    for (let version = 1; version <= 6; version++) {
      const items = ['feature.text_length', 'rating'].map((feature) => ({
        segment: '__all__', feature, metric: 'psi', effect: 0.1, pValue: 0.5, pValueAdjusted: 0.5, thresholdAmber: 0.1, thresholdRed: 0.25,
        rawStatus: 'green' as const, status: 'green' as const, currentCount: 100, referenceCount: 1000,
      }));
      metrics.recordWindow({ modelName: 'reviews', modelVersion: version, start: version * 60_000 }, items);
    }
    for (const name of ['driftline_drift_value', 'driftline_drift_p_value', 'driftline_drift_threshold', 'driftline_drift_status']) {
      expect(await versionsOf(metrics.registry, name, 'version')).toEqual(['6']);
    }
  });

  it("the scorer's scored counter keeps DRIFTLINE_METRICS_MODEL_VERSIONS versions", async () => {
    const registry = new Registry();
    const metrics = createScorerMetrics(registry, 2);
    for (let version = 1; version <= 5; version++) metrics.scored.inc(metrics.versionSeries.note(metrics.scored, version, { model_version: String(version) }), 10);
    expect(await versionsOf(registry, 'driftline_scorer_scored_total', 'model_version')).toEqual(['4', '5']);
  });
});
