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
  return [...new Set([...text.matchAll(pattern)].map((match) => match[1]))].sort();
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
  it("the aggregator's drift gauges keep DRIFTLINE_METRICS_MODEL_VERSIONS versions", async () => {
    const metrics = new AggregatorMetrics(new Registry(), 3);
    for (let version = 1; version <= 6; version++) {
      for (const feature of ['feature.text_length', 'rating']) {
        metrics.recordItem({ model: 'reviews', version, segment: '__all__', feature, metric: 'psi', value: 0.1, pValue: 0.5, amber: 0.1, red: 0.25, status: 'green' });
      }
    }
    for (const name of ['driftline_drift_value', 'driftline_drift_p_value', 'driftline_drift_threshold', 'driftline_drift_status']) {
      expect(await versionsOf(metrics.registry, name, 'version')).toEqual(['4', '5', '6']);
    }
  });

  it("the scorer's scored counter keeps DRIFTLINE_METRICS_MODEL_VERSIONS versions", async () => {
    const registry = new Registry();
    const metrics = createScorerMetrics(registry, 2);
    for (let version = 1; version <= 5; version++) metrics.scored.inc(metrics.versionSeries.note(metrics.scored, version, { model_version: String(version) }), 10);
    expect(await versionsOf(registry, 'driftline_scorer_scored_total', 'model_version')).toEqual(['4', '5']);
  });
});
