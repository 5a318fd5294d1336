/**
 * Redis state lost behind Kafka's committed offsets (Redis restarted without persistence): the
 * aggregator detects it, raises the STATE_LOST gauge and marks the affected window state_lost=1
 * instead of presenting partial counts as complete.
 */
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import type { AggregatorSettings } from '../../drift-aggregator/config.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { publishScored, testSetup, waitFor, testAggregator } from './harness.js';

const MODEL = 'lost-model';
const setup = testSetup();
const { core } = setup;
const kafka = createKafka(core, 'lost-test');
const redis = new Redis(core.redisUrl);
let clickhouse: ClickHouseClient | undefined;
const random = seededRandom(31);
const firstWindow = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

function service(settings: AggregatorSettings, client: ClickHouseClient): AggregatorService {
  return testAggregator('lost-test', {
    core,
    settings,
    kafka,
    redis,
    clickhouse: client,
    baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]),
  });
}

function reviews(window: number, count: number, offset: number) {
  return Array.from({ length: count }, (_, i) => syntheticReview(offset + i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + window * 60_000 + (offset + i) * 10 }));
}

async function wipeRedisState(): Promise<void> {
  const keys = await redis.keys(`${core.redisPrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

afterAll(async () => {
  await clickhouse?.close();
  await wipeRedisState();
  redis.disconnect();
  rmSync(core.clickhousePath, { recursive: true, force: true });
});

describe('lost Redis state', () => {
  it('is detected and the partial window is marked state_lost, not reported as complete', async () => {
    await ensureTopics(kafka, [core.topicScored], core);
    clickhouse = await createClickHouse(core);
    // Phase 1: half of window 0 is counted and committed; the window stays open (no idle close).
    const before = service({ ...setup.settings, idleCloseMs: 600_000 }, clickhouse);
    await before.start();
    await publishScored(kafka, core.topicScored, reviews(0, 300, 0));
    await waitFor(async () => (await before.metrics.eventsConsumed.get()).values[0]?.value === 300, 60_000, 'phase 1 events to be applied');
    await before.stop();

    // Redis restarts without persistence: every aggregator key is gone, Kafka still has the commits.
    await wipeRedisState();
    await publishScored(kafka, core.topicScored, [...reviews(0, 300, 300), ...reviews(1, 300, 600)]);
    const after = service(setup.settings, clickhouse);
    await after.start();
    await waitFor(async () => (await redis.zcard(after.state.key('open'))) === 0 && (await after.metrics.windowsClosed.get()).values[0]?.value === 2, 60_000, 'both windows to close');
    await waitFor(async () => (await after.writer.pendingCount()) === 0, 60_000, 'rows to be written');
    expect((await after.metrics.stateLost.get()).values[0]?.value).toBe(1);
    await after.stop();

    const rows = (await (
      await clickhouse.query({
        query: `SELECT toUnixTimestamp64Milli(window_start) AS start, events, state_lost FROM ${core.clickhouseDatabase}.window_summary FINAL WHERE segment = '__all__' ORDER BY start`,
        format: 'JSONEachRow',
      })
    ).json()) as Array<{ start: string; events: string; state_lost: number }>;
    expect(rows.map((r) => ({ start: Number(r.start), events: Number(r.events), stateLost: r.state_lost }))).toEqual([
      { start: firstWindow, events: 300, stateLost: 1 },
      { start: firstWindow + 60_000, events: 300, stateLost: 0 },
    ]);
  });
});
