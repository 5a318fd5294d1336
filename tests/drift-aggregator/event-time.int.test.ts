/**
 * Event-time windows are deterministic, against real Kafka, Redis and chdb: the same file of scored
 * reviews, streamed twice — once at full speed into a 1-partition topic, once slowly in small chunks into
 * a 4-partition topic (other ingest times, other batches, other interleaving) — gives the same window rows
 * in ClickHouse and the same sketches in Redis. The file is last month's reviews (a backfill): its rows
 * land in last month's windows, not in today's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../../drift-aggregator/baselines.js';
import { sharedWindowStates } from '../../drift-aggregator/evaluate.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { windowId, windowStartOf } from '../../drift-aggregator/windows.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { testSetup, waitFor, testAggregator } from './harness.js';

const MODEL = 'event-time';
const WINDOW_MS = 60_000;
const WINDOWS = 8;
const PER_WINDOW = 300;
/** Events are published up to this much out of event-time order; the allowed lateness covers it, so none is late. */
const DISORDER_MS = 20_000;
const settingsOverrides = { windowMs: WINDOW_MS, windowTime: 'event', allowedLatenessMs: 45_000, idleCloseMs: 8_000, closeIntervalMs: 200 } as const;

const workDir = mkdtempSync(join(tmpdir(), 'driftline-event-time-'));
const file = join(workDir, 'last-month.jsonl');
const chdbPath = join(workDir, 'chdb');
/** 00:00 UTC on the 10th of last month: the backfill's first window. */
const lastMonth = ((): number => {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10);
})();
let redis: Redis;
let clickhouse: ClickHouseClient;

interface Run {
  core: CoreSettings;
  closedWindows: number;
}
const runs: Run[] = [];

/** The file: last month's reviews in event-time order up to DISORDER_MS; the second half drifted (text length, category mix). */
function writeFile(): void {
  const random = seededRandom(42);
  const reviews: Array<{ review: ScoredReview; order: number }> = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      const eventTimeMs = lastMonth + w * WINDOW_MS + Math.floor(random() * WINDOW_MS);
      const review = syntheticReview(w * PER_WINDOW + i, random, { modelName: MODEL, modelVersion: 1, shifted: w >= WINDOWS / 2, eventTimeMs, ingestTimeMs: 0 });
      reviews.push({ review, order: eventTimeMs + random() * DISORDER_MS });
    }
  }
  reviews.sort((a, b) => a.order - b.order);
  writeFileSync(file, reviews.map(({ review }) => JSON.stringify(review)).join('\n') + '\n');
}

/** Publishes the file with this run's ingest times, `chunk` records per send and `pauseMs` between sends. */
async function publishFile(core: CoreSettings, chunk: number, pauseMs: number): Promise<void> {
  const codec = codecFor('ScoredReview');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const producer = createKafka(core, 'event-time-producer').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < lines.length; i += chunk) {
      const now = Date.now();
      const reviews = lines.slice(i, i + chunk).map((line) => ({ ...(JSON.parse(line) as ScoredReview), ingest_time_ms: now, scored_time_ms: now }));
      await producer.send({ topic: core.topicScored, acks: -1, messages: reviews.map((review) => ({ key: review.review_id, value: codec.encode(review) })) });
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Streams the file through a fresh aggregator (own topics, Redis prefix and ClickHouse database) until every window is written. */
async function streamOnce(partitions: number, chunk: number, pauseMs: number): Promise<Run> {
  const setup = testSetup(settingsOverrides);
  rmSync(setup.core.clickhousePath, { recursive: true, force: true });
  const core = coreSettings.load({ ...process.env, ...setup.env, DRIFTLINE_TOPIC_PARTITIONS: String(partitions), DRIFTLINE_CLICKHOUSE_PATH: chdbPath, DRIFTLINE_CLICKHOUSE_DATABASE: `event_time_${setup.id}` });
  const kafka = createKafka(core, 'event-time-test');
  await ensureTopics(kafka, [core.topicScored, core.topicAlerts, core.topicDeadLetter], core);
  const service = testAggregator('event-time-test', {
    core,
    settings: setup.settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]),
  }, 'warn');
  const run: Run = { core, closedWindows: 0 };
  service.onWindowClosed(() => run.closedWindows++);
  await service.start();
  try {
    await publishFile(core, chunk, pauseMs);
    await waitFor(async () => run.closedWindows >= WINDOWS, 90_000, `the ${WINDOWS} windows of the run on ${partitions} partitions to close`);
    await waitFor(async () => (await service.writer.pendingCount()) === 0, 60_000, 'ClickHouse rows to be written');
  } finally {
    await service.stop();
  }
  return run;
}

/**
 * Differences between two lists of rows. Floats are sums whose last bits depend on the order of addition
 * (core/sketch/histogram.ts), so they may differ by 1e-9 relative; everything else (counts, bins, statuses,
 * times, keys) must be equal.
 */
