/**
 * POST /v1/models/:name/promote with gate "shadow" against real embedded ClickHouse (chdb, temp path):
 * window_summary rows of production (v1) and a staged copy (v2) are inserted through the shared DDL, and
 * the route promotes only when v2's live macro-F1 beats v1's by the margin on enough reviews.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { WINDOW_SUMMARY_TABLE, driftTableMigrations, type WindowSummaryRow } from '../../core/drift/tables.js';
import { ADMIN_TOKEN, MODEL_NAME, buildTestApi, registerShippedCopy, type TestApi } from './helpers.js';

const DATABASE = 'driftline_api_shadow_gate';
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

function summary(version: number, minute: number, macroF1: number, sizeMs = MINUTE): Record<string, unknown> {
  const row: WindowSummaryRow = {
    window_start: T0 + minute * MINUTE,
    window_end: T0 + minute * MINUTE + sizeMs,
    window_size_ms: sizeMs,
    model_name: MODEL_NAME,
    model_version: version,
    segment: '__all__',
    events: 300,
    late_events: 0,
    event_time_events: 300,
    ingest_time_events: 0,
    outliers: 3,
    outlier_rate: 0.01,
    mean_confidence: 0.8,
    accuracy: macroF1 + 0.1,
    macro_f1: macroF1,
    estimated_accuracy: null,
    estimated_macro_f1: null,
    status: 'green',
    state_lost: 0,
    reference_scope: 'global',
    reference_rows: 1000,
    written_at: T0 + (minute + 1) * MINUTE,
  };
  return { ...row, window_start: chTime(row.window_start), window_end: chTime(row.window_end), written_at: chTime(row.written_at) };
}

describe('promote with gate "shadow"', () => {
  let dir: string;
  let client: ClickHouseClient;
  let test: TestApi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftline-api-shadow-gate-'));
    client = await createClickHouse(coreSettings.load({}, { clickhouseUrl: '', clickhousePath: join(dir, 'chdb') }));
    for (const query of driftTableMigrations(DATABASE)) await client.command({ query });
    const rows = [0, 1, 2].flatMap((minute) => [summary(1, minute, 0.6), summary(2, minute, 0.64)]);
    // A larger window size: the gate compares the smallest only (this 3-minute window would flatter v2).
    rows.push(summary(2, 0, 0.99, 3 * MINUTE), summary(1, 0, 0.1, 3 * MINUTE));
    await client.insert({ table: `${DATABASE}.${WINDOW_SUMMARY_TABLE}`, values: rows, format: 'JSONEachRow' });
    test = await buildTestApi({ clickhouse: client, core: { clickhouseDatabase: DATABASE } });
    expect(await registerShippedCopy(test.registry)).toBe(2);
  });

  afterAll(async () => {
    await test?.close();
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses with 409 PROMOTION_REFUSED naming the numbers, then promotes when the margin is met', async () => {
    // force: the copy has no held-out metrics, so only the registry's held-out check is skipped; the gate still decides.
    const promote = (payload: Record<string, unknown>) =>
      test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/promote`, payload: { version: 2, gate: 'shadow', force: true, ...payload }, headers: auth });
    const refused = await promote({ gate_margin: 0.05, gate_min_reviews: 900 });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('PROMOTION_REFUSED');
    expect(refused.json().message).toContain('candidate v2 live macro-F1 0.6400 vs production v1 0.6000 over 3 windows, 900 reviews');
    const tooFew = await promote({ gate_margin: 0.01, gate_min_reviews: 901 });
    expect(tooFew.statusCode).toBe(409);
    expect(tooFew.json().message).toContain('fewer than the 901 reviews required');
    expect(await test.registry.productionVersion(MODEL_NAME)).toBe(1);

    const promoted = await promote({ gate_margin: 0.03, gate_min_reviews: 900 });
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect(await test.registry.productionVersion(MODEL_NAME)).toBe(2);
    expect((await test.registry.get(MODEL_NAME, 2)).stage_history.at(-1)?.reason).toContain('shadow gate: candidate v2 live macro-F1 0.6400');
  });

  it('checks the gate options', async () => {
    const response = await test.api.app.inject({ method: 'POST', url: `/v1/models/${MODEL_NAME}/promote`, payload: { version: 2, gate: 'canary' }, headers: auth });
    expect(response.statusCode).toBe(400);
  });
});
