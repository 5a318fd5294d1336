/**
 * The whole pipeline for fault-injection tests (tests/faults/): ingest → scorer → drift aggregator on
 * unique topics, groups, Redis prefix, chdb path and a temporary registry seeded from models/default,
 * with short ingest-time windows; the aggregator as a child process; totals read back at the end.
 *
 * Builds on the scorer's helpers (tests/scorer/helpers.ts: createSetup, startScorer, readScored, ...):
 * a Pipeline is a scorer TestSetup whose env also carries the aggregator's settings.
 *
 * Private services: a test that stops the broker or restarts Redis must not pull them from under the
 * other test runs sharing this machine, so those tests start their own broker (scripts/services.sh with
 * its own run dir and ports, the same script and config as the shared one) or their own Redis (the same
 * flags services.sh uses: no persistence).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { freePort } from '../../bench/lib.js';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { createKafka } from '../../core/kafka.js';
import { repoPath } from '../../core/paths.js';
import { windowStartOf } from '../../drift-aggregator/windows.js';
import { ingestRecords, type IngestProgress, type IngestSummary } from '../../ingest/index.js';
import type { ScoredReview } from '../../schemas/types.js';
import { countById, createSetup, readScored, sleep, startChild, waitUntil, type ScorerChild, type TestSetup } from '../scorer/helpers.js';
import { loadValidLines } from './corpus.js';
import { deleteMatching } from './redis-modes.js';
import type { RedisClient } from '../../core/redis.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';

const run = promisify(execFile);

export const WINDOW_MS = 2_000;

export interface Pipeline extends TestSetup {
  core: CoreSettings;
  redisPrefix: string;
  chdbPath: string;
  aggregatorGroup: string;
  windowMs: number;
  /** Everything the test created outside Kafka: Redis keys, registry, chdb path, logs (unless kept). */
  cleanupAll(redis: RedisClient): Promise<void>;
  /** Keep the children's logs (call from onTestFailed): their directory is printed instead of removed. */
  keepLogs(): void;
}

export interface PipelineOptions {
  partitions?: number;
  windowMs?: number;
  /** Extra environment of the children (e.g. a Redis mode's DRIFTLINE_REDIS_CLUSTER_NODES: tests/support/redis-modes.ts). */
  env?: Record<string, string>;
}

/** Unique topics/groups/prefix/paths; env for both the scorer and the aggregator child processes. */
export async function createPipeline(name: string, options: PipelineOptions = {}): Promise<Pipeline> {
  const setup = await createSetup(name, options.partitions ?? 3);
  const windowMs = options.windowMs ?? WINDOW_MS;
  const chdbPath = mkdtempSync(join(tmpdir(), `driftline-fault-chdb-${name}-`));
  const redisPrefix = `t-${setup.id}`;
  const aggregatorGroup = `g-${setup.id}-aggregator`;
  Object.assign(setup.env, {
    DRIFTLINE_TOPIC_ALERTS: `t-${setup.id}-alerts`,
    DRIFTLINE_REDIS_PREFIX: redisPrefix,
    DRIFTLINE_CLICKHOUSE_PATH: chdbPath,
    DRIFTLINE_CLICKHOUSE_URL: '',
    DRIFTLINE_AGGREGATOR_GROUP: aggregatorGroup,
    DRIFTLINE_AGGREGATOR_METRICS_PORT: '0',
    DRIFTLINE_WINDOW_MS: String(windowMs),
    DRIFTLINE_WINDOW_TIME: 'ingest',
    DRIFTLINE_ALLOWED_LATENESS_MS: '1000',
    DRIFTLINE_WINDOW_IDLE_CLOSE_MS: '2000',
    DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS: '250',
    DRIFTLINE_AGGREGATOR_CH_RETRY_MAX_MS: '1000',
    // A red window must not roll the model back on its own: the tests decide which version serves.
    DRIFTLINE_AUTO_ROLLBACK: 'false',
    ...options.env,
  });
  const core = coreSettings.load(setup.env);
  let logsKept = false;
  return {
    ...setup,
    core,
    redisPrefix,
    chdbPath,
    aggregatorGroup,
    windowMs,
    async cleanupAll(redis) {
      await deleteMatching(redis, `${redisPrefix}:*`).catch(() => undefined);
      setup.cleanup();
      rmSync(chdbPath, { recursive: true, force: true });
      if (logsKept) console.log(`fault test logs kept in ${setup.logDir}`);
      else rmSync(setup.logDir, { recursive: true, force: true });
    },
    keepLogs() {
      logsKept = true;
    },
  };
}