function differences(actual: ReadonlyArray<Record<string, unknown>>, expected: ReadonlyArray<Record<string, unknown>>): string[] {
  if (actual.length !== expected.length) return [`${actual.length} rows, expected ${expected.length}`];
  const out: string[] = [];
  expected.forEach((want, index) => {
    const got = actual[index]!;
    for (const key of new Set([...Object.keys(want), ...Object.keys(got)])) {
      const [a, b] = [got[key], want[key]];
      const close = typeof a === 'number' && typeof b === 'number' && !Number.isInteger(b) && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
      if (!close && a !== b) out.push(`row ${index} ${JSON.stringify(want)}: ${key} = ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
    }
  });
  return out;
}

async function tableRows(run: Run, table: 'drift_metrics' | 'window_summary'): Promise<Array<Record<string, unknown>>> {
  const order = table === 'drift_metrics' ? 'window_start, segment, feature, metric' : 'window_start, segment';
  const result = await clickhouse.query({
    query: `SELECT * EXCEPT written_at FROM ${run.core.clickhouseDatabase}.${table} FINAL ORDER BY ${order}`,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return result.json();
}

beforeAll(async () => {
  writeFile();
  redis = new Redis(coreSettings.load().redisUrl);
  clickhouse = await createClickHouse({ ...coreSettings.load(), clickhouseUrl: '', clickhousePath: chdbPath });
  // The same file: at full speed into one partition, then slowly (chunks of 60, 100 ms apart) into four.
  runs.push(await streamOnce(1, 1_000, 0));
  runs.push(await streamOnce(4, 60, 100));
}, 300_000);

afterAll(async () => {
  await clickhouse?.close();
  for (const run of runs) {
    const keys = await redis.keys(`${run.core.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis?.disconnect();
  rmSync(workDir, { recursive: true, force: true });
});

describe('event-time windows', () => {
  it('two runs of the same file at different rates and partition counts write identical window rows', async () => {
    const [fast, slow] = runs as [Run, Run];
    const [fastSummaries, slowSummaries] = [await tableRows(fast, 'window_summary'), await tableRows(slow, 'window_summary')];
    expect(fastSummaries.filter((row) => row.segment === '__all__')).toHaveLength(WINDOWS);
    expect(differences(slowSummaries, fastSummaries)).toEqual([]);
    const [fastMetrics, slowMetrics] = [await tableRows(fast, 'drift_metrics'), await tableRows(slow, 'drift_metrics')];
    expect(fastMetrics.length).toBeGreaterThan(WINDOWS * 20);
    expect(differences(slowMetrics, fastMetrics)).toEqual([]);
    // Not trivially equal: the drifted half of the file is red after hysteresis, the first half is not.
    const statuses = fastSummaries.filter((row) => row.segment === '__all__').map((row) => row.status);
    expect(statuses.slice(0, WINDOWS / 2)).not.toContain('red');
    expect(statuses.slice(WINDOWS / 2 + 1)).toEqual(Array(WINDOWS / 2 - 1).fill('red'));
  });

  it('and identical sketches: the merged sketches of every window hold the same bins and counts', async () => {
    // The runs have different partition counts, so each partition's share differs: the window (the merge
    // of its shares, as the closer reads it) must not.
    const [fast, slow] = runs.map((run) => new AggregatorState(redis, run.core.redisPrefix)) as [AggregatorState, AggregatorState];
    const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1)]), 10);
    const sketches = await catalog.load(MODEL, 1);
    const fields = (value: unknown, path: string, out: Array<Record<string, unknown>>): Array<Record<string, unknown>> => {
      if (value instanceof Map) for (const key of [...value.keys()].sort()) fields(value.get(key), `${path}/${String(key)}`, out);
      else if (value !== null && typeof value === 'object') for (const key of Object.keys(value).sort()) fields((value as Record<string, unknown>)[key], `${path}/${key}`, out);
      else out.push({ path, value });
      return out;
    };
    for (let w = 0; w < WINDOWS; w++) {
      const id = windowId({ modelName: MODEL, modelVersion: 1, start: lastMonth + w * WINDOW_MS });
      const [fastStates, slowStates] = [sharedWindowStates(await fast.readWindow(id), sketches), sharedWindowStates(await slow.readWindow(id), sketches)];
      const fastFields = fields(fastStates, '', []);
      expect(fastFields.length).toBeGreaterThan(10);
      expect(differences(fields(slowStates, '', []), fastFields)).toEqual([]);
    }
  });

  it('a backfill of last month fills last month\'s windows, every event on its own time, none late', async () => {
    const rows = (await tableRows(runs[0]!, 'window_summary')).filter((row) => row.segment === '__all__');
    const expectedStarts = Array.from({ length: WINDOWS }, (_, w) => new Date(windowStartOf(lastMonth + w * WINDOW_MS, WINDOW_MS)).toISOString().replace('T', ' ').replace('Z', ''));
    expect(rows.map((row) => row.window_start)).toEqual(expectedStarts);
    expect(rows.map((row) => [row.events, row.event_time_events, row.ingest_time_events, row.late_events])).toEqual(Array(WINDOWS).fill([PER_WINDOW, PER_WINDOW, 0, 0]));
  });
});
