/**
 * Fault: Redis comes back OLDER, not empty (an RDB restore, AOF `everysec` losing its last second, a replica
 * failover). The aggregator's keys are snapshotted (DUMP) mid-stream, the stream goes on (a window that was
 * half counted at the snapshot is completed, closed and written to ClickHouse), then the older snapshot is
 * restored over the live keys (RESTORE ... REPLACE, the newer keys deleted) while the aggregator runs, and
 * the stream goes on again. The aggregator must notice that Redis no longer holds the offsets it applied,
 * replay from Kafka what Redis lost, and never close a window again from the older sketches: at the end
 * every window counts exactly its events, and no ClickHouse row was ever replaced by one with a smaller count.
 *
 * Uses only a private redis-server on a free port (never the shared one), real Kafka and embedded chdb,
 * and the aggregator in this process (its Redis client points at the private server).
 */
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import { windowStartOf } from '../../drift-aggregator/windows.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from '../drift-aggregator/fixtures.js';
import { publishScored, testSetup, waitFor, testAggregator } from '../drift-aggregator/harness.js';
import { startPrivateRedis, type PrivateRedis } from '../support/pipeline.js';

const MODEL = 'rollback-model';
const WINDOW_MS = 60_000;
const PER_WINDOW = 400;
const firstWindow = windowStartOf(Date.now(), WINDOW_MS) - 60 * WINDOW_MS;
const random = seededRandom(77);
let privateRedis: PrivateRedis | undefined;
let redis: Redis;
const services = new Set<AggregatorService>();
const chdbPaths: string[] = [];

/** Unique topics, group, prefix and chdb path per scenario. Idle close well above any pause of the test. */
function scenarioSetup(): ReturnType<typeof testSetup> {
  const setup = testSetup({ windowMs: WINDOW_MS, idleCloseMs: 8_000, maxBatchBytes: 16 * 1024 });
  chdbPaths.push(setup.core.clickhousePath);
  return setup;
}

/** `count` events of window `window`, numbered from `from` (ingest times spread inside the window). */
function reviews(window: number, from: number, count: number): ScoredReview[] {
  return Array.from({ length: count }, (_, i) =>
    syntheticReview(window * PER_WINDOW + from + i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + window * WINDOW_MS + (from + i) * 100 }),
  );
}

interface Snapshot {
  key: string;
  ttl: number;
  dump: Buffer;
}

async function prefixKeys(prefix: string): Promise<string[]> {
  return redis.keys(`${prefix}:*`);
}

/** DUMP of every aggregator key with its TTL: what an RDB written now would bring back. */
async function snapshot(prefix: string): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  for (const key of await prefixKeys(prefix)) {
    const [dump, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
    if (dump) out.push({ key, ttl: Math.max(0, ttl), dump });
  }
  return out;
}

/** Redis "restarts" with the older snapshot: keys created since are gone, the others hold their old values. */
async function restore(prefix: string, saved: Snapshot[]): Promise<void> {
  const multi = redis.multi();
  const keys = await prefixKeys(prefix);
  if (keys.length > 0) multi.del(...keys);
  for (const { key, ttl, dump } of saved) multi.restore(key, ttl, dump, 'REPLACE');
  await multi.exec();
}

async function appliedEvents(prefix: string): Promise<number> {
  const offsets = await new AggregatorState(redis, prefix).appliedOffsets();
  return Object.values(offsets).reduce((sum, offset) => sum + Number(offset) + 1, 0);
}

interface Row {
  start: number;
  events: number;
  late: number;
  stateLost: number;
}

async function summaryRows(clickhouse: ClickHouseClient, database: string, final: boolean): Promise<Row[]> {
  const result = await clickhouse.query({
    query: `SELECT toUnixTimestamp64Milli(window_start) AS start, events, late_events AS late, state_lost AS stateLost
            FROM ${database}.window_summary ${final ? 'FINAL' : ''} WHERE segment = '__all__' ORDER BY start, written_at`,
    format: 'JSONEachRow',
  });
  return ((await result.json()) as Array<Record<string, string | number>>).map((r) => ({ start: Number(r.start), events: Number(r.events), late: Number(r.late), stateLost: Number(r.stateLost) }));
}

beforeAll(async () => {
  privateRedis = await startPrivateRedis();
  redis = new Redis(privateRedis.url);
});

afterAll(async () => {
  for (const service of services) await service.stop();
  redis?.disconnect();
  await privateRedis?.destroy();
  for (const path of chdbPaths) rmSync(path, { recursive: true, force: true });
});

/**
 * Streams windows 0-5; snapshot when window 2 is half counted; window 2 completes and is written; the
 * snapshot is restored (`restart`: while the aggregator is stopped, and a new instance starts on the older
 * Redis); the stream goes on (`quiet`: no further event arrives). Returns the window_summary rows (FINAL and every row written).
 */
