/**
 * The provisioned Grafana pieces: the data source file, the dashboard provider, and the dashboard's SQL,
 * which runs here against the real drift tables (core/drift/tables.ts) in embedded ClickHouse after
 * expanding the Grafana macros the way the ClickHouse plugin does.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { ALERTS_TABLE, driftTableMigrations, DRIFT_METRICS_TABLE, RECENT_REVIEWS_TABLE, WINDOW_SUMMARY_TABLE } from '../../core/drift/tables.js';
import { repoPath } from '../../core/paths.js';
import { expandGrafanaSql } from '../support/grafana.js';

interface Target { refId: string; rawSql: string; format: number; queryType: string; datasource: { type: string; uid: string } }
interface Panel { id: number; type: string; title: string; targets: Target[]; datasource: { uid: string } }
interface Variable { name: string; type: string; query: string }
interface Dashboard { uid: string; panels: Panel[]; templating: { list: Variable[] } }

const dashboard = JSON.parse(readFileSync(repoPath('deploy/grafana/dashboards/driftline.json'), 'utf8')) as Dashboard;
const DATABASE = 'dash_test';
const FROM_S = Date.UTC(2026, 0, 1, 0, 0) / 1000;
const TO_S = FROM_S + 3600;

/** Expands the dashboard variables and plugin macros (tests/support/grafana.ts); leftovers throw. */
function expand(sql: string): string {
  return expandGrafanaSql(sql, { database: DATABASE, model: 'reviews', segment: '__all__', features: ['text_length', 'category'], fromSeconds: FROM_S, toSeconds: TO_S, intervalSeconds: 60 });
}

function ts(minute: number): string {
  return new Date((FROM_S + minute * 60) * 1000).toISOString().replace('T', ' ').replace('Z', '');
}

function metricRow(minute: number, feature: string, metric: string, value: number, status: string, writtenAt: number) {
  return {
    window_start: ts(minute), window_end: ts(minute + 1), model_name: 'reviews', model_version: 1, segment: '__all__', feature, metric, value,
    p_value: null, p_value_adjusted: null, threshold_amber: 0.1, threshold_red: 0.25, raw_status: status, status,
    current_count: 100, reference_count: 1000, written_at: ts(writtenAt),
  };
}

function summaryRow(minute: number, events: number, macroF1: number | null, writtenAt: number) {
  return {
    window_start: ts(minute), window_end: ts(minute + 1), model_name: 'reviews', model_version: 1, segment: '__all__', events, late_events: 1,
    outliers: 2, outlier_rate: 2 / events, mean_confidence: 0.8, accuracy: macroF1, macro_f1: macroF1, status: 'green', state_lost: 0, written_at: ts(writtenAt),
    // The label-free estimate exists with or without ratings.
    estimated_macro_f1: macroF1 === null ? 0.5 : macroF1 / 2,
  };
}

function alertRow(minute: number, feature: string, previous: string, status: string, alertId: string, writtenAt: number) {
  return {
    window_start: ts(minute), window_end: ts(minute + 1), window_size_ms: 60_000, model_name: 'reviews', model_version: 1, segment: '__all__', feature, metric: 'psi',
    alert_id: alertId, dedupe_key: `${alertId}:${minute}`, previous_status: previous, status, value: 0.3, p_value: null, threshold_amber: 0.1, threshold_red: 0.25,
    episode_start: ts(0), written_at: ts(writtenAt),
  };
}

function recentRow(minute: number, segment: string, reviewId: string, hash: number, writtenAt: number) {
  return {
    window_start: ts(minute), window_end: ts(minute + 1), window_size_ms: 60_000, model_name: 'reviews', model_version: 1, segment, sample_hash: hash, review_id: reviewId,
    category: segment, product_id: null, helpful_votes: 3, verified: 1, rating: 2, title: null, text: `text of ${reviewId}`, sentiment: 'negative', confidence: 0.81234, prob_negative: 0.81234, prob_neutral: 0.1, prob_positive: 0.08766,
    outlier_score: 0.5, outlier_flag: 0, event_time_ms: null, written_at: ts(writtenAt),
  };
}

function panel(title: string): Panel {
  const found = dashboard.panels.find((p) => p.title === title);
  if (!found) throw new Error(`dashboard has no panel "${title}"`);
  return found;
}

