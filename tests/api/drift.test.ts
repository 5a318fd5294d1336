/**
 * GET /v1/drift and /v1/drift/windows against real embedded ClickHouse (chdb, temp path): rows are
 * inserted through the shared DDL (core/drift/tables.ts) the aggregator uses, then queried over HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE, driftTableMigrations, type DriftMetricRow, type WindowSummaryRow } from '../../core/drift/tables.js';
import { buildTestApi, type TestApi } from './helpers.js';

const DATABASE = 'driftline_api_test';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

function metricRow(overrides: Partial<DriftMetricRow>): DriftMetricRow {
  return {
    window_start: T0,
    window_end: T0 + HOUR,
    window_size_ms: HOUR,
    model_name: 'reviews',
    model_version: 1,
    segment: '__all__',
    feature: 'feature.text_length',
    metric: 'psi',
    value: 0.05,
    p_value: null,
    p_value_adjusted: null,
    threshold_amber: 0.1,
    threshold_red: 0.25,
    raw_status: 'green',
    status: 'green',
    current_count: 500,
    reference_count: 4000,
    written_at: T0 + HOUR,
    ...overrides,
  };
}

function summaryRow(overrides: Partial<WindowSummaryRow>): WindowSummaryRow {
  return {
    window_start: T0,
    window_end: T0 + HOUR,
    window_size_ms: HOUR,
    model_name: 'reviews',
    model_version: 1,
    segment: '__all__',
    events: 500,
    late_events: 3,
    event_time_events: 500,
    ingest_time_events: 0,
    outliers: 12,
    outlier_rate: 0.024,
    mean_confidence: 0.81,
    accuracy: 0.7,
    macro_f1: 0.55,
    estimated_accuracy: 0.72,
    estimated_macro_f1: 0.57,
    status: 'green',
    state_lost: 0,
    reference_scope: 'global',
    reference_rows: 4000,
    written_at: T0 + HOUR,
    ...overrides,
  };
}

const toInsert = <T extends { window_start: number; window_end: number; written_at: number }>(row: T): Record<string, unknown> => ({
  ...row,
  window_start: chTime(row.window_start),
  window_end: chTime(row.window_end),
  written_at: chTime(row.written_at),
});

describe('drift routes over ClickHouse', () => {
  let dir: string;
  let client: ClickHouseClient;
  let test: TestApi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftline-api-drift-'));
    client = await createClickHouse(coreSettings.load({}, { clickhouseUrl: '', clickhousePath: join(dir, 'chdb') }));
    for (const query of driftTableMigrations(DATABASE)) await client.command({ query });
    const metrics = [
      metricRow({}),
      metricRow({ feature: 'rating', metric: 'chi_square', value: 31.5, p_value: 0.0001, p_value_adjusted: 0.0004, raw_status: 'red', status: 'amber' }),
      // Window 2: text length drifted; the first write of this key is replaced by a retry.
      metricRow({ window_start: T0 + HOUR, window_end: T0 + 2 * HOUR, value: 0.2, raw_status: 'amber', status: 'amber', written_at: T0 + 2 * HOUR }),
      metricRow({ window_start: T0 + HOUR, window_end: T0 + 2 * HOUR, value: 0.31, raw_status: 'red', status: 'red', written_at: T0 + 2 * HOUR + 5_000 }),
      metricRow({ window_start: T0 + 2 * HOUR, window_end: T0 + 3 * HOUR, model_version: 2 }),
      // A larger window size (DRIFTLINE_WINDOW_SIZES=1h,2h) starting with the first hour: listed only when asked for.
      metricRow({ window_end: T0 + 2 * HOUR, window_size_ms: 2 * HOUR, value: 0.15, raw_status: 'amber', status: 'amber' }),
    ];
    await client.insert({ table: `${DATABASE}.${DRIFT_METRICS_TABLE}`, values: metrics.map(toInsert), format: 'JSONEachRow' });
    const summaries = [
      summaryRow({}),
      summaryRow({ window_start: T0 + HOUR, window_end: T0 + 2 * HOUR, status: 'red', outlier_rate: 0.2, state_lost: 1, accuracy: null, macro_f1: null }),
      summaryRow({ window_end: T0 + 2 * HOUR, window_size_ms: 2 * HOUR, events: 1_000, status: 'amber' }),
      // Written before window sizes existed (window_size_ms 0): its size is window_end - window_start.
      summaryRow({ model_name: 'legacy', window_size_ms: 0 }),
    ];
    await client.insert({ table: `${DATABASE}.${WINDOW_SUMMARY_TABLE}`, values: summaries.map(toInsert), format: 'JSONEachRow' });
    test = await buildTestApi({ loadModel: false, clickhouse: client, core: { clickhouseDatabase: DATABASE } });
  });

  afterAll(async () => {
    await test?.close();
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists drift metrics newest window first, one row per key (the retried write wins)', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/v1/drift?model=reviews&version=1' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.total).toBe(3);
    expect(body.items.map((item: { window_start: string; feature: string }) => [item.window_start, item.feature])).toEqual([
      [new Date(T0 + HOUR).toISOString(), 'feature.text_length'],
      [new Date(T0).toISOString(), 'feature.text_length'],
      [new Date(T0).toISOString(), 'rating'],
    ]);
    expect(body.items[0]).toMatchObject({ value: 0.31, status: 'red', raw_status: 'red', current_count: 500, reference_count: 4000, model_version: 1 });
    expect(body.items[2]).toMatchObject({ metric: 'chi_square', p_value: 0.0001, p_value_adjusted: 0.0004, status: 'amber' });
    expect(body.next_offset).toBeNull();
  });

  it('filters by feature, metric, status and time range', async () => {
    const byStatus = (await test.api.app.inject({ method: 'GET', url: '/v1/drift?status=amber' })).json();
    expect(byStatus.items.map((item: { feature: string }) => item.feature)).toEqual(['rating']);
    const byFeature = (await test.api.app.inject({ method: 'GET', url: '/v1/drift?feature=feature.text_length&metric=psi' })).json();
    expect(byFeature.total).toBe(3);
    const range = `from=${encodeURIComponent(new Date(T0 + HOUR).toISOString())}&to=${T0 + 2 * HOUR}`;
    const byTime = (await test.api.app.inject({ method: 'GET', url: `/v1/drift?${range}` })).json();
    expect(byTime.items).toHaveLength(1);
    expect(byTime.items[0].value).toBe(0.31);
  });

  it('pages with limit/offset and says where the next page starts', async () => {
    const first = (await test.api.app.inject({ method: 'GET', url: '/v1/drift?limit=2' })).json();
    expect(first).toMatchObject({ total: 4, limit: 2, offset: 0, next_offset: 2 });
    const second = (await test.api.app.inject({ method: 'GET', url: '/v1/drift?limit=2&offset=2' })).json();
    expect(second.items).toHaveLength(2);
    expect(second.next_offset).toBeNull();
    const keys = [...first.items, ...second.items].map((item: { window_start: string; feature: string; model_version: number }) => `${item.window_start}|${item.feature}|${item.model_version}`);
    expect(new Set(keys).size).toBe(4);
  });

  it('lists window summaries', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/v1/drift/windows?model=reviews' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.total).toBe(2);
    // Window 2 had no usable ratings: no realized figures, but the label-free estimates are there.
    expect(body.items[0]).toMatchObject({ status: 'red', state_lost: true, accuracy: null, macro_f1: null, estimated_accuracy: 0.72, estimated_macro_f1: 0.57, outlier_rate: 0.2, events: 500, late_events: 3 });
    expect(body.items[1]).toMatchObject({ status: 'green', state_lost: false, accuracy: 0.7, macro_f1: 0.55, estimated_accuracy: 0.72, estimated_macro_f1: 0.57 });
    const red = (await test.api.app.inject({ method: 'GET', url: '/v1/drift/windows?status=red' })).json();
    expect(red.total).toBe(1);
  });

  it('answers one window size at a time: the smallest unless window_size names another', async () => {
    const hours = (await test.api.app.inject({ method: 'GET', url: '/v1/drift/windows?model=reviews' })).json();
    expect(hours.items.map((item: { window_size_ms: number }) => item.window_size_ms)).toEqual([HOUR, HOUR]);
    for (const size of ['2h', '120m', String(2 * HOUR)]) {
      const twoHours = (await test.api.app.inject({ method: 'GET', url: `/v1/drift/windows?model=reviews&window_size=${size}` })).json();
      expect(twoHours.items.map((item: { window_size_ms: number; events: number; window_end: string }) => [item.window_size_ms, item.events, item.window_end])).toEqual([[2 * HOUR, 1_000, new Date(T0 + 2 * HOUR).toISOString()]]);
    }
    const metrics = (await test.api.app.inject({ method: 'GET', url: '/v1/drift?model=reviews&version=1&window_size=2h' })).json();
    expect(metrics.items.map((item: { value: number; status: string }) => [item.value, item.status])).toEqual([[0.15, 'amber']]);
    const legacy = (await test.api.app.inject({ method: 'GET', url: '/v1/drift/windows?model=legacy&window_size=1h' })).json();
    expect(legacy.items.map((item: { window_size_ms: number }) => item.window_size_ms)).toEqual([HOUR]);
    const bad = await test.api.app.inject({ method: 'GET', url: '/v1/drift/windows?window_size=an%20hour' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'REQUEST_INVALID', field: 'window_size' });
  });

  it('refuses bad query parameters with 400 naming each field', async () => {
    const response = await test.api.app.inject({ method: 'GET', url: '/v1/drift?limit=0&status=purple&version=x' });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('REQUEST_INVALID');
    expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['limit', 'status', 'version']);
    const badTime = await test.api.app.inject({ method: 'GET', url: '/v1/drift?from=yesterday' });
    expect(badTime.statusCode).toBe(400);
    expect(badTime.json()).toMatchObject({ code: 'REQUEST_INVALID', field: 'from' });
  });
});

describe('drift routes without ClickHouse', () => {
  it('answer 503 CLICKHOUSE_UNAVAILABLE', async () => {
    const test = await buildTestApi({ loadModel: false });
    try {
      const response = await test.api.app.inject({ method: 'GET', url: '/v1/drift' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'CLICKHOUSE_UNAVAILABLE', retriable: true });
    } finally {
      await test.close();
    }
  });
});
