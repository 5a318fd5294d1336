/**
 * Cost of end-to-end dedupe by review_id (one Redis key per id, PX = DRIFTLINE_DEDUPE_HORIZON_S), on the
 * real Redis:
 *   1. aggregator: the per-batch Redis apply (one Lua call) of batches of 500 events with and without the
 *      dedupe (the MGET of the ids before aggregating + EXISTS/SET PX inside the script), µs per event;
 *   2. scorer: the lookup before scoring (MGET) and the marking after the commit (pipelined SET PX), µs per id;
 *   3. memory per remembered id (MEMORY USAGE of one key, and used_memory over all keys written).
 * Prints the figures and writes bench/results/dedupe.json with machine info.
 *
 *   node dist/bench/dedupe.js [--batches 40] [--batch 500]
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { coreSettings } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createRedis } from '../core/redis.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../drift-aggregator/baselines.js';
import { BatchAggregate } from '../drift-aggregator/increments.js';
import { AggregatorState } from '../drift-aggregator/redis-state.js';
import { seededRandom, syntheticBaseline, syntheticReview } from '../fixtures/synthetic.js';
import { ScoredIds } from '../scorer/dedupe.js';
import { machineInfo, writeResult } from './lib.js';

const { values: args } = parseArgs({ options: { batches: { type: 'string', default: '40' }, batch: { type: 'string', default: '500' } } });
const BATCHES = Number(args.batches);
const BATCH = Number(args.batch);
const MODEL = 'dedupe-bench';
const HORIZON_MS = 3_600_000;

const core = coreSettings.load();
const redis = createRedis(core);
const prefix = `bench-dedupe-${randomUUID().slice(0, 8)}`;
const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1, 2_000)]), 10);
await catalog.ensure([{ modelName: MODEL, version: 1 }]);
const random = seededRandom(3);

function batchOf(first: number): BatchAggregate & { ids: string[] } {
  const aggregate = new BatchAggregate({ windowMs: 60_000, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) }) as BatchAggregate & { ids: string[] };
  aggregate.ids = [];
  for (let i = first; i < first + BATCH; i++) {
    const review = syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: 1_700_000_000_000 + i * 10 });
    aggregate.add(review);
    aggregate.ids.push(review.review_id);
  }
  return aggregate;
}

/** µs per event of the Redis apply (with the dedupe: the id lookup before it too). */
async function applyCost(withDedupe: boolean): Promise<number> {
  const state = new AggregatorState(redis, `${prefix}-${withDedupe ? 'on' : 'off'}`);
  await state.loadScript();
  const batches = Array.from({ length: BATCHES }, (_, b) => batchOf(b * BATCH + (withDedupe ? 0 : 10_000_000)));
  let offset = -1;
  const started = performance.now();
  for (const aggregate of batches) {
    if (withDedupe) await state.countedIds({ topic: 'bench', partition: 0 }, aggregate.ids);
    const outcome = await state.applyBatch({
      topic: 'bench',
      partition: 0,
      expectedPrevOffset: offset,
      lastOffset: offset + BATCH,
      increments: aggregate.increments(),
      nowWallMs: Date.now(),
      allowedLatenessMs: 0,
      windowMs: 60_000,
      ...(withDedupe ? { dedupe: { reviewIds: aggregate.ids, horizonMs: HORIZON_MS } } : {}),
    });
    if (outcome.status !== 'applied') throw new Error(`batch not applied: ${outcome.status}`);
    offset += BATCH;
  }
  return ((performance.now() - started) * 1000) / (BATCHES * BATCH);
}

async function usedMemory(): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

const memoryBefore = await usedMemory();
const applyWithout = await applyCost(false);
const applyWith = await applyCost(true);

const scorerIds = new ScoredIds(redis, `${prefix}-scorer:`, HORIZON_MS, createLogger('bench', 'silent'));
const ids = Array.from({ length: BATCHES * BATCH }, (_, i) => `bench-review-${i}-${randomUUID().slice(0, 8)}`);
let started = performance.now();
for (let i = 0; i < ids.length; i += BATCH) await scorerIds.scoredBefore(ids.slice(i, i + BATCH));
const lookupUs = ((performance.now() - started) * 1000) / ids.length;
const memoryBeforeMarks = await usedMemory();
started = performance.now();
for (let i = 0; i < ids.length; i += BATCH) await scorerIds.remember(ids.slice(i, i + BATCH));
const markUs = ((performance.now() - started) * 1000) / ids.length;
const bytesPerId = (await usedMemory() - memoryBeforeMarks) / ids.length;
const keyBytes = Number(await redis.memory('USAGE', `${prefix}-scorer:seen:${ids[0]}`));

const keys = await redis.keys(`${prefix}*`);
for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
redis.disconnect();

const result = {
  machine: machineInfo(),
  events: BATCHES * BATCH,
  batch: BATCH,
  aggregator_apply_us_per_event: { without_dedupe: round(applyWithout), with_dedupe: round(applyWith), dedupe_overhead: round(applyWith - applyWithout) },
  scorer_us_per_id: { lookup: round(lookupUs), mark_after_commit: round(markUs) },
  memory_bytes_per_remembered_id: { used_memory_delta: Math.round(bytesPerId), memory_usage_one_key: keyBytes, id_length: ids[0]!.length },
  memory_before_bytes: memoryBefore,
};
console.log(JSON.stringify(result, null, 2));
console.log(`written to ${writeResult('dedupe', result)}`);

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