async function rollbackScenario(mode: 'live' | 'restart' | 'quiet'): Promise<{ final: Row[]; every: Row[]; expected: Map<number, number>; published: number }> {
  const setup = scenarioSetup();
  const core = { ...setup.core, redisUrl: privateRedis!.url };
  const kafka = createKafka(core, 'rollback-test');
  await ensureTopics(kafka, [core.topicScored], core);
  const clickhouse = await createClickHouse(core);
  const startService = async (): Promise<AggregatorService> => {
    const service = testAggregator('rollback-test', {
      core,
      settings: setup.settings,
      kafka,
      redis,
      clickhouse,
      baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]),
    });
    services.add(service);
    await service.start();
    return service;
  };
  try {
    let service = await startService();
    const expected = new Map<number, number>();
    let published = 0;
    const prefix = core.redisPrefix;
    const publish = async (events: ScoredReview[]): Promise<void> => {
      for (const event of events) expected.set(windowStartOf(event.ingest_time_ms, WINDOW_MS), (expected.get(windowStartOf(event.ingest_time_ms, WINDOW_MS)) ?? 0) + 1);
      await publishScored(kafka, core.topicScored, events);
      published += events.length;
      await waitFor(async () => (await appliedEvents(prefix)) >= published, 60_000, `${published} events to be applied`);
    };
    const rows = (final: boolean): Promise<Row[]> => summaryRows(clickhouse, core.clickhouseDatabase, final);

    // Windows 0-1 complete, window 2 half counted when the snapshot is taken.
    await publish([...reviews(0, 0, PER_WINDOW), ...reviews(1, 0, PER_WINDOW), ...reviews(2, 0, PER_WINDOW / 2)]);
    const saved = await snapshot(prefix);
    // Window 2 completes and closes (the watermark passes it), window 3 opens.
    await publish([...reviews(2, PER_WINDOW / 2, PER_WINDOW / 2), ...reviews(3, 0, PER_WINDOW), ...reviews(4, 0, 10)]);
    const window2 = firstWindow + 2 * WINDOW_MS;
    await waitFor(async () => (await rows(true)).some((row) => row.start === window2), 60_000, 'window 2 to be written');

    if (mode === 'restart') {
      await service.stop();
      services.delete(service);
      await restore(prefix, saved);
      service = await startService();
    } else await restore(prefix, saved);
    // The stream goes on after the restore ('quiet': it does not, so only the aggregator's own check can notice).
    if (mode !== 'quiet') await publish([...reviews(4, 10, PER_WINDOW - 10), ...reviews(5, 0, PER_WINDOW)]);
    await waitFor(
      async () => (await appliedEvents(prefix)) >= published && (await redis.zcard(new AggregatorState(redis, prefix).key('open'))) === 0 && (await redis.llen(new AggregatorState(redis, prefix).key('pending'))) === 0 && (await rows(true)).length === expected.size,
      90_000,
      'every window to be closed and written',
    );
    const result = { final: await rows(true), every: await rows(false), expected, published };
    await service.stop();
    services.delete(service);
    return result;
  } finally {
    await clickhouse.close();
  }
}

function expectExact({ final, every, expected, published }: Awaited<ReturnType<typeof rollbackScenario>>, name: string): void {
  const counted = (row: Row): number => row.events + row.late;
  console.log(`fault ${name}: published=${published} windows=${final.length} rows_written=${every.length} counts=${final.map((row) => `${(row.start - firstWindow) / WINDOW_MS}:${counted(row)}`).join(',')}`);
  expect(final.map((row) => ({ start: row.start, counted: counted(row), stateLost: row.stateLost }))).toEqual(
    [...expected].sort(([a], [b]) => a - b).map(([start, count]) => ({ start, counted: count, stateLost: 0 })),
  );
  // No row ever replaced a newer one with a smaller count: per window, in write order, counts only grow
  // (a window closed early by the idle timeout on a loaded machine is rewritten as its late events arrive).
  const shrinking = every.filter((row, index) => index > 0 && every[index - 1]!.start === row.start && counted(row) < counted(every[index - 1]!));
  expect(shrinking).toEqual([]);
  expect(every.filter((row) => counted(row) > (expected.get(row.start) ?? 0))).toEqual([]);
}

describe('fault: Redis restored from an older snapshot mid-stream', () => {
  it('replays what Redis lost from Kafka: every window ends exact, no row is replaced by a smaller count', async () => {
    expectExact(await rollbackScenario('live'), 'redis-rollback');
  });

  it('also when the aggregator restarts on the older Redis (Kafka committed beyond it): replays instead of marking state lost', async () => {
    expectExact(await rollbackScenario('restart'), 'redis-rollback-restart');
  });

  it('also when no further event arrives after the restore: the aggregator notices on its own and replays', async () => {
    expectExact(await rollbackScenario('quiet'), 'redis-rollback-quiet');
  });
});
