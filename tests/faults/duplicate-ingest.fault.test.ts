/**
 * Fault: the same reviews are sent again. A user re-runs `driftline ingest` on the same file after a
 * failure (the error says the batch "may or may not be on the topic"), and a producer resends half a batch.
 * Every copy is a new Kafka record with the same review_id and a new ingest time. End-to-end dedupe by
 * review_id (DRIFTLINE_DEDUPE_HORIZON_S): the scorer publishes one scored event per id, and the windows
 * count the number of distinct ids, each in the window of its first copy.
 *
 * Shared Kafka and Redis with unique topics, groups and key prefix; nothing is restarted.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { repoPath } from '../../core/paths.js';
import { validateReview } from '../../core/validation.js';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startScorer, type ScorerChild } from '../scorer/helpers.js';
import {
  createPipeline,
  drainPipeline,
  expectedWindowCounts,
  ingestLines,
  printTotals,
  readWindowsOf,
  startAggregator,
  waitForLog,
  windowKey,
  type Pipeline,
} from '../support/pipeline.js';

const TOTAL = 400;
const RATE = 400;
const HALF_BATCH = 12; // ingestLines sends batches of 25

/** The first `count` valid reviews with distinct ids of the repository's sample, as JSONL lines. */
function sampleLines(count: number): string[] {
  const ids = new Set<string>();
  const out: string[] = [];
  for (const line of readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const result = validateReview(JSON.parse(line) as unknown);
    if (!result.ok || ids.has(result.review.review_id)) continue;
    ids.add(result.review.review_id);
    out.push(line);
    if (out.length === count) return out;
  }
  throw new Error(`only ${out.length} valid reviews in the sample`);
}

describe('fault: the same reviews ingested twice, and half a batch resent', () => {
  let pipeline: Pipeline;
  let redis: Redis;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    pipeline = await createPipeline('dup');
    redis = new Redis(pipeline.core.redisUrl);
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
  });

  it('scores each review_id once and counts distinct ids in the windows', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const lines = sampleLines(TOTAL);
    const scorer = startScorer(pipeline, 'dup-scorer');
    const aggregator = startAggregator(pipeline, 'dup-aggregator');
    children.push(scorer, aggregator);
    await waitForLog(scorer, 'scorer started', 120_000);
    await waitForLog(aggregator, 'drift aggregator started', 120_000);

    const first = await ingestLines(pipeline, lines, RATE);
    const again = await ingestLines(pipeline, lines, RATE);
    const halfBatch = await ingestLines(pipeline, lines.slice(125, 125 + HALF_BATCH), RATE);
    const published = first.published + again.published + halfBatch.published;
    expect(published).toBe(2 * TOTAL + HALF_BATCH);

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(await aggregator.kill('SIGTERM')).toBe(0);
    const { rows, events: windowEvents } = await readWindowsOf(pipeline);
    const expected = expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs);
    printTotals('duplicate-ingest', { published, scored: scored.length, unique: counts.size, window_events: windowEvents, windows: rows.length });

    // The scorer published one scored event per review id ...
    expect(counts.size).toBe(TOTAL);
    expect([...counts.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    // ... and the windows count each id once, in the window of its first copy.
    expect(windowEvents).toBe(TOTAL);
    const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    expect(rows.map((row) => ({ key: windowKey(row), counted: row.events + row.late, stateLost: row.stateLost })).sort(byKey)).toEqual(
      [...expected].map(([key, count]) => ({ key, counted: count, stateLost: 0 })).sort(byKey),
    );
  });
});