describe('grafana provisioning files', () => {
  const datasources = parse(readFileSync(repoPath('deploy/grafana/provisioning/datasources/clickhouse.yml'), 'utf8')) as {
    datasources: Array<{ uid: string; type: string; jsonData: Record<string, unknown>; secureJsonData?: Record<string, string> }>;
  };
  const clickhouse = datasources.datasources.find((d) => d.type === 'grafana-clickhouse-datasource');

  it('provisions the ClickHouse plugin data source over HTTP with a secret password', () => {
    expect(clickhouse).toBeDefined();
    expect(clickhouse?.jsonData).toMatchObject({ protocol: 'http', port: 8123 });
    expect(clickhouse?.secureJsonData?.password).toMatch(/^\$\{?CLICKHOUSE_PASSWORD\}?$/);
  });

  it('every panel and variable queries that data source', () => {
    for (const p of dashboard.panels) {
      expect(p.datasource.uid, p.title).toBe(clickhouse?.uid);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual({ type: 'grafana-clickhouse-datasource', uid: clickhouse?.uid });
    }
  });

  it('the dashboard provider loads the folder the compose file mounts the dashboards into', () => {
    const provider = parse(readFileSync(repoPath('deploy/grafana/provisioning/dashboards/driftline.yml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const compose = readFileSync(repoPath('docker-compose.yml'), 'utf8');
    expect(compose).toContain(`./deploy/grafana/dashboards:${provider.providers[0]?.options.path}`);
    expect(readdirSync(repoPath('deploy/grafana/dashboards'))).toContain('driftline.json');
  });

  it('has the required panels with the right visualisations', () => {
    expect(panel('Drift status per feature').type).toBe('state-timeline');
    for (const title of ['PSI per feature', 'KS statistic per feature', 'Outlier rate', 'Events per window', 'Live macro-F1']) {
      expect(panel(title).type).toBe('timeseries');
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('reads the ReplacingMergeTree tables only with FINAL', () => {
    const sqls = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.rawSql)), ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => v.query)];
    for (const sql of sqls) {
      const reads = [...sql.matchAll(/FROM\s+\S+\.(\w+)(\s+FINAL)?/g)];
      expect(reads.length, sql).toBeGreaterThan(0);
      for (const read of reads) {
        expect([DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE, ALERTS_TABLE, RECENT_REVIEWS_TABLE]).toContain(read[1]);
        expect(read[2], `no FINAL in: ${sql}`).toBeDefined();
      }
    }
  });
});

describe('dashboard SQL on the real drift tables (embedded ClickHouse)', () => {
  let dir: string;
  let client: ClickHouseClient;

  async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
    const result = await client.query({ query: expand(sql), format: 'JSONEachRow' });
    return result.json<Record<string, unknown>>();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftline-grafana-'));
    client = await createClickHouse(coreSettings.load({}, { clickhouseUrl: '', clickhousePath: dir }));
    // Ten years of recent-sample retention: the fixed test windows (January 2026) must not have expired already.
    for (const statement of driftTableMigrations(DATABASE, 3_650)) await client.command({ query: statement });
    await client.insert({
      table: `${DATABASE}.${DRIFT_METRICS_TABLE}`,
      format: 'JSONEachRow',
      values: [
        metricRow(0, 'text_length', 'psi', 0.05, 'green', 1),
        metricRow(0, 'text_length', 'ks', 0.02, 'green', 1),
        metricRow(0, 'category', 'psi', 0.12, 'amber', 1),
        metricRow(1, 'text_length', 'psi', 0.3, 'red', 2),
        metricRow(1, 'text_length', 'ks', 0.4, 'amber', 2),
        // A retried write of the same window: FINAL must keep only this newer version.
        metricRow(1, 'category', 'psi', 0.5, 'red', 2),
        metricRow(1, 'category', 'psi', 0.08, 'green', 3),
      ],
    });
    await client.insert({
      table: `${DATABASE}.${WINDOW_SUMMARY_TABLE}`,
      format: 'JSONEachRow',
      values: [summaryRow(0, 100, 0.7, 1), summaryRow(1, 50, null, 2), summaryRow(1, 80, 0.9, 3), { ...summaryRow(0, 900, 0.8, 4), window_end: ts(5), window_size_ms: 300_000 }],
    });
    await client.insert({
      table: `${DATABASE}.${ALERTS_TABLE}`,
      format: 'JSONEachRow',
      values: [
        alertRow(0, 'text_length', 'green', 'amber', 'episode-a', 1),
        alertRow(1, 'text_length', 'amber', 'red', 'episode-a', 2),
        // The same change written again (a re-closed window): FINAL keeps one row.
        alertRow(1, 'text_length', 'amber', 'red', 'episode-a', 3),
        alertRow(2, 'text_length', 'red', 'green', 'episode-a', 4),
        alertRow(1, 'category', 'green', 'red', 'episode-b', 2),
      ],
    });
    await client.insert({
      table: `${DATABASE}.${RECENT_REVIEWS_TABLE}`,
      format: 'JSONEachRow',
      // r-1 written twice (a re-closed window): FINAL keeps one.
      values: [recentRow(0, 'Books', 'r-1', 5, 1), recentRow(0, 'Books', 'r-1', 5, 2), recentRow(0, 'Music', 'r-2', 3, 1), recentRow(1, 'Books', 'r-3', 9, 2)],
    });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every query and variable runs', async () => {
    for (const p of dashboard.panels) for (const t of p.targets) await expect(rows(t.rawSql), p.title).resolves.toBeDefined();
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) await expect(rows(v.query), v.name).resolves.toBeDefined();
  });

  it('state timeline: worst status per feature and window, after the retried write', async () => {
    const result = await rows(panel('Drift status per feature').targets[0]!.rawSql);
    const byKey = new Map(result.map((r) => [`${String(r.time)}|${String(r.feature)}`, Number(r.status)]));
    expect(byKey.get(`${ts(0)}|text_length`)).toBe(0);
    expect(byKey.get(`${ts(0)}|category`)).toBe(1);
    expect(byKey.get(`${ts(1)}|text_length`)).toBe(2);
    expect(byKey.get(`${ts(1)}|category`)).toBe(0);
  });

  it('PSI and KS panels return one value per feature and window', async () => {
    const psi = await rows(panel('PSI per feature').targets[0]!.rawSql);
    expect(psi.map((r) => [r.feature, r.value])).toEqual([
      ['category', 0.12],
      ['text_length', 0.05],
      ['category', 0.08],
      ['text_length', 0.3],
    ]);
    const ks = await rows(panel('KS statistic per feature').targets[0]!.rawSql);
    expect(ks.map((r) => r.value)).toEqual([0.02, 0.4]);
  });

  it('alert history: every state change once, newest first, with what the change means', async () => {
    const result = await rows(panel('Alert history').targets[0]!.rawSql);
    expect(result.map((r) => [r.time, r.feature, r.previous_status, r.status, r.change, r.alert_id])).toEqual([
      [ts(2), 'text_length', 'red', 'green', 'recovered', 'episode-a'],
      [ts(1), 'category', 'green', 'red', 'raised', 'episode-b'],
      [ts(1), 'text_length', 'amber', 'red', 'escalated', 'episode-a'],
      [ts(0), 'text_length', 'green', 'amber', 'raised', 'episode-a'],
    ]);
  });

  it('shows one window size at a time (the window_size variable): a 5-minute window only under 300000', async () => {
    expect(dashboard.templating.list.map((v) => v.name)).toContain('window_size');
    expect((await rows(dashboard.templating.list.find((v) => v.name === 'window_size')!.query)).map((r) => Number(r.window_size_ms))).toEqual([60_000, 300_000]);
    const sql = panel('Events per window').targets[0]!.rawSql;
    const fiveMinutes = await (await client.query({ query: expandGrafanaSql(sql, { database: DATABASE, model: 'reviews', segment: '__all__', features: [], fromSeconds: FROM_S, toSeconds: TO_S, intervalSeconds: 60, windowSizeMs: 300_000 }), format: 'JSONEachRow' })).json<Record<string, unknown>>();
    expect(fiveMinutes.map((r) => Number(r.events))).toEqual([900]);
    for (const p of dashboard.panels) for (const t of p.targets) expect(t.rawSql, p.title).toContain('= ${window_size}');
  });

  it('recent reviews: the sampled reviews newest window first, in sample order, of one segment or all', async () => {
    const sql = panel('Recent reviews').targets[0]!.rawSql;
    expect((await rows(sql)).map((r) => [r.time, r.review_id, r.text, r.confidence])).toEqual([
      [ts(1), 'r-3', 'text of r-3', 0.812],
      [ts(0), 'r-2', 'text of r-2', 0.812],
      [ts(0), 'r-1', 'text of r-1', 0.812],
    ]);
    const books = expandGrafanaSql(sql, { database: DATABASE, model: 'reviews', segment: 'Books', features: [], fromSeconds: FROM_S, toSeconds: TO_S, intervalSeconds: 60 });
    expect((await (await client.query({ query: books, format: 'JSONEachRow' })).json<Record<string, unknown>>()).map((r) => r.review_id)).toEqual(['r-3', 'r-1']);
  });

  it('volume, outlier rate and macro-F1 come from the latest summary version', async () => {
    const volume = await rows(panel('Events per window').targets[0]!.rawSql);
    expect(volume.map((r) => Number(r.events))).toEqual([100, 80]);
    const f1 = await rows(panel('Live macro-F1').targets[0]!.rawSql);
    expect(f1.map((r) => r.macro_f1)).toEqual([0.7, 0.9]);
    expect(f1.map((r) => r.estimated_macro_f1)).toEqual([0.35, 0.45]);
    const last = await rows(panel('Macro-F1 (last window)').targets[0]!.rawSql);
    expect(last.map((r) => r.macro_f1)).toEqual([0.9]);
    const outliers = await rows(panel('Outlier rate').targets[0]!.rawSql);
    expect(outliers.map((r) => r.outlier_rate)).toEqual([0.02, 0.025]);
    const red = await rows(panel('Features red now').targets[0]!.rawSql);
    expect(red.map((r) => Number(r.red_features))).toEqual([1]);
  });
});
