/**
 * Drift aggregator benchmark (real Kafka + Redis + embedded chdb, one aggregator process):
 *   1. pre-aggregation alone: Avro decode + sketches per event, in memory (events/s);
 *   2. end-to-end consumption: the service consuming a pre-filled topic — decode, pre-aggregate,
 *      one Lua call per Kafka batch, Kafka commit (scored events/s, from first to last applied event);
 *   3. Redis apply latency per batch and the time to close a window with all metrics (from the
 *      service's own histograms).
 * Prints the figures and writes bench/results/aggregator.json with machine info (aggregator-cluster.json
 * with `--redis cluster`: the same run with the aggregator's state on the local 3-master Redis Cluster,
 * DRIFTLINE_REDIS_CLUSTER_NODES or else the masters `scripts/services.sh up` starts on 7001-7003; the topic has
 * 3 partitions in both modes, so the cluster spreads the per-partition state over its masters).
 *
 *   node dist/bench/aggregator.js [--events 100000] [--warmup-events 20000] [--windows 5] [--redis single|cluster] [--without-embedding] [--profile FILE]
 *
 * The end-to-end figures are steady state: the service first consumes --warmup-events events (a window of
 * their own, before the measured ones), so the JIT's background compilation of the consume → apply →
 * close path is not charged to the measured events; the figure with the warm-up included is printed too.
 *
 * --profile writes a V8 CPU profile of the end-to-end phase alone (FILE.cpuprofile; summarise it with
 * bench/profile-summary.ts): `node --cpu-prof` would mix in the pre-aggregation phase and the publishing.
 *
 * The events carry a 16-float `embedding` (as models/default emits) unless --without-embedding (to see its cost).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Histogram } from 'prom-client';
import { codecFor } from '../core/avro.js';
import { createClickHouse } from '../core/clickhouse.js';
import { coreSettings } from '../core/config.js';
import { defaultDriftThresholds } from '../core/drift/config.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { createLogger } from '../core/logger.js';
import { createRedisClient } from '../core/redis.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../drift-aggregator/baselines.js';
import { aggregatorSettings, windowSizesOf } from '../drift-aggregator/config.js';
import { BatchAggregate } from '../drift-aggregator/increments.js';
import { AggregatorService } from '../drift-aggregator/service.js';
import { seededRandom, syntheticBaseline, syntheticReview } from '../fixtures/synthetic.js';
import type { ScoredReview } from '../schemas/types.js';
import { writeResult } from './lib.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '100000' }, 'warmup-events': { type: 'string', default: '20000' }, windows: { type: 'string', default: '5' }, redis: { type: 'string', default: 'single' }, 'without-embedding': { type: 'boolean', default: false }, profile: { type: 'string' } } });
const EMBEDDING = !args['without-embedding'];
const EVENTS = Number(args.events);
const WARMUP_EVENTS = Number(args['warmup-events']);
const WINDOWS = Number(args.windows);
if (args.redis !== 'single' && args.redis !== 'cluster') throw new Error(`--redis single|cluster, not ${args.redis}`);
const CLUSTER = args.redis === 'cluster';
const DEFAULT_CLUSTER_NODES = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
const MODEL = 'bench-model';
const id = randomUUID().slice(0, 8);
const chdbPath = mkdtempSync(join(tmpdir(), 'driftline-bench-agg-'));
const core = coreSettings.load(process.env, {
  topicScored: `bench-${id}-scored`,
  topicAlerts: `bench-${id}-alerts`,
  topicDeadLetter: `bench-${id}-dead-letter`,
  redisPrefix: `bench-${id}`,
  clickhouseUrl: '',
  clickhousePath: chdbPath,
  topicPartitions: 3,
});
if (CLUSTER && core.redisClusterNodes.length === 0) core.redisClusterNodes = DEFAULT_CLUSTER_NODES;
if (!CLUSTER) core.redisClusterNodes = [];
const settings = aggregatorSettings.load(process.env, { groupId: `bench-${id}-aggregator`, metricsPort: 0, windowTime: 'ingest', allowedLatenessMs: 0, idleCloseMs: 2_000, closeIntervalMs: 250 });
// The events carry a 16-float embedding like models/default's, so embedding drift's cost is in the figures.
const baseline = syntheticBaseline(MODEL, 1, 4_000, 7, EMBEDDING);

function makeReviews(): ScoredReview[] {
  const random = seededRandom(99);
  const firstWindow = Math.floor(Date.now() / settings.windowMs) * settings.windowMs - (WINDOWS + 6) * settings.windowMs;
  const perWindow = Math.ceil(EVENTS / WINDOWS);
  // The warm-up events fill the first window, the measured ones the next WINDOWS.
  const windowOf = (i: number): number => (i < WARMUP_EVENTS ? 0 : 1 + Math.floor((i - WARMUP_EVENTS) / perWindow));
  // A third of the stream is shifted, so closing windows has real drift to report.
  return Array.from({ length: WARMUP_EVENTS + EVENTS }, (_, i) =>
    syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, shifted: i % 3 === 0, embedding: EMBEDDING, ingestTimeMs: firstWindow + windowOf(i) * settings.windowMs + (i % perWindow) }),
  );
}

async function preAggregationRate(encoded: Buffer[]): Promise<{ wall: number; cpu: number }> {
  const catalog = new SketchCatalog(new InMemoryBaselineProvider([baseline]), settings.maxSegments);
  await catalog.ensure([{ modelName: MODEL, version: 1 }]);
  const codec = codecFor('ScoredReview');
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let aggregate = new BatchAggregate({ windowMs: settings.windowMs, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) });
  for (let i = 0; i < encoded.length; i++) {
    aggregate.add(codec.decode(encoded[i]));
    if (i % 2_000 === 1_999) {
      aggregate.finish();
      for (const window of aggregate.windows.values()) for (const states of window.segments.values()) states.increments();
      aggregate = new BatchAggregate({ windowMs: settings.windowMs, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) });
    }
  }
  return { wall: encoded.length / ((performance.now() - started) / 1000), cpu: encoded.length / cpuSeconds(cpuStart) };
}

/** CPU seconds (user + system) this process used since `start`: throughput per CPU second does not depend on other load. */
function cpuSeconds(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

async function publish(encoded: Buffer[]): Promise<void> {
  const kafka = createKafka(core, 'bench-producer');
  await ensureTopics(kafka, [core.topicScored], core);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < encoded.length; i += 5_000) {
    await producer.send({ topic: core.topicScored, acks: -1, messages: encoded.slice(i, i + 5_000).map((value, k) => ({ key: String(i + k), value })) });
  }
  await producer.disconnect();
}

