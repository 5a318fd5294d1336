/**
 * Poison ScoredReview events (a producer other than our scorer): absurd times (9e15, negative, years ahead)
 * and a 20 KB category, between valid events on ONE partition, against real Kafka, Redis and chdb. They
 * must be dead-lettered with their reason, never windowed: the watermark does not jump (later valid events
 * are not late), no window opens in the year 287,000, and every window's row reaches ClickHouse.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { collect, publishScored, testSetup, waitFor, releaseTestAggregator, testAggregator } from './harness.js';

const setup = testSetup();
const core = { ...setup.core, topicPartitions: 1 };
const { settings } = setup;
const kafka = createKafka(core, 'agg-poison-test');
const MODEL = 'synth-poison';
const PER_WINDOW = 40;
const WINDOWS = 3;
let redis: Redis;
let clickhouse: ClickHouseClient;
let service: AggregatorService;
let firstWindow: number;

const YEARS = 365 * 86_400_000;
/** Each poison event: what is wrong, and the code and field the dead letter must name. */
const POISON: Array<{ name: string; patch: Partial<ScoredReview>; code: string; field: string }> = [
  { name: 'ingest-9e15', patch: { ingest_time_ms: 9e15 }, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms' },
  { name: 'ingest-negative', patch: { ingest_time_ms: -1 }, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms' },
  { name: 'ingest-3-years-ahead', patch: { ingest_time_ms: Date.now() + 3 * YEARS }, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms' },
  { name: 'event-9e15', patch: { event_time_ms: 9e15 }, code: 'TIMESTAMP_INVALID', field: 'event_time_ms' },
  { name: 'scored-1970', patch: { scored_time_ms: 0 }, code: 'TIMESTAMP_INVALID', field: 'scored_time_ms' },
  { name: 'category-20kb', patch: { category: 'c'.repeat(20_000) }, code: 'FIELD_RANGE', field: 'category' },
];

function stream(): { events: ScoredReview[]; poisonOffsets: Map<string, number> } {
  const random = seededRandom(42);
  const events: ScoredReview[] = [];
  const poisonOffsets = new Map<string, number>();
  for (let w = 0; w < WINDOWS; w++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      events.push(syntheticReview(w * PER_WINDOW + i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + w * settings.windowMs + i * 100 }));
      // The poison sits in the first window, before every later valid event of the partition.
      if (w === 0 && i < POISON.length) {
        const poison = POISON[i]!;
        poisonOffsets.set(poison.name, events.length);
        const base = syntheticReview(1_000 + i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + i * 100 + 50 });
        events.push({ ...base, review_id: `poison-${poison.name}`, ...poison.patch });
      }
    }
  }
  return { events, poisonOffsets };
}

interface SummaryRow {
  window_start_ms: string;
  events: string;
  late_events: string;
}

beforeAll(async () => {
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  await ensureTopics(kafka, [core.topicScored, core.topicAlerts, core.topicDeadLetter], core);
  firstWindow = Math.floor(Date.now() / settings.windowMs) * settings.windowMs - 10 * settings.windowMs;
  service = testAggregator('agg-poison-test', {
    core,
    settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]),
  });
  await service.start();
});

afterAll(() => releaseTestAggregator({ core, service, clickhouse, redis }));

describe('drift aggregator: poison events on one partition', () => {
  it('dead-letters absurd times and oversized fields, keeps the watermark, writes every window', async () => {
    const { events, poisonOffsets } = stream();
    const closed: number[] = [];
    service.onWindowClosed((window) => closed.push(window.ref.start));
    await publishScored(kafka, core.topicScored, events);

    await waitFor(async () => closed.length >= WINDOWS, 30_000, 'the windows to close');
    await waitFor(async () => (await service.writer.pendingCount()) === 0, 30_000, 'ClickHouse rows to be written');

    // No window outside the real stream ever opened (9e15 would be the year 287,000).
    expect([...closed].sort((a, b) => a - b)).toEqual(Array.from({ length: WINDOWS }, (_, w) => firstWindow + w * settings.windowMs));
    // The watermark's input is the largest valid window time, not a poison one.
    const maxTime = Math.max(...Object.values((await service.state.partitionMaxima()).maxima).map(Number));
    expect(maxTime).toBeLessThan(firstWindow + WINDOWS * settings.windowMs);

    const rows = (await (
      await clickhouse.query({
        query: `SELECT toString(toUnixTimestamp64Milli(window_start)) AS window_start_ms, events, late_events FROM ${core.clickhouseDatabase}.window_summary FINAL
                WHERE model_name = '${MODEL}' AND segment = '__all__' ORDER BY window_start`,
        format: 'JSONEachRow',
      })
    ).json()) as SummaryRow[];
    expect(rows.map((r) => [Number(r.window_start_ms), Number(r.events), Number(r.late_events)])).toEqual(
      Array.from({ length: WINDOWS }, (_, w) => [firstWindow + w * settings.windowMs, PER_WINDOW, 0]),
    );

    const letters = await collect(kafka, core.topicDeadLetter, 'DeadLetter', { expected: POISON.length, timeoutMs: 30_000 });
    expect(letters).toHaveLength(POISON.length);
    for (const poison of POISON) {
      const letter = letters.find((l) => l.value.review_id === `poison-${poison.name}`)?.value;
      expect(letter, poison.name).toMatchObject({ stage: 'aggregator', error_code: poison.code, field: poison.field, source_topic: core.topicScored, source_partition: 0, source_offset: poisonOffsets.get(poison.name) });
      expect(letter!.reason).toContain(poison.field);
    }
    const invalid = await service.metrics.invalidEvents.get();
    expect(invalid.values.reduce((sum, v) => sum + v.value, 0)).toBe(POISON.length);
  });
});
