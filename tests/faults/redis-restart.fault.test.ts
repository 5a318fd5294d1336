/**
 * Fault: Redis is restarted mid-stream (`redis-cli shutdown nosave`, then started again with the flags of
 * scripts/services.sh: no RDB, no AOF), so the aggregator's window sketches and applied offsets are gone
 * while Kafka still holds its committed offsets. The aggregator must recover and say so: the STATE_LOST
 * gauge and log line, window_summary rows of the affected windows marked state_lost=1, and every window
 * NOT marked state_lost counting exactly the scored events of that window (no wrong numbers passed off as
 * complete). Windows after the loss count correctly.
 *
 * The Redis is a private one (same flags, its own port): a restart of the shared Redis would wipe the state
 * of every other test run on the machine.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { startScorer, waitUntil, type ScorerChild } from '../scorer/helpers.js';
import {
  createPipeline,
  drainPipeline,
  expectedWindowCounts,
  freePort,
  ingestLines,
  logRecords,
  printTotals,
  readWindowsOf,
  reviewLines,
  startAggregator,
  startPrivateRedis,
  waitForLog,
  windowKey,
  type Pipeline,
  type PrivateRedis,
} from '../support/pipeline.js';

const TOTAL = 1_500;
const RATE = 75;
const STATE_LOST_LOG = 'aggregator state lost; affected windows will be marked state_lost';

async function stateLostGauge(port: number): Promise<number | null> {
  const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  // e.g. driftline_aggregator_state_lost{component="drift-aggregator"} 1
  const match = /^driftline_aggregator_state_lost(?:\{[^}]*\})? (\S+)$/m.exec(body);
  return match ? Number(match[1]) : null;
}

describe('fault: Redis restarted without persistence mid-stream', () => {
  let privateRedis: PrivateRedis | undefined;
  let pipeline: Pipeline;
  let redis: Redis;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    privateRedis = await startPrivateRedis();
    // This worker process only: the pipeline env (and so the children) use the private Redis.
    process.env.DRIFTLINE_REDIS_URL = privateRedis.url;
    pipeline = await createPipeline('redis');
    redis = new Redis(pipeline.core.redisUrl, { maxRetriesPerRequest: 20 });
    redis.on('error', () => undefined); // refused connections while Redis restarts: ioredis reconnects
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
    await privateRedis?.destroy();
  });

  it('reports the lost state, marks the affected windows and counts the later ones correctly', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const started = Date.now();
    const reviews = reviewLines(TOTAL, 3_000);
    const metricsPort = await freePort();
    const scorer = startScorer(pipeline, 'redis-scorer');
    const aggregator = startAggregator(pipeline, 'redis-aggregator', { DRIFTLINE_AGGREGATOR_METRICS_PORT: String(metricsPort) });
    children.push(scorer, aggregator);
    await waitForLog(scorer, 'scorer started', 120_000);
    await waitForLog(aggregator, 'drift aggregator started', 120_000);

    const applied = async (): Promise<number> => {
      const offsets = await new AggregatorState(redis, pipeline.redisPrefix).appliedOffsets();
      return Object.values(offsets).reduce((sum, offset) => sum + Number(offset) + 1, 0);
    };
    let appliedAtRestart = 0;
    let restartedAt = 0;
    const fault = (async () => {
      await waitUntil('the aggregator to apply 500 events', async () => (await applied()) >= 500, 120_000, children);
      appliedAtRestart = await applied();
      await privateRedis!.restart();
      restartedAt = Date.now();
    })();
    const ingested = await ingestLines(pipeline, reviews.map((r) => r.line), RATE);
    await fault;
    expect(ingested.published).toBe(TOTAL);
    expect(appliedAtRestart).toBeLessThan(TOTAL);

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    const gauge = await stateLostGauge(metricsPort);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(await aggregator.kill('SIGTERM')).toBe(0);
    const lostLogged = logRecords(aggregator).some((record) => record.msg === STATE_LOST_LOG);

    const { rows, events: windowEvents } = await readWindowsOf(pipeline);
    const expected = expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs);
    const complete = rows.filter((row) => row.stateLost === 0);
    const marked = rows.filter((row) => row.stateLost === 1);
    const wrongUnmarked = complete.filter((row) => row.events + row.late !== expected.get(windowKey(row)));
    // Windows that began after Redis came back hold only post-restart events (ingest time ≈ wall time).
    const after = [...expected.keys()].filter((key) => Number(key.split('|')[1]) > restartedAt + pipeline.windowMs);
    const rowsByKey = new Map(rows.map((row) => [windowKey(row), row]));
    printTotals('redis-restart', {
      ingested: ingested.published,
      scored: scored.length,
      unique: counts.size,
      window_events: windowEvents,
      window_events_complete: complete.reduce((sum, row) => sum + row.events + row.late, 0),
      windows: rows.length,
      windows_state_lost: marked.length,
      windows_after_restart: after.length,
      // Open or queued for ClickHouse when Redis lost them, and no later event to reopen them: no row at all.
      windows_without_row: [...expected.keys()].filter((key) => !rowsByKey.has(key)).length,
      wrong_unmarked_windows: wrongUnmarked.length,
      applied_at_restart: appliedAtRestart,
      state_lost_gauge: gauge ?? -1,
      state_lost_logged: lostLogged ? 1 : 0,
      seconds: Math.round((Date.now() - started) / 1000),
    });

    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(counts.size).toBe(TOTAL);
    // The loss is reported, not hidden.
    expect(gauge).toBe(1);
    expect(lostLogged).toBe(true);
    expect(marked.length).toBeGreaterThan(0);
    // A marked window holds what survived of it, never more than was scored for it.
    expect(marked.filter((row) => row.events + row.late > (expected.get(windowKey(row)) ?? 0))).toEqual([]);
    // No window presents partial counts as complete.
    expect(wrongUnmarked.map((row) => ({ ...row, expected: expected.get(windowKey(row)) }))).toEqual([]);
    // Windows after the loss are all there, unmarked and exact.
    expect(after.length).toBeGreaterThan(0);
    for (const key of after) expect({ key, row: rowsByKey.get(key) }).toMatchObject({ key, row: { stateLost: 0, events: expect.any(Number) } });
  });
});
