/** Pending ClickHouse rows: kept in Redis while ClickHouse is down, written once it is back, never duplicated. */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { DeadLetterPublisher } from '../../core/deadletter.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { createLogger } from '../../core/logger.js';
import { DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE, type DriftMetricRow } from '../../core/drift/tables.js';
import { PendingRowWriter, runMigrations, type PendingEntry } from '../../drift-aggregator/clickhouse-writer.js';
import { collect, testSetup } from './harness.js';

const { core } = testSetup();
const log = createLogger('ch-writer-test', 'silent');
const prefix = `t-${randomUUID()}`;
const pendingKey = `${prefix}:pending`;
let redis: Redis;
let clickhouse: ClickHouseClient;
let unreachable: ClickHouseClient;

function row(i: number, writtenAt: number): DriftMetricRow {
  return {
    window_start: 1_700_000_000_000 + i * 60_000,
    window_end: 1_700_000_060_000 + i * 60_000,
    window_size_ms: 60_000,
    model_name: 'ch-test',
    model_version: 1,
    segment: '__all__',
    feature: 'feature.text_length',
    metric: 'psi',
    value: i / 10,
    p_value: null,
    p_value_adjusted: null,
    threshold_amber: 0.1,
    threshold_red: 0.25,
    raw_status: 'green',
    status: 'green',
    current_count: 100,
    reference_count: 1000,
    written_at: writtenAt,
  };
}

async function queue(rows: DriftMetricRow[]): Promise<void> {
  await redis.rpush(pendingKey, ...rows.map((r) => JSON.stringify({ table: DRIFT_METRICS_TABLE, row: r } satisfies PendingEntry)));
}

async function countRows(final: boolean): Promise<number> {
  const result = await clickhouse.query({ query: `SELECT count() AS n FROM ${core.clickhouseDatabase}.drift_metrics ${final ? 'FINAL' : ''} WHERE model_name = 'ch-test'`, format: 'JSONEachRow' });
  return Number(((await result.json()) as Array<{ n: string }>)[0]!.n);
}

beforeAll(async () => {
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  unreachable = await createClickHouse({ ...core, clickhouseUrl: 'http://127.0.0.1:1' });
  await runMigrations(clickhouse, core.clickhouseDatabase);
});

afterAll(async () => {
  await redis.del(pendingKey, `${prefix}:lock`);
  redis.disconnect();
  await unreachable.close();
  await clickhouse.close();
  rmSync(core.clickhousePath, { recursive: true, force: true });
});

