/**
 * The recent-sample store on real Redis and embedded ClickHouse: the reservoir applied by the batch's Lua
 * apply keeps the K smallest hashes of the window's review_ids however the stream is batched, ordered or
 * replayed; closing the window writes exactly those reviews (text, rating, prediction) to recent_reviews,
 * whose TTL follows DRIFTLINE_RECENT_SAMPLE_RETENTION_DAYS.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { RECENT_REVIEWS_TABLE } from '../../core/drift/tables.js';
import { createLogger } from '../../core/logger.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../../drift-aggregator/baselines.js';
import { PendingRowWriter, runMigrations } from '../../drift-aggregator/clickhouse-writer.js';
import { WindowCloser } from '../../drift-aggregator/closer.js';
import { BatchAggregate } from '../../drift-aggregator/increments.js';
import { sampleHash, type SampledReview } from '../../drift-aggregator/recent-sample.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { AggregatorMetrics } from '../../drift-aggregator/telemetry.js';
import { windowId } from '../../drift-aggregator/windows.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { testSetup } from './harness.js';

const MODEL = 'sample-model';
const WINDOW_MS = 60_000;
const KEEP = 25;
// Windows of ten minutes ago, not of 1970: recent_reviews has a TTL on window_start, and a background merge
// would drop rows of 1970 windows before the test reads them.
const BASE_MS = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 10 * WINDOW_MS;
const { core } = testSetup();
const log = createLogger('recent-sample-test', 'silent');
const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1, 1_000)]), 5);
let redis: Redis;
let clickhouse: ClickHouseClient;
const states: AggregatorState[] = [];

function reviews(window: number, count: number): ScoredReview[] {
  const random = seededRandom(40 + window);
  return Array.from({ length: count }, (_, i) => ({
    ...syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: BASE_MS + window * WINDOW_MS + i }),
    review_id: `w${window}-r${i}`,
    title: `title ${i}`,
    text: `review text number ${i}`,
  }));
}

async function newState(): Promise<AggregatorState> {
  const state = new AggregatorState(redis, `t-${randomUUID()}`);
  await state.loadScript();
  states.push(state);
  return state;
}

/** Applies `batches` in order on partition 0; returns the last offset. */
async function applyAll(state: AggregatorState, batches: ScoredReview[][]): Promise<number> {
  let offset = -1;
  for (const batch of batches) {
    const aggregate = new BatchAggregate({ windowMs: WINDOW_MS, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v), samplePerWindow: KEEP });
    for (const review of batch) aggregate.add(review);
    const input = { topic: 'scored', partition: 0, expectedPrevOffset: offset, lastOffset: offset + batch.length, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS };
    expect((await state.applyBatch(input)).status).toBe('applied');
    // A replay of the same batch (a restart before the Kafka commit) is skipped and samples nothing twice.
    expect((await state.applyBatch(input)).status).toBe('skipped');
    offset += batch.length;
  }
  return offset;
}

const sampledIds = async (state: AggregatorState, window: number): Promise<string[]> =>
  (await state.readSample(windowId({ modelName: MODEL, modelVersion: 1, start: BASE_MS + window * WINDOW_MS }))).map(([member]) => (JSON.parse(member) as SampledReview).review_id);

beforeAll(async () => {
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  // Created with the default retention, then started with 3 days: the TTL follows the setting.
  await runMigrations(clickhouse, core.clickhouseDatabase);
  await runMigrations(clickhouse, core.clickhouseDatabase, 3);
  await catalog.ensure([{ modelName: MODEL, version: 1 }]);
}, 120_000);

afterAll(async () => {
  for (const state of states) {
    const keys = await redis.keys(`${state.base}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  await clickhouse.close();
  rmSync(core.clickhousePath, { recursive: true, force: true });
});

describe('recent-sample store', () => {
  const window0 = reviews(0, 600);
  const smallest = [...window0].sort((a, b) => sampleHash(a.review_id) - sampleHash(b.review_id)).slice(0, KEEP).map((r) => r.review_id);

  it('keeps the K smallest hashes of the window, the same for one batch or many in another order, replays skipped', async () => {
    const single = await newState();
    await applyAll(single, [window0]);
    expect(await sampledIds(single, 0)).toEqual(smallest);
    const shuffled = [...window0].reverse();
    const batched = await newState();
    await applyAll(batched, [shuffled.slice(0, 100), shuffled.slice(100, 350), shuffled.slice(350)]);
    expect(await sampledIds(batched, 0)).toEqual(smallest);
  });

  it('a closed window writes its sample to recent_reviews with text, rating and prediction; the TTL is the retention setting', async () => {
    const state = await newState();
    // Window 1 moves the watermark past window 0.
    await applyAll(state, [window0, reviews(1, 10)]);
    const closer = new WindowCloser(
      { windowMs: WINDOW_MS, allowedLatenessMs: 0, idleCloseMs: 600_000, closeLockTtlMs: 10_000, stateTtlSeconds: 3_600, thresholds: defaultDriftThresholds(), rollback: { enabled: false, maxAgeMs: 0, windows: 3 } },
      { state, catalog, metrics: new AggregatorMetrics(), log, rollbackTarget: null },
    );
    expect((await closer.tick()).map((c) => c.ref.start)).toEqual([BASE_MS]);
    const writer = new PendingRowWriter({ redis, pendingKey: state.key('pending'), lockKey: state.key('pending-lock'), client: clickhouse, database: core.clickhouseDatabase, log, retryMaxMs: 1_000 });
    await writer.flush(true);
    const result = await clickhouse.query({
      query: `SELECT review_id, rating, text, title, sentiment, window_size_ms FROM ${core.clickhouseDatabase}.${RECENT_REVIEWS_TABLE} FINAL WHERE model_name = '${MODEL}' ORDER BY sample_hash`,
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ review_id: string; rating: number; text: string; title: string; sentiment: string; window_size_ms: string }>();
    expect(rows.map((r) => r.review_id)).toEqual(smallest);
    const byId = new Map(window0.map((r) => [r.review_id, r]));
    for (const row of rows) {
      const review = byId.get(row.review_id)!;
      expect([row.rating, row.text, row.title, row.sentiment, Number(row.window_size_ms)]).toEqual([review.rating, review.text, review.title, review.sentiment, WINDOW_MS]);
    }
    // The window's sample expires with its other state once closed.
    expect(await redis.ttl(state.partitionKey({ topic: 'scored', partition: 0 }, 'sample', windowId({ modelName: MODEL, modelVersion: 1, start: BASE_MS })))).toBeGreaterThan(0);
    const create = await (await clickhouse.query({ query: `SHOW CREATE TABLE ${core.clickhouseDatabase}.${RECENT_REVIEWS_TABLE}`, format: 'TabSeparatedRaw' })).text();
    expect(create).toContain('toIntervalDay(3)');
  });
});
