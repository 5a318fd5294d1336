/**
 * The Lua apply against the real Redis, single and the 3-master cluster: exactly-once per offset,
 * compare-and-set, late events, and every key one batch's apply touches in one hash slot.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../core/redis.js';
import { SketchCatalog, InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { BatchAggregate, SUMMARY_HASH, hashName } from '../../drift-aggregator/increments.js';
import { deleteMatching, REDIS_MODES, redisFor } from '../support/redis-modes.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { ALL_SEGMENTS } from '../../core/drift/tables.js';
import { windowId } from '../../drift-aggregator/windows.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';

const WINDOW_MS = 60_000;
const MODEL = 'lua-test';
const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1, 1_000)]), 10);

function batchOf(count: number, startTimeMs: number, seed: number): BatchAggregate {
  const random = seededRandom(seed);
  const aggregate = new BatchAggregate({ windowMs: WINDOW_MS, windowTime: 'ingest', sketchesOf: (name, version) => catalog.get(name, version) });
  for (let i = 0; i < count; i++) aggregate.add(syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: startTimeMs + i }));
  return aggregate;
}

describe.each(REDIS_MODES)('apply-batch Lua script on $name Redis', (mode) => {
  let redis: RedisClient;
  let prefix: string;
  let state: AggregatorState;

  /** Events of a window: the sum of the partitions' shares. */
  async function eventsIn(start: number): Promise<number> {
    const id = windowId({ modelName: MODEL, modelVersion: 1, start });
    const shares = await state.readWindow(id);
    return shares.reduce((sum, hashes) => sum + Number(hashes.get(hashName(ALL_SEGMENTS, SUMMARY_HASH))?.n ?? 0), 0);
  }

  beforeAll(async () => {
    redis = redisFor(mode);
    prefix = `t-${randomUUID()}`;
    state = new AggregatorState(redis, prefix);
    await state.loadScript();
    await catalog.ensure([{ modelName: MODEL, version: 1 }]);
  });

  afterAll(async () => {
    await deleteMatching(redis, `${prefix}*`);
    redis.disconnect();
  });


  it('applies a batch once: the same batch applied twice is counted once', async () => {
    const aggregate = batchOf(250, 0, 1);
    const input = { topic: 'scored', partition: 0, expectedPrevOffset: -1, lastOffset: 249, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS };
    expect(await state.applyBatch(input)).toEqual({ status: 'applied', lateEvents: 0 });
    expect(await state.applyBatch(input)).toEqual({ status: 'skipped', storedOffset: 249 });
    expect(await eventsIn(0)).toBe(250);
    expect(await state.appliedOffset('scored', 0)).toBe(249);
  });

  it('refuses a batch aggregated after another offset than the stored one (compare-and-set)', async () => {
    const aggregate = batchOf(10, 1_000, 2);
    const stale = { topic: 'scored', partition: 0, expectedPrevOffset: 100, lastOffset: 300, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS };
    expect(await state.applyBatch(stale)).toEqual({ status: 'conflict', storedOffset: 249 });
    expect(await eventsIn(0)).toBe(250);
    expect(await state.applyBatch({ ...stale, expectedPrevOffset: 249 })).toEqual({ status: 'applied', lateEvents: 0 });
    expect(await eventsIn(0)).toBe(260);
  });

  it('keeps partitions apart', async () => {
    const aggregate = batchOf(5, 2 * WINDOW_MS, 3);
    const result = await state.applyBatch({ topic: 'scored', partition: 1, expectedPrevOffset: -1, lastOffset: 4, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS });
    expect(result.status).toBe('applied');
    expect(await state.appliedOffset('scored', 1)).toBe(4);
    expect(await state.appliedOffset('scored', 0)).toBe(300);
  });

  it('counts events of a closed window (or one behind the watermark) as late, not into its sketches', async () => {
    const apply = (partition: number, expectedPrevOffset: number, lastOffset: number, aggregate: BatchAggregate) =>
      state.applyBatch({ topic: 'scored', partition, expectedPrevOffset, lastOffset, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS });
    await redis.set(state.partitionKey({ topic: 'scored', partition: 2 }, 'closed', windowId({ modelName: MODEL, modelVersion: 1, start: 0 })), '1');
    expect(await apply(2, -1, 6, batchOf(7, 100, 5))).toEqual({ status: 'applied', lateEvents: 7 }); // window 0 is closed
    expect(await eventsIn(0)).toBe(260);
    expect(await state.lateEvents(windowId({ modelName: MODEL, modelVersion: 1, start: 0 }))).toBe(7);

    // The watermark is the slowest partition's progress: window 1 is late only once every partition passed it.
    await apply(0, 300, 301, batchOf(1, 3 * WINDOW_MS, 6));
    await apply(1, 4, 5, batchOf(1, 3 * WINDOW_MS, 7));
    expect(await apply(2, 6, 9, batchOf(3, WINDOW_MS + 5, 8))).toEqual({ status: 'applied', lateEvents: 0 }); // p2 is still behind
    expect(await eventsIn(WINDOW_MS)).toBe(3);
    await apply(2, 9, 10, batchOf(1, 3 * WINDOW_MS, 9));
    expect(await state.progressTime()).toBe(3 * WINDOW_MS);
    expect(await apply(2, 10, 12, batchOf(2, WINDOW_MS + 5, 10))).toEqual({ status: 'applied', lateEvents: 2 });
    expect(await eventsIn(WINDOW_MS)).toBe(3);
  });

  it('a registered partition that applied nothing yet keeps the watermark from running ahead (no event late by it)', async () => {
    const other = new AggregatorState(redis, `${prefix}-silent`);
    await other.registerPartitions('scored', 3);
    const apply = (partition: number, lastOffset: number, aggregate: BatchAggregate) =>
      other.applyBatch({ topic: 'scored', partition, expectedPrevOffset: -1, lastOffset, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS });
    await apply(0, 0, batchOf(1, 10 * WINDOW_MS, 21));
    await apply(1, 0, batchOf(1, 10 * WINDOW_MS, 22));
    expect(await other.progressTime()).toBeNull();
    // Partitions 0 and 1 alone would put the watermark at window 10: partition 0's event of window 1 is not late.
    expect(await other.applyBatch({ topic: 'scored', partition: 0, expectedPrevOffset: 0, lastOffset: 1, increments: batchOf(1, WINDOW_MS, 24).increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS })).toEqual({ status: 'applied', lateEvents: 0 });
    // Partition 2 starts far behind the others: its events are not late, they are its own first progress.
    expect(await apply(2, 4, batchOf(5, WINDOW_MS, 23))).toEqual({ status: 'applied', lateEvents: 0 });
    expect(await other.progressTime()).toBe(WINDOW_MS + 4);
    // Now every partition applied something: an event behind the slowest one's progress is late.
    expect(await other.applyBatch({ topic: 'scored', partition: 2, expectedPrevOffset: 4, lastOffset: 5, increments: batchOf(1, 0, 25).increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS })).toEqual({ status: 'applied', lateEvents: 1 });
    await deleteMatching(redis, `${other.base}*`);
  });

  it('stores sketches that read back into the same counts (bins add up to the event count)', async () => {
    const id = windowId({ modelName: MODEL, modelVersion: 1, start: 0 });
    const shares = await state.readWindow(id);
    expect(shares).toHaveLength(1); // partition 0's: partition 2's events of the window were late
    const hashes = shares[0]!;
    const sketches = catalog.get(MODEL, 1);
    const textLength = sketches.numeric.get('feature.text_length')!.fromHash(hashes.get(hashName(ALL_SEGMENTS, 'feature.text_length'))!);
    expect(textLength.count).toBe(260);
    const segments = [...hashes.keys()].filter((name) => name.endsWith(`|${SUMMARY_HASH}`) && !name.startsWith(`${ALL_SEGMENTS}|`));
    const perSegment = segments.map((name) => Number(hashes.get(name)!.n));
    expect(perSegment.reduce((a, b) => a + b, 0)).toBe(260);
  });
  it('keeps every key the apply of one batch touches in one hash slot (its partition), and window-level keys in another', async () => {
    const aggregate = batchOf(40, 5 * WINDOW_MS - 20, 31);
    const reviewIds = Array.from({ length: 40 }, (_, i) => `slot-${i}`);
    const keys = state.batchKeys({ topic: 'scored', partition: 7, increments: aggregate.increments(), dedupe: { reviewIds, horizonMs: 60_000 } });
    expect(keys.length).toBeGreaterThan(40 + 2 * 3);
    // CLUSTER KEYSLOT: the slot as Redis Cluster itself computes it (asked of a cluster node in both modes).
    const cluster = redisFor(REDIS_MODES.find((m) => m.name === 'cluster')!);
    try {
      const slotOf = (key: string): Promise<number> => cluster.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
      const slots = new Set(await Promise.all(keys.map(slotOf)));
      expect(slots.size).toBe(1);
      expect(await slotOf(state.partitionKey({ topic: 'scored', partition: 8 }, 'offset'))).not.toBe([...slots][0]);
      const globalSlots = new Set(await Promise.all(['open', 'touched', 'pending', 'writers', 'partitions', 'clock'].map((name) => slotOf(state.key(name)))));
      expect(globalSlots.size).toBe(1);
    } finally {
      cluster.disconnect();
    }
    // And the apply itself runs (on a cluster a script touching another slot's key fails).
    expect(await state.applyBatch({ topic: 'scored', partition: 7, expectedPrevOffset: -1, lastOffset: 39, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS, dedupe: { reviewIds, horizonMs: 60_000 } })).toMatchObject({ status: 'applied' });
  });
});
