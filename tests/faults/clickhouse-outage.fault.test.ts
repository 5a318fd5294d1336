/**
 * Fault: ClickHouse unreachable for a while. Closed windows queue their rows in Redis and the writer retries
 * with back-off; once ClickHouse answers again every drift row arrives, once per deterministic key, and the
 * window totals still add up to the number of reviews.
 *
 * Why a proxy: ClickHouse here is embedded chdb, a library inside the aggregator's process, not a server
 * process that could be stopped (and one chdb path belongs to one process). So the fault is injected at the
 * client boundary: the aggregator runs in-process with its deps injected, and its ClickHouseClient is the
 * real chdb client behind a proxy whose insert/command throw CLICKHOUSE_UNAVAILABLE while a switch is on —
 * what the aggregator would see from an unreachable server. Queries and everything else go through.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { loadDriftThresholds } from '../../core/drift/config.js';
import { DriftlineError } from '../../core/errors.js';
import { createKafka } from '../../core/kafka.js';
import { createLogger } from '../../core/logger.js';
import { registryBaselineProvider } from '../../drift-aggregator/baselines.js';
import type { ClosedWindow } from '../../drift-aggregator/types.js';
import { aggregatorSettings } from '../../drift-aggregator/config.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import { startScorer, waitUntil, type ScorerChild } from '../scorer/helpers.js';
import {
  createPipeline,
  drainPipeline,
  expectedWindowCounts,
  ingestLines,
  printTotals,
  readWindows,
  reviewLines,
  waitForLog,
  windowKey,
  type Pipeline,
} from '../support/pipeline.js';

const TOTAL = 1_200;
const RATE = 75;
const WINDOWS_DURING_OUTAGE = 3;

interface Outage {
  on: boolean;
  refused: number;
}

/** The real client, except that writes fail while the outage switch is on. */
function unreachableWhileOn(real: ClickHouseClient, outage: Outage): ClickHouseClient {
  return new Proxy(real, {
    get(target, property) {
      if ((property === 'insert' || property === 'command') && outage.on) {
        return async () => {
          outage.refused++;
          throw new DriftlineError('CLICKHOUSE_UNAVAILABLE', 'injected fault: ClickHouse is unreachable');
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const driftKey = (row: { model_version: number | string; segment: string; feature: string; metric: string; start: number | string }): string =>
  `${row.model_version}|${row.segment}|${row.feature}|${row.metric}|${row.start}`;

describe('fault: ClickHouse unreachable for a few windows', () => {
  let pipeline: Pipeline;
  let redis: Redis;
  let real: ClickHouseClient | undefined;
  let service: AggregatorService | undefined;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    pipeline = await createPipeline('clickhouse');
    redis = new Redis(pipeline.core.redisUrl);
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await service?.stop().catch(() => undefined);
    await real?.close();
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
  });

  it('writes every drift row once after ClickHouse is back', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const started = Date.now();
    const reviews = reviewLines(TOTAL, 600);
    real = await createClickHouse(pipeline.core);
    const outage: Outage = { on: false, refused: 0 };
    service = new AggregatorService({
      core: pipeline.core,
      settings: aggregatorSettings.load(pipeline.env),
      thresholds: loadDriftThresholds(pipeline.env),
      kafka: createKafka(pipeline.core, `aggregator-${pipeline.id}`),
      redis,
      clickhouse: unreachableWhileOn(real, outage),
      baselines: registryBaselineProvider(pipeline.registryDir),
      rollbackTarget: null,
      log: createLogger('fault-clickhouse', 'error'),
    });
    const closed: ClosedWindow[] = [];
    const closedDuringOutage = new Set<string>();
    service.onWindowClosed((window) => {
      closed.push(window);
      if (outage.on) closedDuringOutage.add(`${window.ref.modelVersion}|${window.ref.start}`);
    });
    await service.start();
    const scorer = startScorer(pipeline, 'clickhouse-scorer');
    children.push(scorer);
    await waitForLog(scorer, 'scorer started', 120_000);

    let pendingAtRecovery = 0;
    const fault = (async () => {
      await waitUntil('a first window to close', () => closed.length >= 1, 120_000, children);
      outage.on = true;
      await waitUntil(`${WINDOWS_DURING_OUTAGE} windows to close during the outage`, () => closedDuringOutage.size >= WINDOWS_DURING_OUTAGE, 120_000, children);
      pendingAtRecovery = await service!.writer.pendingCount();
      outage.on = false;
    })();
    const ingested = await ingestLines(pipeline, reviews.map((r) => r.line), RATE);
    await fault;
    expect(ingested.published).toBe(TOTAL);
    // The outage really held rows back: writes were refused and rows waited in Redis.
    expect(outage.refused).toBeGreaterThan(0);
    expect(pendingAtRecovery).toBeGreaterThan(0);

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    await service.stop();

    const database = pipeline.core.clickhouseDatabase;
    const { rows: windows } = await readWindows(real, database);
    const driftRows = async (final: boolean): Promise<string[]> => {
      const result = await real!.query({
        query: `SELECT model_version, segment, feature, metric, toUnixTimestamp64Milli(window_start) AS start FROM ${database}.drift_metrics ${final ? 'FINAL' : ''}`,
        format: 'JSONEachRow',
      });
      return ((await result.json()) as Array<{ model_version: number; segment: string; feature: string; metric: string; start: string }>).map(driftKey);
    };
    const finalKeys = await driftRows(true);
    const rawKeys = await driftRows(false);
    const expectedKeys = closed.flatMap((window) => window.rows.map((row) => driftKey({ ...row, start: row.window_start })));
    const outageWindow = (key: string): boolean => {
      const [version, , , , start] = key.split('|');
      return closedDuringOutage.has(`${version}|${start}`);
    };
    const windowEvents = windows.reduce((sum, row) => sum + row.events + row.late, 0);
    printTotals('clickhouse-outage', {
      ingested: ingested.published,
      scored: scored.length,
      unique: counts.size,
      window_events: windowEvents,
      windows: windows.length,
      windows_closed_during_outage: closedDuringOutage.size,
      refused_writes: outage.refused,
      pending_rows_at_recovery: pendingAtRecovery,
      drift_rows_expected: expectedKeys.length,
      drift_rows_final: finalKeys.length,
      drift_rows_raw: rawKeys.length,
      seconds: Math.round((Date.now() - started) / 1000),
    });

    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(counts.size).toBe(TOTAL);
    expect(windowEvents).toBe(TOTAL);
    expect(new Map(windows.map((row) => [windowKey(row), row.events + row.late]))).toEqual(expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs));
    // Every drift row of every closed window arrived, once per key (FINAL), none missing, none extra.
    expect(new Set(expectedKeys).size).toBe(expectedKeys.length);
    expect(finalKeys.sort()).toEqual([...expectedKeys].sort());
    // The rows that waited out the outage were written exactly once, even without FINAL.
    const rawOutage = rawKeys.filter(outageWindow);
    expect(rawOutage.length).toBeGreaterThan(0);
    expect(rawOutage.sort()).toEqual(finalKeys.filter(outageWindow).sort());
  });
});
