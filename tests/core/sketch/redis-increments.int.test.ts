/**
 * The Redis side of the sketch increments, against the real Redis: several writers applying their
 * states' increments to one hash with REDIS_APPLY_INCREMENTS_LUA read back as the merged state.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../../core/redis.js';
import { BinnedHistogramSketch } from '../../../core/sketch/histogram.js';
import { CategoricalCountSketch } from '../../../core/sketch/categorical.js';
import { SummarySketch } from '../../../core/sketch/summary.js';
import { REDIS_APPLY_INCREMENTS_LUA, expandBinBlobs, incrementsToLuaArgs, packIncrements } from '../../../core/sketch/redis-increments.js';
import type { RedisHashSketch } from '../../../core/sketch/types.js';
import { SENTIMENTS } from '../../../schemas/types.js';
import { seededNormal, seededRandom } from '../drift/random.js';

const redis = createRedis();
const prefix = `t-${randomUUID()}`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function applyAll<State, Value>(sketch: RedisHashSketch<State, Value>, key: string, parts: Value[][]): Promise<State> {
  for (const part of parts) {
    const state = sketch.zero();
    for (const value of part) sketch.add(state, value);
    await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, key, ...incrementsToLuaArgs(sketch.toIncrements(state), 600));
  }
  return sketch.fromHash(await redis.hgetall(key));
}

function split<T>(values: T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, i) => values.filter((_, j) => j % parts === i));
}

describe('REDIS_APPLY_INCREMENTS_LUA', () => {
  it('packed counts and sums (I / F, the aggregator\'s batches) read back like single triples, fields with spaces included', async () => {
    const sketch = new CategoricalCountSketch(['a', 'b c', 'd'], { unknownAs: 'other' });
    const histogram = new BinnedHistogramSketch(Array.from({ length: 300 }, (_, i) => i / 10));
    const values = Array.from({ length: 2_000 }, seededNormal(9, 15, 8));
    const pick = seededRandom(4);
    const labels = Array.from({ length: 500 }, () => ['a', 'b c', 'd', 'e f'][Math.floor(pick() * 4)]!);
    for (const [kind, target, states] of [
      ['hist', histogram, [values.slice(0, 900), values.slice(900)]],
      ['cat', sketch, [labels.slice(0, 200), labels.slice(200)]],
    ] as const) {
      const packedKey = `${prefix}:packed-${kind}`;
      const singleKey = `${prefix}:single-${kind}`;
      for (const part of states) {
        const state = (part as unknown[]).reduce((acc: unknown, value) => (target as RedisHashSketch<unknown, unknown>).add(acc, value), (target as RedisHashSketch<unknown, unknown>).zero());
        const increments = (target as RedisHashSketch<unknown, unknown>).toIncrements(state);
        const packed = packIncrements(increments);
        expect(packed.length).toBeLessThan(3 * 6);
        await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, packedKey, '600', ...packed);
        await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, singleKey, ...incrementsToLuaArgs(increments, 600));
      }
      expect(await redis.hgetall(packedKey)).toEqual(await redis.hgetall(singleKey));
    }
  });

  it('binary bin pairs (B, a fine histogram\'s touched bins) read back as the same state as count and sum fields', async () => {
    const histogram = new BinnedHistogramSketch(Array.from({ length: 320 }, (_, i) => i * 3));
    const values = Array.from({ length: 3_000 }, seededNormal(11, 480, 250));
    const binaryKey = `${prefix}:bin-pairs`;
    const fieldsKey = `${prefix}:bin-fields`;
    for (const part of split(values, 4)) {
      const state = part.reduce((acc, value) => histogram.add(acc, value), histogram.zero());
      const packed = histogram.toPackedIncrements(state);
      expect(packed.binPairs!.records.length).toBeGreaterThan(0);
      expect(Object.keys(packed.ints).some((field) => field.startsWith('b'))).toBe(false);
      await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, binaryKey, '600', ...packIncrements(packed));
      await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, fieldsKey, ...incrementsToLuaArgs(histogram.toIncrements(state), 600));
    }
    const [binaryHash, fieldsHash] = [expandBinBlobs(await redis.hgetallBuffer(binaryKey)), await redis.hgetall(fieldsKey)];
    // The bins are one dense binary field of 16 bytes per bin, besides the scalar fields.
    expect((await redis.hgetallBuffer(binaryKey))['#b,s']!.length).toBe(16 * histogram.binCount);
    expect(Object.keys(binaryHash).sort()).toEqual(Object.keys(fieldsHash).sort());
    const [binary, fields] = [histogram.fromHash(binaryHash), histogram.fromHash(fieldsHash)];
    const whole = values.reduce((acc, value) => histogram.add(acc, value), histogram.zero());
    expect(binary.counts).toEqual(whole.counts);
    expect(binary.counts).toEqual(fields.counts);
    expect(binary.binSums).not.toBeNull();
    binary.binSums!.forEach((sum, i) => expect(sum).toBeCloseTo(whole.binSums![i]!, 6));
    expect([binary.min, binary.max, binary.count]).toEqual([fields.min, fields.max, fields.count]);
  });

  it('a dense bin field of another length (not written by this version\'s sketch) loses nothing: the bins go to count and sum fields the reader adds', async () => {
    const histogram = new BinnedHistogramSketch([1, 2, 3]);
    const key = `${prefix}:bin-mismatch`;
    await redis.hset(key, '#b,s', Buffer.alloc(16 * 7));
    const state = [0.5, 1.5, 1.5, 9].reduce((acc, value) => histogram.add(acc, value), histogram.zero());
    await redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, key, '600', ...packIncrements(histogram.toPackedIncrements(state)));
    const raw = await redis.hgetallBuffer(key);
    expect(raw['#b,s']!.length).toBe(16 * 7);
    expect([raw['b1']?.toString(), raw['s1']?.toString()]).toEqual(['2', '3']);
    expect(expandBinBlobs(raw)).toMatchObject({ b0: '1', b1: '2', b3: '1', s1: '3' });
  });

  it('histogram: the hash after three writers equals the sketch of all values (exact counts, min/max, sums)', async () => {
    const sketch = new BinnedHistogramSketch([-1, 0, 1]);
    const values = Array.from({ length: 300 }, seededNormal(3));
    values.push(Number.NaN);
    const whole = values.reduce((state, value) => sketch.add(state, value), sketch.zero());
    const key = `${prefix}:hist`;
    const read = await applyAll(sketch, key, split(values, 3));
    expect(read.counts).toEqual(whole.counts);
    expect(read.count).toBe(whole.count);
    expect(read.invalid).toBe(1);
    expect(read.min).toBe(whole.min);
    expect(read.max).toBe(whole.max);
    expect(read.sum).toBeCloseTo(whole.sum, 9);
    expect(read.sumSquares).toBeCloseTo(whole.sumSquares, 9);
    expect(await redis.ttl(key)).toBeGreaterThan(0);
  });

  it('categorical and summary sketches read back exactly', async () => {
    const random = seededRandom(5);
    const categorical = new CategoricalCountSketch(['a', 'b']);
    const labels = Array.from({ length: 200 }, () => ['a', 'b', 'new'][Math.floor(random() * 3)]!);
    const categoricalWhole = labels.reduce((state, value) => categorical.add(state, value), categorical.zero());
    expect(await applyAll(categorical, `${prefix}:cat`, split(labels, 4))).toEqual(categoricalWhole);

    const summary = new SummarySketch();
    const events = Array.from({ length: 200 }, () => ({
      sentiment: SENTIMENTS[Math.floor(random() * 3)]!,
      confidence: 0.5,
      outlier: random() < 0.1,
      rating: 1 + Math.floor(random() * 5),
    }));
    const summaryWhole = events.reduce((state, value) => summary.add(state, value), summary.zero());
    const read = await applyAll(summary, `${prefix}:summary`, split(events, 2));
    expect({ ...read, confidenceSum: 0 }).toEqual({ ...summaryWhole, confidenceSum: 0 });
    expect(read.confidenceSum).toBeCloseTo(summaryWhole.confidenceSum, 9);
  });
});