describe('pending ClickHouse rows', () => {
  it('migrations are idempotent', async () => {
    await expect(runMigrations(clickhouse, core.clickhouseDatabase)).resolves.toBeUndefined();
  });

  it('a window_summary table created before the label-free estimate gets its columns (old rows read NULL)', async () => {
    const database = `${core.clickhouseDatabase}_old`;
    await clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    await clickhouse.command({
      query: `CREATE TABLE IF NOT EXISTS ${database}.${WINDOW_SUMMARY_TABLE} (window_start DateTime64(3, 'UTC'), window_end DateTime64(3, 'UTC'),
        model_name LowCardinality(String), model_version UInt32, segment LowCardinality(String), events UInt64, late_events UInt64,
        outliers UInt64, outlier_rate Float64, mean_confidence Float64, accuracy Nullable(Float64), macro_f1 Nullable(Float64),
        status LowCardinality(String), state_lost UInt8, written_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree(written_at)
        ORDER BY (model_name, model_version, segment, window_start)`,
    });
    await clickhouse.insert({
      table: `${database}.${WINDOW_SUMMARY_TABLE}`,
      values: [{ window_start: '2026-01-01 00:00:00.000', window_end: '2026-01-01 00:01:00.000', model_name: 'old', model_version: 1, segment: '__all__', events: 5, late_events: 0, outliers: 0, outlier_rate: 0, mean_confidence: 0.8, accuracy: 0.8, macro_f1: 0.6, status: 'green', state_lost: 0, written_at: '2026-01-01 00:01:00.000' }],
      format: 'JSONEachRow',
    });
    await runMigrations(clickhouse, database);
    const result = await clickhouse.query({ query: `SELECT accuracy, estimated_accuracy, estimated_macro_f1 FROM ${database}.${WINDOW_SUMMARY_TABLE} FINAL`, format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ accuracy: 0.8, estimated_accuracy: null, estimated_macro_f1: null }]);
    await clickhouse.command({ query: `DROP DATABASE ${database}` });
  });

  it('keeps rows queued while ClickHouse is down and backs off', async () => {
    await queue([0, 1, 2, 3, 4].map((i) => row(i, 1)));
    const down = new PendingRowWriter({ redis, pendingKey, lockKey: `${prefix}:lock`, client: unreachable, database: core.clickhouseDatabase, log, retryMaxMs: 60_000 });
    expect(await down.flush()).toBe(0);
    expect(await redis.llen(pendingKey)).toBe(5);
    // Backing off: the next call does not even try.
    expect(await down.flush()).toBe(0);
    expect(await down.pendingCount()).toBe(5);
  });

  it('writes them once ClickHouse is back, and a retried write replaces instead of duplicating', async () => {
    const up = new PendingRowWriter({ redis, pendingKey, lockKey: `${prefix}:lock`, client: clickhouse, database: core.clickhouseDatabase, log, retryMaxMs: 60_000 });
    expect(await up.flush()).toBe(5);
    expect(await redis.llen(pendingKey)).toBe(0);
    // A closer that crashed after queueing re-closes the window: the same keys, a newer written_at.
    await queue([0, 1, 2, 3, 4].map((i) => row(i, 2)));
    expect(await up.flush()).toBe(5);
    expect(await countRows(true)).toBe(5);
    const latest = await clickhouse.query({ query: `SELECT DISTINCT toUnixTimestamp64Milli(written_at) AS w FROM ${core.clickhouseDatabase}.drift_metrics FINAL WHERE model_name = 'ch-test'`, format: 'JSONEachRow' });
    expect(((await latest.json()) as Array<{ w: string }>).map((r) => Number(r.w))).toEqual([2]);
  });

  it('dead-letters a row it cannot encode (with the reason) and writes the rest, instead of blocking the queue', async () => {
    const kafka = createKafka(core, 'ch-writer-test');
    await ensureTopics(kafka, [core.topicDeadLetter], core);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const writer = new PendingRowWriter({
        redis, pendingKey, lockKey: `${prefix}:lock`, client: clickhouse, database: core.clickhouseDatabase, log, retryMaxMs: 60_000,
        deadLetters: new DeadLetterPublisher(producer, core.topicDeadLetter),
      });
      const poison = { ...row(11, 3), window_start: 9e15 }; // beyond the Date range: toISOString throws
      const before1900 = { ...row(12, 3), window_end: -3e12 }; // 1874: outside ClickHouse DateTime64
      const noTime = { ...row(13, 3), written_at: null as unknown as number }; // JSON turned a NaN into null
      await queue([row(10, 3), poison, before1900, noTime, row(14, 3)]);
      await redis.rpush(pendingKey, '{"table":"drift_metrics","row":'); // a corrupt entry
      expect(await writer.flush()).toBe(2);
      expect(await redis.llen(pendingKey)).toBe(0);
      expect(await countRows(true)).toBe(7); // 5 earlier + windows 10 and 14
      // The queue is not blocked: a later row goes straight through.
      await queue([row(15, 3)]);
      expect(await writer.flush()).toBe(1);
      expect(await countRows(true)).toBe(8);

      const letters = await collect(kafka, core.topicDeadLetter, 'DeadLetter', { expected: 4, timeoutMs: 30_000 });
      // The dead-letter topic has several partitions: compare without order.
      expect(letters.map((l) => [l.value.stage, l.value.error_code, l.value.field].join(' ')).sort()).toEqual([
        'aggregator RECORD_UNPARSEABLE (record)',
        'aggregator TIMESTAMP_INVALID window_end',
        'aggregator TIMESTAMP_INVALID window_start',
        'aggregator TIMESTAMP_INVALID written_at',
      ]);
      const windowStart = letters.find((l) => l.value.field === 'window_start')!.value;
      expect(windowStart.reason).toContain('drift_metrics');
      expect(JSON.parse(windowStart.raw.toString('utf8'))).toMatchObject({ table: 'drift_metrics', row: { window_start: 9e15 } });
      expect(letters.every((l) => l.value.source_file === `redis:${pendingKey}`)).toBe(true);
    } finally {
      await producer.disconnect();
    }
  });
});
