/**
 * The aggregator as Prometheus sees it, on real Kafka, Redis, chdb and a real Prometheus started by
 * `scripts/services.sh prometheus-up` (own port and data dir): a shifted stream's closed windows show on
 * /metrics with the same numbers as their drift_metrics rows (KL divergence among them), the exposition
 * passes `promtool check metrics`, /ready reports the consumer, Redis and ClickHouse, and the
 * DriftlineDriftRed rule of deploy/prometheus/rules fires in Prometheus.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib.js';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { repoPath } from '../../core/paths.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { publishScored, releaseTestAggregator, testSetup, waitFor, testAggregator } from './harness.js';
import { samples, series } from '../support/exposition.js';

const WINDOWS = 3;
const PER_WINDOW = 300;
let setup: ReturnType<typeof testSetup>;
let metricsPort: number;
let prometheusPort: number;
let prometheusDir: string;
let redis: Redis;
let clickhouse: ClickHouseClient;
let service: AggregatorService;
let firstWindow: number;

function servicesScript(command: string): { status: number | null; output: string } {
  const result = spawnSync('bash', [repoPath('scripts/services.sh'), command], {
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      ...process.env,
      DRIFTLINE_PROMETHEUS_PORT: String(prometheusPort),
      DRIFTLINE_PROMETHEUS_DIR: prometheusDir,
      DRIFTLINE_PROMETHEUS_TARGETS: `driftline-aggregator=127.0.0.1:${metricsPort}`,
      DRIFTLINE_PROMETHEUS_INTERVAL: '1s',
    },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function stream(modelName: string, shifted: boolean, seed: number): ScoredReview[] {
  const random = seededRandom(seed);
  const reviews: ScoredReview[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      reviews.push(syntheticReview(w * PER_WINDOW + i, random, { modelName, modelVersion: 2, shifted, ingestTimeMs: firstWindow + w * setup.settings.windowMs + i * 100 }));
    }
  }
  return reviews;
}

async function rows<T>(query: string): Promise<T[]> {
  return (await (await clickhouse.query({ query, format: 'JSONEachRow' })).json()) as T[];
}

interface MetricRow {
  model_version: number;
  window_start_ms: string;
  feature: string;
  metric: string;
  value: number;
  p_value: number | null;
  p_value_adjusted: number | null;
  threshold_amber: number;
  threshold_red: number;
  raw_status: string;
  status: string;
  current_count: string;
  reference_count: string;
}

const STATUS: Record<string, number> = { green: 0, amber: 1, red: 2 };

beforeAll(async () => {
  metricsPort = await freePort();
  prometheusPort = await freePort();
  prometheusDir = mkdtempSync(join(tmpdir(), 'driftline-prometheus-'));
  setup = testSetup({ metricsPort });
  const { core, settings } = setup;
  const kafka = createKafka(core, 'agg-prom-test');
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  await ensureTopics(kafka, [core.topicScored, core.topicAlerts], core);
  firstWindow = Math.floor(Date.now() / settings.windowMs) * settings.windowMs - 10 * settings.windowMs;
  service = testAggregator('agg-prom-test', {
    core,
    settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline('synth-prom-shifted', 2)]),
  }, 'warn');
  await service.start();
  const started = servicesScript('prometheus-up');
  expect(started.status, started.output).toBe(0);
  const closed: number[] = [];
  service.onWindowClosed((window) => closed.push(window.ref.start));
  await publishScored(kafka, core.topicScored, stream('synth-prom-shifted', true, 21));
  await waitFor(async () => closed.length >= WINDOWS, 60_000, 'all windows to close');
  await waitFor(async () => (await service.writer.pendingCount()) === 0, 60_000, 'ClickHouse rows to be written');
});

afterAll(async () => {
  if (prometheusDir) {
    servicesScript('prometheus-down');
    rmSync(prometheusDir, { recursive: true, force: true });
  }
  if (setup) await releaseTestAggregator({ core: setup.core, service, clickhouse, redis });
});

describe('aggregator metrics in Prometheus', () => {
  it('shows the newest window on /metrics with the numbers of its drift_metrics rows, KL included; promtool accepts it', async () => {
    const db = setup.core.clickhouseDatabase;
    const latest = await rows<MetricRow>(
      `SELECT model_version, toString(toUnixTimestamp64Milli(window_start)) AS window_start_ms, feature, metric, value, p_value, p_value_adjusted, threshold_amber, threshold_red, raw_status, status, current_count, reference_count
       FROM ${db}.drift_metrics FINAL
       WHERE model_name = 'synth-prom-shifted' AND segment = '__all__'
         AND window_start = (SELECT max(window_start) FROM ${db}.drift_metrics WHERE model_name = 'synth-prom-shifted')`,
    );
    const kl = latest.filter((row) => row.metric === 'kl_divergence');
    expect(kl.map((row) => row.feature)).toEqual(expect.arrayContaining(['feature.text_length', 'category']));
    expect(kl.find((row) => row.feature === 'feature.text_length')).toMatchObject({ status: 'red', threshold_amber: 0.05, threshold_red: 0.125, p_value: null });

    const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const got = samples(body);
    const ks = latest.find((row) => row.feature === 'feature.text_length' && row.metric === 'ks')!;
    expect(ks.p_value).not.toBeNull();
    for (const row of [ks, ...kl]) {
      const labels = { model: 'synth-prom-shifted', version: String(row.model_version), segment: '__all__', feature: row.feature, metric: row.metric };
      const where = `${row.feature}/${row.metric}`;
      expect(got.get(series('driftline_drift_value', labels)), where).toBeCloseTo(row.value, 9);
      expect(got.get(series('driftline_drift_p_value', labels)) ?? null, where).toBe(row.p_value);
      expect(got.get(series('driftline_drift_p_value_adjusted', labels)) ?? null, where).toBe(row.p_value_adjusted);
      expect(got.get(series('driftline_drift_threshold', { ...labels, level: 'amber' })), where).toBe(row.threshold_amber);
      expect(got.get(series('driftline_drift_threshold', { ...labels, level: 'red' })), where).toBe(row.threshold_red);
      expect(got.get(series('driftline_drift_status', labels)), where).toBe(STATUS[row.status]);
      expect(got.get(series('driftline_drift_raw_status', labels)), where).toBe(STATUS[row.raw_status]);
      expect(got.get(series('driftline_drift_samples', { ...labels, side: 'current' })), where).toBe(Number(row.current_count));
      expect(got.get(series('driftline_drift_samples', { ...labels, side: 'reference' })), where).toBe(Number(row.reference_count));
    }
    expect(got.get(series('driftline_drift_window_start_seconds', { model: 'synth-prom-shifted', version: '2' }))).toBe(Number(ks.window_start_ms) / 1000);

    // promtool's only complaint may be about three of prom-client's default Node.js gauges, whose names
    // (…_active_handles_total etc.) prom-client chose; anything else — a parse error, one of ours — fails.
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
    expect(check.error).toBeUndefined();
    const problems = `${check.stdout}${check.stderr}`.split('\n').filter((line) => line.trim() !== '');
    const PROM_CLIENT_DEFAULTS = /^driftline_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    expect(problems.filter((line) => !PROM_CLIENT_DEFAULTS.test(line))).toEqual([]);
  });

  it('shows the label-free estimate of the newest window as written to window_summary', async () => {
    const db = setup.core.clickhouseDatabase;
    const summaries = await rows<{ segment: string; model_version: number; estimated_accuracy: number | null; estimated_macro_f1: number | null; events: string }>(
      `SELECT segment, model_version, estimated_accuracy, estimated_macro_f1, events FROM ${db}.window_summary FINAL
       WHERE model_name = 'synth-prom-shifted' AND window_start = (SELECT max(window_start) FROM ${db}.window_summary WHERE model_name = 'synth-prom-shifted')`,
    );
    const all = summaries.find((row) => row.segment === '__all__')!;
    expect(all.estimated_accuracy).toBeGreaterThan(0);
    const got = samples(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    for (const row of summaries) {
      const labels = { model: 'synth-prom-shifted', version: String(row.model_version), segment: row.segment };
      expect(got.get(series('driftline_estimated_accuracy', labels)) ?? null, row.segment).toBe(row.estimated_accuracy);
      expect(got.get(series('driftline_estimated_macro_f1', labels)) ?? null, row.segment).toBe(row.estimated_macro_f1);
    }
  });

  it('/ready reports the consumer, Redis and ClickHouse', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { kafka_consumer: { ok: true }, redis: { ok: true }, clickhouse: { ok: true } } });
  });

  it('fires DriftlineDriftRed in a real Prometheus scraping the aggregator', async () => {
    interface Alert { labels: Record<string, string>; state: string }
    let firing: Alert[] = [];
    await waitFor(
      async () => {
        const answer = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
        firing = answer.data.alerts.filter((alert) => alert.labels.alertname === 'DriftlineDriftRed' && alert.state === 'firing');
        return firing.some((alert) => alert.labels.feature === 'feature.text_length' && alert.labels.segment === '__all__');
      },
      60_000,
      'DriftlineDriftRed to fire in Prometheus',
      500,
    );
    expect(firing.find((alert) => alert.labels.feature === 'feature.text_length' && alert.labels.segment === '__all__')?.labels).toMatchObject({ model: 'synth-prom-shifted', version: '2', segment: '__all__', severity: 'critical' });
    // The target is the aggregator under the job name the rules use.
    const targets = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; health: string }> } };
    expect(targets.data.activeTargets.map((t) => [t.labels.job, t.health])).toEqual([['driftline-aggregator', 'up']]);
  });
});
