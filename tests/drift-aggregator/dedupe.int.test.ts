/**
 * The aggregator is the final guard of "one review, counted once": the same review_id sent again (a re-run
 * ingest, a producer retry) is not added to any window again inside DRIFTLINE_DEDUPE_HORIZON_S, whatever
 * its ingest time. And its dead letters are published once, not once per attempt at a batch.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import { windowStartOf } from '../../drift-aggregator/windows.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { collect, publishScored, testSetup, waitFor, releaseTestAggregator, testAggregator } from './harness.js';

const MODEL = 'dedupe-model';
const WINDOW_MS = 60_000;
const PER_WINDOW = 200;
const setup = testSetup({ windowMs: WINDOW_MS, idleCloseMs: 3_000, maxBatchBytes: 16 * 1024 });
const { core } = setup;
const kafka = createKafka(core, 'dedupe-test');
const redis = new Redis(core.redisUrl);
const random = seededRandom(5);
const firstWindow = windowStartOf(Date.now(), WINDOW_MS) - 30 * WINDOW_MS;
let clickhouse: ClickHouseClient;
let service: AggregatorService;

function reviews(window: number, count: number): ScoredReview[] {
  return Array.from({ length: count }, (_, i) => syntheticReview(window * PER_WINDOW + i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + window * WINDOW_MS + i * 100 }));
}

/** The same reviews as ingest would publish them again later: same ids, a later ingest time. */
function resent(events: ScoredReview[], windowsLater: number): ScoredReview[] {
  return events.map((event) => ({ ...event, ingest_time_ms: event.ingest_time_ms + windowsLater * WINDOW_MS }));
}

async function appliedEvents(): Promise<number> {
  const offsets = await service.state.appliedOffsets();
  return Object.values(offsets).reduce((sum, offset) => sum + Number(offset) + 1, 0);
}

beforeAll(async () => {
  await ensureTopics(kafka, [core.topicScored, core.topicDeadLetter], core);
  clickhouse = await createClickHouse(core);
  service = testAggregator('dedupe-test', {
    core,
    settings: setup.settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]),
  });
  await service.start();
});

afterAll(() => releaseTestAggregator({ core, service, clickhouse, redis }));

describe('end-to-end dedupe in the aggregator', () => {
  it('counts each review_id once: the whole stream sent twice and half a batch resent give counts of distinct ids', async () => {
    const original = [...reviews(0, PER_WINDOW), ...reviews(1, PER_WINDOW), ...reviews(2, PER_WINDOW)];
    const halfBatch = reviews(1, PER_WINDOW).slice(0, PER_WINDOW / 2);
    await publishScored(kafka, core.topicScored, original);
    await publishScored(kafka, core.topicScored, resent(original, 1));
    await publishScored(kafka, core.topicScored, resent(halfBatch, 2));
    const published = original.length * 2 + halfBatch.length;
    await waitFor(async () => (await appliedEvents()) >= published, 60_000, 'every message to be applied');
    await waitFor(async () => (await redis.zcard(service.state.key('open'))) === 0 && (await redis.llen(service.state.key('pending'))) === 0, 60_000, 'every window to be closed and written');

    const result = await clickhouse.query({
      query: `SELECT toUnixTimestamp64Milli(window_start) AS start, events + late_events AS counted FROM ${core.clickhouseDatabase}.window_summary FINAL WHERE segment = '__all__' ORDER BY start`,
      format: 'JSONEachRow',
    });
    const rows = ((await result.json()) as Array<{ start: string; counted: string }>).map((row) => ({ window: (Number(row.start) - firstWindow) / WINDOW_MS, counted: Number(row.counted) }));
    expect(rows).toEqual([0, 1, 2].map((window) => ({ window, counted: PER_WINDOW })));
    expect((await service.metrics.duplicates.get()).values[0]?.value).toBe(original.length + halfBatch.length);
  });

  it('publishes the dead letter of an undecodable message once, although its batch was attempted several times', async () => {
    const before = await appliedEvents();
    // Every apply fails (WRONGTYPE before the script writes anything) until the key is removed: the batch is retried.
    const partitionMax = service.state.partitionKey({ topic: core.topicScored, partition: 0 }, 'max');
    const saved = await redis.dumpBuffer(partitionMax);
    await redis.del(partitionMax);
    await redis.hset(partitionMax, 'not', 'a string');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: core.topicScored, messages: [{ key: 'bad', value: Buffer.from('not avro either'), partition: 0 }] });
    await producer.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await redis.del(partitionMax);
    if (saved) await redis.restore(partitionMax, 0, saved);
    await waitFor(async () => (await appliedEvents()) > before, 60_000, 'the batch to be applied once Redis accepts it');
    const deadLetters = await collect(kafka, core.topicDeadLetter, 'DeadLetter', { idleMs: 4_000 });
    expect(deadLetters.map((d) => [d.value.stage, d.value.raw.toString()])).toEqual([['aggregator', 'not avro either']]);
  });
});
