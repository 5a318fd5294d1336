/**
 * Fault: the scorer and the drift aggregator are SIGKILLed mid-stream (at different moments) and started
 * again, while ingest keeps publishing. The scorer's transactions (read_committed output, offsets committed
 * in the transaction, fenced transactional ids) and the aggregator's Redis offsets (one Lua call per batch)
 * must give exactly-once totals: every review scored once by review id, and the ClickHouse windows add up
 * to the number of reviews, window by window — with the aggregator on a single Redis and on the 3-master
 * Redis Cluster.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { RedisClient } from '../../core/redis.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { startScorer, waitUntil, type ScorerChild } from '../scorer/helpers.js';
import { REDIS_MODES, redisFor } from '../support/redis-modes.js';
import {
  createPipeline,
  drainPipeline,
  expectedWindowCounts,
  ingestLines,
  printTotals,
  readWindowsOf,
  reviewLines,
  scorerCommitted,
  startAggregator,
  windowKey,
  type Pipeline,
} from '../support/pipeline.js';

const TOTAL = 1_500;
const RATE = 100;

describe.each(REDIS_MODES)('fault: scorer and aggregator SIGKILLed mid-stream ($name Redis)', (mode) => {
  let pipeline: Pipeline;
  let redis: RedisClient;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    pipeline = await createPipeline(`kill-${mode.name}`, { env: mode.env });
    redis = redisFor(mode);
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
  });

  it('still counts every review exactly once', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const started = Date.now();
    const reviews = reviewLines(TOTAL, 200);
    // Small transactions and batches: many commits are in flight when a kill lands.
    const scorerEnv = { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '40' };
    const aggregatorEnv = { DRIFTLINE_AGGREGATOR_MAX_BATCH_BYTES: '8192' };
    let scorer = startScorer(pipeline, 'kill-scorer-1', scorerEnv);
    let aggregator = startAggregator(pipeline, 'kill-aggregator-1', aggregatorEnv);
    children.push(scorer, aggregator);
    const committed = async (): Promise<number> => (await scorerCommitted(pipeline))?.committed ?? 0;
    const aggregatorApplied = async (): Promise<number> => {
      const offsets = await new AggregatorState(redis, pipeline.redisPrefix).appliedOffsets();
      return Object.values(offsets).reduce((sum, offset) => sum + Number(offset) + 1, 0);
    };

    const killedAt = { scorer: 0, aggregator: 0 };
    const faults = (async () => {
      await waitUntil('the scorer to commit 300 reviews', async () => (await committed()) >= 300, 120_000, children);
      expect(await scorer.kill('SIGKILL')).toBe(-1);
      killedAt.scorer = await committed();
      scorer = startScorer(pipeline, 'kill-scorer-2', scorerEnv);
      children.push(scorer);
      // Offsets of the transactional scored topic include commit markers: 700 is "well into the stream".
      await waitUntil('the aggregator to apply ~700 events', async () => (await aggregatorApplied()) >= 700, 120_000, children);
      expect(await aggregator.kill('SIGKILL')).toBe(-1);
      killedAt.aggregator = await aggregatorApplied();
      aggregator = startAggregator(pipeline, 'kill-aggregator-2', aggregatorEnv);
      children.push(aggregator);
    })();
    const ingested = await ingestLines(pipeline, reviews.map((r) => r.line), RATE);
    await faults;
    // Both kills landed with work left to do.
    expect(killedAt.scorer).toBeLessThan(TOTAL);
    expect(killedAt.aggregator).toBeLessThan(TOTAL);
    expect(ingested.published).toBe(TOTAL);
    expect(ingested.deadLettered).toBe(0);

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(await aggregator.kill('SIGTERM')).toBe(0);

    const { rows, rawRows, events: windowEvents } = await readWindowsOf(pipeline);
    printTotals('process-kill', { ingested: ingested.published, scored: scored.length, unique: counts.size, window_events: windowEvents, windows: rows.length, window_rows_raw: rawRows, scorer_killed_at: killedAt.scorer, aggregator_killed_at_offset: killedAt.aggregator, seconds: Math.round((Date.now() - started) / 1000) });

    expect([...counts.entries()].filter(([, c]) => c > 1)).toEqual([]);
    expect(new Set(counts.keys())).toEqual(new Set(reviews.map((r) => r.id)));
    expect(scored).toHaveLength(TOTAL);
    expect(windowEvents).toBe(TOTAL);
    expect(rows.every((row) => row.stateLost === 0)).toBe(true);
    // Window by window: what the aggregator counted is what the scorer emitted for that window.
    const expected = expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs);
    expect(new Map(rows.map((row) => [windowKey(row), row.events + row.late]))).toEqual(expected);
  });
});
