/**
 * Fault: the Kafka broker is stopped mid-stream (`scripts/services.sh kafka-down`) and started again on the
 * same data dir (`kafka-up`), while ingest publishes, the scorer scores and the aggregator counts. Producers
 * retry, consumers rejoin, open transactions are aborted and redone: every review is scored exactly once
 * (read_committed, by review id) and the ClickHouse windows add up to the number of reviews.
 * Ingest rides out the restart in one run: a batch the broker did not take is resent on the same idempotent
 * producer (ingest/outage.ts) within DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS (default 60 s, more than this outage
 * lasts), so every review reaches the topic exactly once, without a resume step.
 *
 * The broker is a private one (services.sh with its own run dir and ports, same config as the shared one):
 * stopping the shared broker would fail every other test run on the machine. It is removed in afterAll.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { readTopic, sleep, startScorer, waitUntil, type ScorerChild } from '../scorer/helpers.js';
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
  startPrivateKafka,
  waitForLog,
  windowKey,
  type Pipeline,
  type PrivateKafka,
} from '../support/pipeline.js';

const TOTAL = 1_500;
const RATE = 75;
const OUTAGE_MS = 3_000;

// Twice: with each batch committed before the next fetch (what a stream below the scorer's capacity gets), and with
// every batch scored behind the fetch (a 1 KiB fetch size, half of which is less than one review), so the outage
// fails transactions on both paths and the rewind of the fetch position is exercised against a real broker.
describe.each([
  { path: 'batches committed before the next fetch', name: 'kafka', scorerEnv: {} },
  { path: 'batches scored behind the fetch', name: 'kafka-behind', scorerEnv: { DRIFTLINE_SCORER_MAX_BYTES_PER_PARTITION: '1024' } },
])('fault: Kafka broker stopped and started mid-stream ($path)', ({ name, scorerEnv }) => {
  let broker: PrivateKafka | undefined;
  let pipeline: Pipeline;
  let redis: Redis;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    broker = await startPrivateKafka();
    // This worker process only: every client the helpers create (and the children they start) use it.
    process.env.DRIFTLINE_KAFKA_BROKERS = broker.brokers;
    pipeline = await createPipeline(name);
    redis = new Redis(pipeline.core.redisUrl);
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
    await broker?.destroy();
  });

  it('scores and counts every review exactly once across the broker restart', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const started = Date.now();
    const reviews = reviewLines(TOTAL, 1_800);
    const scorer = startScorer(pipeline, `${name}-scorer`, { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '50', ...scorerEnv });
    const aggregator = startAggregator(pipeline, `${name}-aggregator`);
    children.push(scorer, aggregator);
    // Ingest starts once both consume, so the broker stops while all three have work in flight.
    await waitForLog(scorer, 'scorer started', 120_000);
    await waitForLog(aggregator, 'drift aggregator started', 120_000);
    const committed = async (): Promise<number> => (await scorerCommitted(pipeline))?.committed ?? 0;

    let committedAtStop = 0;
    let outageMs = 0;
    let published = 0;
    let publishedAtStop = 0;
    const fault = (async () => {
      await waitUntil('the scorer to commit 300 reviews', async () => (await committed()) >= 300, 120_000, children);
      committedAtStop = await committed();
      publishedAtStop = published;
      const down = Date.now();
      await broker!.down();
      await sleep(OUTAGE_MS);
      await broker!.up();
      outageMs = Date.now() - down;
    })();
    const lines = reviews.map((r) => r.line);
    const ingested = await ingestLines(pipeline, lines, RATE, (progress) => (published = progress.published));
    await fault;
    // The broker went down with ingest, scorer and aggregator all mid-stream.
    expect(publishedAtStop).toBeLessThan(TOTAL);
    expect(committedAtStop).toBeLessThan(TOTAL);
    // One run through the outage: everything read was published, and the topic holds each review once.
    expect(ingested.published).toBe(TOTAL);
    expect(ingested.interrupted).toBe(false);
    const onReviews = await readTopic(pipeline.kafka, pipeline.topics.reviews, (v) => codecFor('ReviewEvent').decode(v));
    expect(onReviews).toHaveLength(TOTAL);
    expect(new Set(onReviews.map((m) => m.value.review_id))).toEqual(new Set(reviews.map((r) => r.id)));

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(await aggregator.kill('SIGTERM')).toBe(0);

    const { rows, rawRows, events: windowEvents } = await readWindowsOf(pipeline);
    printTotals(`${name}-restart`, {
      ingested: onReviews.length,
      ingest_resends: ingested.sendRetries,
      scored: scored.length,
      unique: counts.size,
      window_events: windowEvents,
      windows: rows.length,
      window_rows_raw: rawRows,
      published_at_stop: publishedAtStop,
      committed_at_stop: committedAtStop,
      outage_ms: outageMs,
      seconds: Math.round((Date.now() - started) / 1000),
    });

    expect([...counts.entries()].filter(([, c]) => c > 1)).toEqual([]);
    expect(new Set(counts.keys())).toEqual(new Set(reviews.map((r) => r.id)));
    expect(scored).toHaveLength(TOTAL);
    expect(windowEvents).toBe(TOTAL);
    expect(rows.every((row) => row.stateLost === 0)).toBe(true);
    const expected = expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs);
    expect(new Map(rows.map((row) => [windowKey(row), row.events + row.late]))).toEqual(expected);
  });
});