/**
 * CPU seconds per thread of this process (Linux /proc; an empty map elsewhere): the main thread apart
 * from V8's GC helpers, libuv's pool and the embedded ClickHouse's threads (named ones by their name).
 */
function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
      // Most threads keep the process's name: the main thread is the one whose id is the process id.
      const group = task === String(process.pid) ? 'main' : name.replace(/[0-9]+$/, '').trim() === 'node' ? 'other threads' : name.replace(/[0-9]+$/, '').trim();
      out.set(group, (out.get(group) ?? 0) + ticks / 100);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

function threadShares(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const shares: Record<string, number> = {};
  for (const [name, seconds] of after) {
    const used = seconds - (before.get(name) ?? 0);
    if (used >= 0.01) shares[name] = Number(used.toFixed(2));
  }
  return shares;
}

async function startProfiling(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

async function stopProfiling(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
  console.log(`wrote the end-to-end phase's CPU profile to ${file}`);
}

async function histogramStats(histogram: Histogram): Promise<{ count: number; meanMs: number }> {
  const metric = await histogram.get();
  const sum = metric.values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const count = metric.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  return { count, meanMs: count === 0 ? 0 : (sum / count) * 1000 };
}

async function main(): Promise<void> {
  const codec = codecFor('ScoredReview');
  const encoded = makeReviews().map((review) => codec.encode(review));
  const preAggregation = await preAggregationRate(encoded.slice(WARMUP_EVENTS));
  console.log(`pre-aggregation (decode + sketches, in memory): ${Math.round(preAggregation.wall).toLocaleString()} events/s wall, ${Math.round(preAggregation.cpu).toLocaleString()} events per CPU second`);

  await publish(encoded);
  const redis = createRedisClient(core);
  const clickhouse = await createClickHouse(core);
  const service = new AggregatorService({
    core,
    settings,
    thresholds: defaultDriftThresholds(),
    kafka: createKafka(core, 'bench-aggregator'),
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([baseline]),
    rollbackTarget: null,
    log: createLogger('bench-aggregator', 'warn'),
  });
  // Timed from the moment the consumer runs (group join included) until every event is applied; the
  // steady-state figures from the moment the warm-up events are applied.
  await service.start();
  const consumed = async (): Promise<number> => (await service.metrics.eventsConsumed.get()).values[0]?.value ?? 0;
  const untilConsumed = async (count: number): Promise<number> => {
    for (;;) {
      const now = await consumed();
      if (now >= count) return now;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const serviceStartedAt = performance.now();
  const serviceCpuStart = process.cpuUsage();
  const warmedUp = WARMUP_EVENTS > 0 ? await untilConsumed(WARMUP_EVENTS) : 0;
  const profiler = args.profile ? await startProfiling() : null;
  const firstAt = performance.now();
  const cpuStart = process.cpuUsage();
  const threadsStart = threadCpuSeconds();
  const done = await untilConsumed(WARMUP_EVENTS + EVENTS);
  const lastAt = performance.now();
  const measured = done - warmedUp;
  const endToEnd = measured / ((lastAt - firstAt) / 1000);
  const endToEndCpu = measured / cpuSeconds(cpuStart);
  const withWarmupCpu = done / cpuSeconds(serviceCpuStart);
  const threads = threadShares(threadsStart, threadCpuSeconds());
  if (profiler && args.profile) await stopProfiling(profiler, args.profile);
  console.log(`CPU seconds by thread during the measured phase: ${Object.entries(threads).map(([name, seconds]) => `${name} ${seconds}`).join(', ') || 'not available here'}`);
  console.log(`end-to-end consumption (Kafka -> decode -> sketches -> Redis Lua apply -> commit), after ${warmedUp.toLocaleString()} warm-up events: ${Math.round(endToEnd).toLocaleString()} events/s wall (${measured} events in ${((lastAt - firstAt) / 1000).toFixed(2)} s), ${Math.round(endToEndCpu).toLocaleString()} events per CPU second of the process`);
  console.log(`the same from the service's start, warm-up included: ${Math.round(withWarmupCpu).toLocaleString()} events per CPU second (${Math.round(done / ((lastAt - serviceStartedAt) / 1000)).toLocaleString()}/s wall)`);
  while (((await service.metrics.windowsClosed.get()).values[0]?.value ?? 0) < WINDOWS + (WARMUP_EVENTS > 0 ? 1 : 0)) await new Promise((resolve) => setTimeout(resolve, 100));
  const apply = await histogramStats(service.metrics.redisApplySeconds);
  const close = await histogramStats(service.metrics.windowCloseSeconds);
  console.log(`redis apply: ${apply.count} Lua calls, mean ${apply.meanMs.toFixed(2)} ms per batch (${((WARMUP_EVENTS + EVENTS) / apply.count).toFixed(0)} events per batch)`);
  console.log(`window close (read sketches, all metrics for ${settings.maxSegments + 2} segments, queue rows): mean ${close.meanMs.toFixed(1)} ms over ${close.count} windows of ~${Math.round(EVENTS / WINDOWS)} events`);
  await service.stop();
  await clickhouse.close();
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  for (const node of nodes) for (const key of await node.keys(`${core.redisPrefix}:*`)) await redis.del(key);
  redis.disconnect();
  rmSync(chdbPath, { recursive: true, force: true });

  const result = {
    benchmark: 'aggregator',
    time: new Date().toISOString(),
    machine: { os: `${osType()} ${release()}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg() },
    config: { redis: CLUSTER ? `cluster (${core.redisClusterNodes.length} masters)` : 'single', events: EVENTS, warmupEvents: WARMUP_EVENTS, windows: WINDOWS, windowSizesMs: windowSizesOf(settings), partitions: core.topicPartitions, maxBatchBytes: settings.maxBatchBytes, segments: settings.maxSegments, embedding: EMBEDDING },
    preAggregationEventsPerSecond: Math.round(preAggregation.wall),
    preAggregationEventsPerCpuSecond: Math.round(preAggregation.cpu),
    endToEndEventsPerSecond: Math.round(endToEnd),
    endToEndEventsPerCpuSecond: Math.round(endToEndCpu),
    endToEndCpuSecondsByThread: threads,
    endToEndWithWarmupEventsPerCpuSecond: Math.round(withWarmupCpu),
    note: 'wall-clock figures depend on the machine load (loadavg above; 2 cores shared); per-CPU-second figures are what one process does with a full core',
    redisApply: { calls: apply.count, meanMs: Number(apply.meanMs.toFixed(3)), eventsPerCall: Math.round((WARMUP_EVENTS + EVENTS) / apply.count) },
    windowClose: { windows: close.count, meanMs: Number(close.meanMs.toFixed(2)), eventsPerWindow: Math.round(EVENTS / WINDOWS) },
    target: { eventsPerSecond: 50_000, metWallClock: endToEnd >= 50_000, metPerCpuSecond: endToEndCpu >= 50_000 },
  };
  console.log(`wrote ${writeResult(CLUSTER ? 'aggregator-cluster' : 'aggregator', result)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