/** `node --import tsx drift-aggregator/main.ts` with the pipeline's env (plus overrides); logs go to a file. */
export function startAggregator(pipeline: Pipeline, name: string, extraEnv: NodeJS.ProcessEnv = {}): ScorerChild {
  return startChild('drift-aggregator/main.ts', join(pipeline.logDir, `${name}.log`), { ...pipeline.env, ...extraEnv });
}

/** JSON log lines of a child (pino), for messages like 'aggregator state lost'. */
export function logRecords(child: ScorerChild): Array<Record<string, unknown>> {
  return child
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Valid reviews of the shared dev set (unique ids) as JSONL lines. */
export function reviewLines(count: number, offset = 0): Array<{ id: string; line: string }> {
  return loadValidLines(count, offset).map(({ line, record }) => ({ id: String(record.review_id), line }));
}

/** Runs the real ingest over the lines (rate-limited, small batches) into the pipeline's reviews topic. */
export async function ingestLines(pipeline: Pipeline, lines: string[], ratePerSecond: number, onProgress?: (progress: IngestProgress) => void): Promise<IngestSummary> {
  const stream = Readable.from(lines.map((line) => `${line}\n`));
  return ingestRecords(
    { name: `fault-${pipeline.id}`, stream },
    { settings: pipeline.core, ingest: { rate: ratePerSecond, batchSize: 25, progressIntervalMs: 200 }, createTopics: false, ...(onProgress ? { onProgress } : {}) },
  );
}

/** Resolves once the child logged a line with this message (e.g. 'scorer started'). */
export async function waitForLog(child: ScorerChild, message: string, timeoutMs: number): Promise<void> {
  await waitUntil(`${child.logFile} to log "${message}"`, () => logRecords(child).some((record) => record.msg === message), timeoutMs, [child]);
}

/**
 * Reviews the scorer group has committed, or null while the broker cannot say (after a broker restart
 * the group coordinator answers "loading" / "not the coordinator" for a while). Not groupProgress from the
 * scorer helpers: that one awaits two admin calls with Promise.all, and when both fail the second
 * rejection is unhandled, which vitest reports as an error of the test file.
 */
export async function scorerCommitted(pipeline: Pipeline): Promise<{ committed: number; end: number } | null> {
  const admin = pipeline.kafka.admin();
  try {
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(pipeline.topics.reviews);
    const [committed] = await admin.fetchOffsets({ groupId: pipeline.groupId, topics: [pipeline.topics.reviews] });
    return {
      committed: (committed?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0),
      end: ends.reduce((sum, p) => sum + Number(p.high), 0),
    };
  } catch {
    return null;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * The end of every fault test's stream: waits until the scorer committed every review and the aggregator
 * counted every scored event, then returns the scored events and how often each review id was scored.
 */
export async function drainPipeline(pipeline: Pipeline, redis: RedisClient, children: ScorerChild[]): Promise<{ scored: Awaited<ReturnType<typeof readScored>>; counts: Map<string, number> }> {
  await waitForScorer(pipeline, 150_000, children);
  const scored = await readScored(pipeline);
  await waitForAggregated(pipeline, redis, scored, 150_000, children);
  return { scored, counts: countById(scored) };
}

/** Waits until the scorer group committed every review offset (tolerating a broker that is still loading). */
export async function waitForScorer(pipeline: Pipeline, timeoutMs: number, children: ScorerChild[]): Promise<void> {
  await waitUntil(
    'the scorer to commit every review',
    async () => {
      const progress = await scorerCommitted(pipeline);
      return progress !== null && progress.end > 0 && progress.committed >= progress.end;
    },
    timeoutMs,
    children,
  );
}

/** Last offset of each partition of the scored topic (from the events read back). */
function lastOffsets(scored: Array<{ partition: number; offset: string }>): Map<number, number> {
  const last = new Map<number, number>();
  for (const { partition, offset } of scored) last.set(partition, Math.max(last.get(partition) ?? -1, Number(offset)));
  return last;
}

/**
 * Waits until the aggregator applied every scored event (its Redis offsets reached the last scored offset
 * of each partition), closed every window and handed every queued row to ClickHouse.
 */
export async function waitForAggregated(pipeline: Pipeline, redis: RedisClient, scored: Array<{ partition: number; offset: string }>, timeoutMs: number, children: ScorerChild[] = []): Promise<void> {
  const state = new AggregatorState(redis, pipeline.redisPrefix);
  const targets = lastOffsets(scored);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const applied = await state.appliedOffsets();
    const caughtUp = [...targets].every(([partition, offset]) => Number(applied[`${pipeline.topics.scored}:${partition}`] ?? -1) >= offset);
    if (caughtUp) {
      const [open, pending, lateDirty] = await Promise.all([redis.zcard(state.key('open')), redis.llen(state.key('pending')), state.lateDirtyCount()]);
      if (open === 0 && pending === 0 && lateDirty === 0) return;
    }
    const died = children.find((c) => !c.signalled && (c.process.exitCode !== null || c.process.signalCode !== null));
    if (died) throw new Error(`${died.logFile} exited unexpectedly:\n${died.logs().split('\n').slice(-30).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`aggregator did not finish: applied ${JSON.stringify(applied)}, want ${JSON.stringify([...targets])}\n${children.map((c) => `--- ${c.logFile}\n${c.logs().split('\n').slice(-20).join('\n')}`).join('\n')}`);
    await sleep(500);
  }
}

export interface WindowRow {
  start: number;
  version: number;
  events: number;
  late: number;
  stateLost: number;
}

/** The __all__ window_summary rows (FINAL: newest per key) and how many rows exist without FINAL. */
export interface WindowsRead {
  rows: WindowRow[];
  /** Rows before FINAL merges them: more than rows.length would mean a window was written twice. */
  rawRows: number;
  /** Reviews counted over all windows, on time or late. */
  events: number;
}

export async function readWindows(client: ClickHouseClient, database: string): Promise<WindowsRead> {
  const result = await client.query({
    query: `SELECT toUnixTimestamp64Milli(window_start) AS start, model_version AS version, events, late_events AS late, state_lost AS stateLost
            FROM ${database}.window_summary FINAL WHERE segment = '__all__' ORDER BY version, start`,
    format: 'JSONEachRow',
  });
  const rows = ((await result.json()) as Array<Record<string, string | number>>).map((r) => ({
    start: Number(r.start),
    version: Number(r.version),
    events: Number(r.events),
    late: Number(r.late),
    stateLost: Number(r.stateLost),
  }));
  const raw = await client.query({ query: `SELECT count() AS n FROM ${database}.window_summary WHERE segment = '__all__'`, format: 'JSONEachRow' });
  const rawRows = Number(((await raw.json()) as Array<{ n: string }>)[0]?.n ?? 0);
  return { rows, rawRows, events: rows.reduce((sum, row) => sum + row.events + row.late, 0) };
}

/** Opens the pipeline's chdb path in this process (after the aggregator children exited) and reads the windows. */
export async function readWindowsOf(pipeline: Pipeline): Promise<WindowsRead> {
  const client = await createClickHouse(pipeline.core);
  try {
    return await readWindows(client, pipeline.core.clickhouseDatabase);
  } finally {
    await client.close();
  }
}

/** Scored events per window (`<version>|<start>`), as the aggregator should count them (ingest time). */
export function expectedWindowCounts(scored: ScoredReview[], windowMs: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of scored) {
    const key = `${event.model_version}|${windowStartOf(event.ingest_time_ms, windowMs)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export const windowKey = (row: { version: number; start: number }): string => `${row.version}|${row.start}`;

/** The one line each fault test prints with the totals it checked. */
export function printTotals(fault: string, totals: Record<string, number>): void {
  console.log(`fault ${fault}: ${Object.entries(totals).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

// ------------------------------------------------------------------ private services

/** A TCP port free on 127.0.0.1 right now (one definition, in bench/lib.ts). */
export { freePort };

export interface PrivateKafka {
  brokers: string;
  /** `scripts/services.sh kafka-down` for this broker. */
  down(): Promise<void>;
  /** `scripts/services.sh kafka-up` (same data dir: committed data and offsets survive). */
  up(): Promise<void>;
  /** Down for good and the data dir removed. */
  destroy(): Promise<void>;
}

/** A broker of its own, started by scripts/services.sh with its own run dir and ports. */
export async function startPrivateKafka(): Promise<PrivateKafka> {
  const runDir = mkdtempSync(join(tmpdir(), 'driftline-fault-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    DRIFTLINE_RUN_DIR: runDir,
    DRIFTLINE_KAFKA_PORT: String(port),
    DRIFTLINE_KAFKA_CONTROLLER_PORT: String(controllerPort),
    DRIFTLINE_KAFKA_JARS: repoPath('.cache', 'kafka-jars'),
  };
  const services = async (command: string): Promise<void> => {
    await run('bash', [repoPath('scripts', 'services.sh'), command], { env, timeout: 150_000 });
  };
  await services('kafka-up');
  await waitForGroupCoordinator(`127.0.0.1:${port}`);
  return {
    brokers: `127.0.0.1:${port}`,
    down: () => services('kafka-down'),
    up: () => services('kafka-up'),
    async destroy() {
      await services('kafka-down').catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/**
 * A broker that just formatted its storage creates and loads __consumer_offsets on the first group request;
 * until then group calls fail ("coordinator not available / loading"). The shared broker is long past that,
 * so a private one is warmed up the same way before the components start (see the report: the scorer does
 * not survive starting against a broker in that state).
 */
async function waitForGroupCoordinator(brokers: string): Promise<void> {
  const admin = createKafka({ ...coreSettings.load(), kafkaBrokers: [brokers] }, 'fault-warm-up').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ready = await admin.describeGroups(['fault-warm-up']).then((answer) => (answer.groups[0] as { errorCode?: number } | undefined)?.errorCode === 0 /* in the response, not in kafkajs' types */, () => false);
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`the group coordinator of ${brokers} did not become available`);
      await sleep(500);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface PrivateRedis {
  url: string;
  /** `redis-cli shutdown nosave` then started again with the same flags: every key is gone. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

/** A Redis of its own with the flags scripts/services.sh uses (no RDB, no AOF). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'driftline-fault-redis-'));
  const port = await freePort();
  const start = async (): Promise<void> => {
    await run('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log'), '--pidfile', join(dir, 'redis.pid')]);
    for (let i = 0; i < 50; i++) {
      if (await run('redis-cli', ['-p', String(port), 'ping']).then(() => true, () => false)) return;
      await sleep(100);
    }
    throw new Error(`private redis on ${port} did not answer`);
  };
  const shutdown = async (): Promise<void> => {
    await run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
    for (let i = 0; i < 50 && existsSync(join(dir, 'redis.pid')); i++) await sleep(100);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    async restart() {
      await shutdown();
      await start();
    },
    async destroy() {
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
