/**
 * Scorer benchmark (`node dist/bench/scorer.js`), all on this machine and the local broker:
 *  (a) raw ceiling: a plain kafkajs consume→produce passthrough of the same messages, non-transactional and
 *      transactional (one producer per partition, sendOffsets + commit per batch, like the scorer);
 *  (b) the scorer's sustained throughput (child process, real model) on N pre-loaded reviews;
 *  (c) end-to-end latency p50/p99 (ingest_time_ms → scored event seen by a read_committed consumer) at a
 *      fixed input rate.
 * Prints the figures and writes bench/results/scorer.json. Env: BENCH_REVIEWS (200000: ~10 s of scoring, so the figures are not those of the first fetches), BENCH_PARTITIONS (3),
 * BENCH_RATE (5000/s), BENCH_LOW_RATE (1000/s, a second latency point), BENCH_LATENCY_SECONDS (25, all measured from the first second at full rate), BENCH_FIRST_SECONDS (5, their p99 also shown apart), BENCH_CLIENT_WARMUP_SECONDS (3, the bench's own producer and reader on a side topic), BENCH_SCORER_LOG_LEVEL (the child's log level; default DRIFTLINE_LOG_LEVEL or warn), BENCH_PARTS (a,b,c: run a subset; the JSON is written only for all three); DRIFTLINE_SCORER_*
 * settings apply to the passthrough and are passed to the scorer child.
 *
 * One file on purpose (~400 lines): a benchmark script, read top to bottom as one run; its three parts share
 * the pre-loaded topics, the child scorer and the result record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { coreSettings } from '../core/config.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { openRegistry } from '../core/model/registry/index.js';
import { readShippedReviewLines, repoPath, repoRoot } from '../core/paths.js';
import { validateReview } from '../core/validation.js';
import type { ReviewEvent } from '../schemas/types.js';
import { scorerSettings } from '../scorer/config.js';
import { scorerModelThreads } from '../scorer/index.js';
import { splitBySize } from '../scorer/pipeline.js';
import { TRANSACTIONAL_RETRY } from '../scorer/producers.js';
import { entryArgs, percentile, writeResult } from './lib.js';

const REVIEWS = Number(process.env.BENCH_REVIEWS ?? 200_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 5_000);
/** A second latency point below this machine's scorer capacity, to separate pipeline latency from queueing. */
const LOW_RATE = Number(process.env.BENCH_LOW_RATE ?? 1_000);
/** Seconds at the full rate, all measured (from the first one). */
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 25);
/** The first seconds at the full rate, whose p99 is also reported apart (they are part of THE p99). */
const WARMUP_SECONDS = Number(process.env.BENCH_FIRST_SECONDS ?? 5);
const MODEL_NAME = 'default';
/** Which parts to run (a = passthrough, b = scorer throughput, c = latency); the JSON is written only for all three. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'a,b,c').split(',').map((p) => p.trim()));

const core = coreSettings.load();
const kafka = createKafka(core, 'bench-scorer');
const runId = randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function loadReviewPool(): ReviewEvent[] {
  const lines = readShippedReviewLines();
  const pool: ReviewEvent[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    const result = validateReview(JSON.parse(line) as unknown); // ingest_time_ms is set per message (benchMessage)
    if (result.ok) pool.push(result.review);
  }
  return pool;
}

/** The i-th bench review: real texts, cycled, with unique ids. */
function benchMessage(pool: ReviewEvent[], i: number, ingestTimeMs: number): Message {
  const base = pool[i % pool.length]!;
  const review = { ...base, review_id: `${base.review_id}-b${i}`, ingest_time_ms: ingestTimeMs };
  return { key: review.review_id, value: codecFor('ReviewEvent').encode(review) };
}

async function newTopics(name: string): Promise<{ reviews: string; scored: string; deadLetter: string; promotions: string }> {
  const topics = { reviews: `bench-${runId}-${name}-reviews`, scored: `bench-${runId}-${name}-scored`, deadLetter: `bench-${runId}-${name}-dead`, promotions: `bench-${runId}-${name}-promotions` };
  await ensureTopics(kafka, Object.values(topics), core, PARTITIONS);
  return topics;
}

async function preload(topic: string, pool: ReviewEvent[], count: number): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const now = Date.now();
  for (let i = 0; i < count; i += 1_000) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(count, i + 1_000); j++) messages.push(benchMessage(pool, j, now));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

/**
 * The group's committed offsets summed, or 0 while the broker answers with a retriable error (a broker started
 * seconds ago may not have elected the group's coordinator yet: NOT_COORDINATOR_FOR_GROUP); the caller polls.
 */
async function committedTotal(groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } catch (error) {
    if ((error as { retriable?: boolean }).retriable === true) return 0;
    throw error;
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------------------------
// (a) passthrough ceiling

interface PassthroughResult {
  mode: 'plain' | 'transactional';
  reviews: number;
  seconds: number;
  reviewsPerSecond: number;
  /** CPU time of this process (all its threads) per 1,000 reviews: steadier than the rate on a shared machine. */
  cpuMsPer1000: number;
  /** The local broker's and the whole machine's CPU over the same interval (where the rest of the cores went). */
  host: HostCpuShare | null;
}

/** CPU milliseconds per 1,000 reviews, one decimal: the unit of every CPU figure this bench prints. */
function cpuMsPer1000Of(ms: number, reviews: number): number {
  return Math.round((ms / reviews) * 1000 * 10) / 10;
}

/** utime + stime of a process in ms (Linux /proc; null elsewhere). */
function processCpuMs(pid: number, statPath = `/proc/${pid}/stat`): number | null {
  try {
    const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/**
 * The local broker's JVM: services.sh records the pid of the shell that runs `java`, so the broker is its child.
 * Null when Kafka is not the one services.sh started here (another DRIFTLINE_KAFKA_BROKERS), or not on Linux.
 */
function localBrokerPid(): number | null {
  try {
    const wrapper = readFileSync(join(process.env.DRIFTLINE_RUN_DIR ?? repoPath('.run'), 'kafka.pid'), 'utf8').trim();
    const children = readFileSync(`/proc/${wrapper}/task/${wrapper}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return children.length > 0 ? Number(children[0]) : null;
  } catch {
    return null;
  }
}

interface HostCpuSnapshot {
  brokerMs: number | null;
  /** /proc/stat's first line in ms: all CPUs together. */
  machine: { busyMs: number; stealMs: number; totalMs: number } | null;
}

/** Per 1,000 reviews for the broker; shares of all the machine's CPU time (100 % = every core busy) for the rest. */
interface HostCpuShare {
  brokerCpuMsPer1000: number | null;
  machineBusyPercent: number;
  /** Time the hypervisor gave to other guests: a noisy neighbour, not this run. */
  stealPercent: number;
}

function hostCpuSnapshot(brokerPid: number | null): HostCpuSnapshot {
  let machine: HostCpuSnapshot['machine'] = null;
  try {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const toMs = (ticks: number): number => (ticks * 1000) / 100; // USER_HZ = 100
    const busy = user! + nice! + system! + irq! + softirq!;
    machine = { busyMs: toMs(busy), stealMs: toMs(steal!), totalMs: toMs(busy + idle! + iowait! + steal!) };
  } catch {
    // not Linux
  }
  return { brokerMs: brokerPid === null ? null : processCpuMs(brokerPid), machine };
}

function hostCpuShare(start: HostCpuSnapshot, end: HostCpuSnapshot, reviews: number): HostCpuShare | null {
  if (!start.machine || !end.machine) return null;
  const total = end.machine.totalMs - start.machine.totalMs;
  const percent = (ms: number): number => Math.round((ms / total) * 1000) / 10;
  const broker = start.brokerMs === null || end.brokerMs === null ? null : cpuMsPer1000Of(end.brokerMs - start.brokerMs, reviews);
  return { brokerCpuMsPer1000: broker, machineBusyPercent: percent(end.machine.busyMs - start.machine.busyMs), stealPercent: percent(end.machine.stealMs - start.machine.stealMs) };
}

function describeHost(host: HostCpuShare | null): string {
  if (!host) return '';
  const broker = host.brokerCpuMsPer1000 === null ? '' : `broker ${host.brokerCpuMsPer1000} CPU-ms per 1,000; `;
  return `; ${broker}machine ${host.machineBusyPercent} % busy, steal ${host.stealPercent} %`;
}

/** utime + stime in ms of every thread of a process (Linux /proc/<pid>/task; empty elsewhere), by thread id. */
function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const cpu = processCpuMs(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (cpu !== null) out.set(Number(tid), cpu);
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

/**
 * Where a process's CPU went between two threadCpuMs snapshots, per 1,000 reviews: the main thread (thread
 * id = pid), the `workers` busiest other threads (the scorer's model workers, summed) and the rest (V8's GC and
 * compiler helpers, libuv's pool). Node 20 leaves every thread named "node", so workers are told apart by load.
 */
function cpuSplitPer1000(pid: number, start: Map<number, number>, end: Map<number, number>, reviews: number, workers: number): CpuSplit | null {
  if (end.size === 0) return null;
  let main = 0;
  let total = 0;
  const others: number[] = [];
  for (const [tid, ms] of end) {
    const used = ms - (start.get(tid) ?? 0);
    total += used;
    if (tid === pid) main = used;
    else others.push(used);
  }
  const model = others
    .sort((a, b) => b - a)
    .slice(0, workers)
    .reduce((sum, used) => sum + used, 0);
  return { mainThread: cpuMsPer1000Of(main, reviews), modelWorker: cpuMsPer1000Of(model, reviews), modelWorkers: workers, otherThreads: cpuMsPer1000Of(total - main - model, reviews) };
}

interface CpuSplit {
  mainThread: number;
  /** All model worker threads together. */
  modelWorker: number;
  modelWorkers: number;
  otherThreads: number;
}

async function passthrough(mode: PassthroughResult['mode'], input: string, output: string, expected: number): Promise<PassthroughResult> {
  const settings = scorerSettings.load();
  const groupId = `bench-${runId}-pass-${mode}`;
  const consumer: Consumer = kafka.consumer({
    groupId,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    minBytes: settings.fetchMinBytes,
    maxWaitTimeInMs: settings.fetchMaxWaitMs,
    readUncommitted: false,
  });
  const plainProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const txProducers = new Map<number, Producer>();
  const txProducer = async (partition: number): Promise<Producer> => {
    let producer = txProducers.get(partition);
    if (!producer) {
      producer = kafka.producer({ transactionalId: `bench-${runId}-pass-${partition}`, idempotent: true, maxInFlightRequests: 1, retry: { ...TRANSACTIONAL_RETRY } });
      await producer.connect();
      txProducers.set(partition, producer);
    }
    return producer;
  };
  let processed = 0;
  let firstAt = 0;
  let doneAt = 0;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let cpuAtDone: NodeJS.CpuUsage | undefined;
  const brokerPid = localBrokerPid();
  let hostAtFirst: HostCpuSnapshot | undefined;
  let hostAtDone: HostCpuSnapshot | undefined;
  const eachBatch = async ({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> => {
    if (batch.messages.length === 0) return;
    if (!firstAt) {
      firstAt = Date.now();
      cpuAtFirst = process.cpuUsage();
      hostAtFirst = hostCpuSnapshot(brokerPid);
    }
    const messages = batch.messages.map((m) => ({ key: m.key, value: m.value }));
    for (let i = 0; i < messages.length; i += settings.maxRecordsPerTransaction) {
      const chunk = messages.slice(i, i + settings.maxRecordsPerTransaction);
      const last = batch.messages[Math.min(messages.length, i + chunk.length) - 1]!.offset;
      if (mode === 'plain') {
        for (const part of splitBySize(chunk)) await plainProducer.send({ topic: output, acks: -1, messages: part });
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      } else {
        const transaction = await (await txProducer(batch.partition)).transaction();
        for (const part of splitBySize(chunk)) await transaction.send({ topic: output, acks: -1, messages: part });
        await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }] });
        await transaction.commit();
      }
      resolveOffset(last);
    }
    processed += messages.length;
    if (processed >= expected && !doneAt) {
      doneAt = Date.now();
      cpuAtDone = process.cpuUsage(cpuAtFirst);
      hostAtDone = hostCpuSnapshot(brokerPid);
    }
    await heartbeat();
  };
  await plainProducer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: settings.concurrency, eachBatch });
  const deadline = Date.now() + 300_000;
  while (!doneAt) {
    if (Date.now() > deadline) throw new Error(`passthrough ${mode}: only ${processed} of ${expected} in 300 s`);
    await sleep(50);
  }
  await consumer.disconnect();
  await plainProducer.disconnect();
  for (const producer of txProducers.values()) await producer.disconnect();
  const seconds = (doneAt - firstAt) / 1000;
  const cpuMs = cpuAtDone ? (cpuAtDone.user + cpuAtDone.system) / 1000 : Number.NaN;
  const host = hostAtFirst && hostAtDone ? hostCpuShare(hostAtFirst, hostAtDone, processed) : null;
  return { mode, reviews: processed, seconds, reviewsPerSecond: Math.round(processed / seconds), cpuMsPer1000: cpuMsPer1000Of(cpuMs, processed), host };
}

// ------------------------------------------------------------------------------------------------
// (b) + (c): the scorer as a child process

function seededRegistry(): string {
  return mkdtempSync(join(tmpdir(), 'driftline-bench-registry-'));
}

function startScorer(topics: { reviews: string; scored: string; deadLetter: string; promotions: string }, groupId: string, registryDir: string, logFile: string): ChildProcess {
  // BENCH_SCORER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=bench/profiles/raw": how the profiles in bench/profiles/ were taken.
  const nodeArgs = (process.env.BENCH_SCORER_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, ...entryArgs('scorer/main.ts')], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      DRIFTLINE_TOPIC_REVIEWS: topics.reviews,
      DRIFTLINE_TOPIC_SCORED: topics.scored,
      DRIFTLINE_TOPIC_DEAD_LETTER: topics.deadLetter,
      DRIFTLINE_TOPIC_PROMOTIONS: topics.promotions,
      DRIFTLINE_REGISTRY_DIR: registryDir,
      DRIFTLINE_SCORER_GROUP_ID: groupId,
      DRIFTLINE_SCORER_MODEL_NAME: MODEL_NAME,
      DRIFTLINE_SCORER_METRICS_PORT: process.env.DRIFTLINE_SCORER_METRICS_PORT ?? '0',
      DRIFTLINE_SCORER_INSTANCE_ID: `bench-${runId}`,
      DRIFTLINE_LOG_LEVEL: process.env.BENCH_SCORER_LOG_LEVEL ?? process.env.DRIFTLINE_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const chunks: Buffer[] = [];
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.once('exit', () => writeFileSync(logFile, Buffer.concat(chunks)));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(20_000).then(() => child.kill('SIGKILL'))]);
  await exited;
}

interface ThroughputResult {
  reviews: number;
  measuredReviews: number;
  seconds: number;
  reviewsPerSecond: number;
  /** CPU time of the scorer process (main thread, model worker, GC, I/O threads) per 1,000 measured reviews. */
  cpuMsPer1000: number | null;
  /** The same split by thread: main (Kafka), the model worker (decode, model, encode), the rest. */
  cpuMsPer1000ByThread: CpuSplit | null;
  host: HostCpuShare | null;
}

async function scorerThroughput(pool: ReviewEvent[], registryDir: string): Promise<ThroughputResult> {
  const topics = await newTopics('throughput');
  await preload(topics.reviews, pool, REVIEWS);
  const groupId = `bench-${runId}-scorer`;
  const child = startScorer(topics, groupId, registryDir, join(tmpdir(), `bench-scorer-${runId}-throughput.log`));
  try {
    // Measure from the first commit on (model load and group join are start-up, not throughput).
    let start: { at: number; committed: number; cpuMs: number | null; threads: Map<number, number>; host: HostCpuSnapshot } | undefined;
    const brokerPid = localBrokerPid();
    const deadline = Date.now() + 600_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('scorer throughput: not caught up after 600 s (see the scorer log in the temp dir)');
      const committed = await committedTotal(groupId, topics.reviews);
      const now = Date.now();
      if (!start && committed > 0) start = { at: now, committed, cpuMs: processCpuMs(child.pid ?? -1), threads: threadCpuMs(child.pid ?? -1), host: hostCpuSnapshot(brokerPid) };
      if (committed >= REVIEWS && start) {
        const seconds = (now - start.at) / 1000;
        const measured = REVIEWS - start.committed;
        const cpuEnd = processCpuMs(child.pid ?? -1);
        const host = hostCpuShare(start.host, hostCpuSnapshot(brokerPid), measured);
        const cpuMsPer1000ByThread = cpuSplitPer1000(child.pid ?? -1, start.threads, threadCpuMs(child.pid ?? -1), measured, scorerModelThreads());
        const cpuMsPer1000 = start.cpuMs === null || cpuEnd === null ? null : cpuMsPer1000Of(cpuEnd - start.cpuMs, measured);
        return { reviews: REVIEWS, measuredReviews: measured, seconds, reviewsPerSecond: Math.round(measured / seconds), cpuMsPer1000, cpuMsPer1000ByThread, host };
      }
      if (child.exitCode !== null) throw new Error(`scorer exited with ${child.exitCode}`);
      await sleep(100);
    }
  } finally {
    await stopChild(child);
  }
}

/** One second of the stream at the full rate (by ingest time): where a start-up tail would show. */
interface SecondRow {
  second: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 of ingest time → the scorer's scored_time_ms (bench producer + broker + scorer fetch + scoring). */
  toScoredP99Ms: number;
  /** p99 of scored_time_ms → read by the bench (scorer's send + commit + the bench reader's fetch). */
  scoredToReadP99Ms: number;
  /** p99 of the bench producer's send → ack (the load generator's own produce path). */
  sendAckP99Ms: number;
  /** Latest tick of the bench's send loop behind its schedule (a blocked load generator). */
  maxTickLagMs: number;
}

interface LatencyResult {
  ratePerSecond: number;
  /** Seconds at the full rate, all measured from the first one. */
  seconds: number;
  sent: number;
  received: number;
  /** THE figures: every review from the first second at full rate on. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Split of the same stream: its first `firstSeconds` and the rest. */
  firstSeconds: number;
  firstSecondsP99Ms: number;
  afterFirstSecondsP99Ms: number;
  /** Per second, for the first PER_SECOND_ROWS seconds. */
  perSecond: SecondRow[];
}

/** Seconds of the per-second table (the start-up window). */
const PER_SECOND_ROWS = 10;

/** Seconds the bench warms its own producer and reader on a side topic before the measured stream. */
const CLIENT_WARMUP_SECONDS = Number(process.env.BENCH_CLIENT_WARMUP_SECONDS ?? 3);
/** Diagnostic: streams per scorer (the JSON keeps the first) and the idle pause between them. */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
const REPEAT_IDLE_MS = 3_000;

async function endToEndLatency(pool: ReviewEvent[], registryDir: string, rate: number): Promise<LatencyResult> {
  const topics = await newTopics(`latency-${rate}`);
  // The bench's own clients start cold too; they warm on this topic, which the scorer never reads.
  const benchWarmTopic = `bench-${runId}-latency-${rate}-client-warmup`;
  await ensureTopics(kafka, [benchWarmTopic], core, PARTITIONS);
  const groupId = `bench-${runId}-latency-${rate}`;
  const logFile = join(tmpdir(), `bench-scorer-${runId}-latency-${rate}.log`);
  const child = startScorer(topics, groupId, registryDir, logFile);
  // [ingest time, latency, scored_time_ms - ingest time] of every scored review seen.
  const seen: Array<[number, number, number]> = [];
  let warmRead = 0;
  const reader = kafka.consumer({ groupId: `bench-${runId}-reader-${rate}`, readUncommitted: false, maxWaitTimeInMs: 50 });
  let readerJoined = false;
  reader.on(reader.events.GROUP_JOIN, () => (readerJoined = true));
  await reader.connect();
  await reader.subscribe({ topics: [topics.scored, benchWarmTopic], fromBeginning: true });
  const scoredCodec = codecFor('ScoredReview');
  const reviewCodec = codecFor('ReviewEvent');
  await reader.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      if (batch.topic === benchWarmTopic) {
        // The same work per record as for a scored event (decode, one timestamp), so the reader's path is warm.
        for (const message of batch.messages) if (reviewCodec.decode(message.value).ingest_time_ms > 0) warmRead += 1;
        return;
      }
      for (const message of batch.messages) {
        const scored = scoredCodec.decode(message.value);
        seen.push([scored.ingest_time_ms, now - scored.ingest_time_ms, scored.scored_time_ms - scored.ingest_time_ms]);
      }
    },
  });
  // Not idempotent: sends are fired on schedule without waiting for the previous one (acks from the leader only).
  const producer = kafka.producer();
  await producer.connect();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  // [send time, send → ack ms] of every send of the measured stream; [due, lag] of every tick.
  const acks: Array<[number, number]> = [];
  const tickLags: Array<[number, number]> = [];
  let i = 0;
  let failedSends = 0;
  /** The send loop: one send of RATE/100 reviews every 10 ms, on schedule (no catch-up bursts). */
  async function stream(topic: string, seconds: number, record: boolean): Promise<{ started: number; sent: number }> {
    const ticks = (seconds * 1000) / tickMs;
    const started = Date.now();
    let sent = 0;
    for (let t = 0; t < ticks; t++) {
      const due = started + t * tickMs;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const now = Date.now();
      const messages: Message[] = [];
      for (let k = 0; k < perTick; k++) messages.push(benchMessage(pool, i++, now));
      const sending = producer.send({ topic, acks: 1, messages });
      if (record) {
        tickLags.push([now, now - due]);
        sending.then(() => acks.push([now, Date.now() - now])).catch(() => undefined);
      }
      sending.catch((err: Error) => {
        failedSends += 1;
        if (failedSends === 1) console.error(`send failed: ${err.message}`);
      });
      sent += perTick;
    }
    return { started, sent };
  }
  try {
    // The bench's clients first: the full-rate stream to the side topic until the reader has read it.
    while (!readerJoined) await sleep(50);
    const warm = await stream(benchWarmTopic, CLIENT_WARMUP_SECONDS, false);
    const warmDeadline = Date.now() + 10_000;
    while (warmRead < warm.sent && Date.now() < warmDeadline) await sleep(50);
    // Then wait until the scorer answers (model loaded and warmed, partitions assigned).
    const probeFrom = Date.now();
    while (seen.length === 0) {
      await producer.send({ topic: topics.reviews, acks: 1, messages: [benchMessage(pool, i++, Date.now())] });
      if (child.exitCode !== null) throw new Error(`scorer exited with ${child.exitCode}`);
      await sleep(200);
    }
    const scorerAnsweredAfterMs = Date.now() - probeFrom;
    // BENCH_REPEAT > 1 (diagnostic): the same stream again on the same, now hot, scorer after an idle pause;
    // a transient that comes back is the idle → full-rate step, one that does not is cold code or state.
    let first: LatencyResult | undefined;
    for (let round = 0; round < REPEAT; round++) {
      await sleep(round === 0 ? 1_000 : REPEAT_IDLE_MS);
      // Every review from the first second at the full rate on is measured (no start-up seconds left out).
      const { started, sent } = await stream(topics.reviews, LATENCY_SECONDS, true);
      const deadline = Date.now() + 30_000;
      const inStream = (): Array<[number, number, number]> => seen.filter(([at]) => at >= started);
      while (inStream().length < sent && Date.now() < deadline) await sleep(100);
      const all = inStream();
      const sortedOf = (rows: ReadonlyArray<readonly [number, ...number[]]>, column: number): number[] => rows.map((row) => row[column]!).sort((a, b) => a - b);
      const sorted = sortedOf(all, 1);
      const splitAt = started + WARMUP_SECONDS * 1000;
      const perSecond: SecondRow[] = [];
      for (let second = 0; second < Math.min(PER_SECOND_ROWS, LATENCY_SECONDS); second++) {
        const from = started + second * 1000;
        const inSecond = <T extends readonly [number, ...number[]]>(rows: readonly T[]): T[] => rows.filter(([at]) => at >= from && at < from + 1000);
        const rows = inSecond(all);
        const latencies = sortedOf(rows, 1);
        perSecond.push({
          second: second + 1,
          received: rows.length,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          maxMs: latencies[latencies.length - 1] ?? Number.NaN,
          toScoredP99Ms: percentile(sortedOf(rows, 2), 99),
          scoredToReadP99Ms: percentile(rows.map(([, latency, toScored]) => latency - toScored).sort((a, b) => a - b), 99),
          sendAckP99Ms: percentile(sortedOf(inSecond(acks), 1), 99),
          maxTickLagMs: Math.max(0, ...inSecond(tickLags).map(([, lag]) => lag)),
        });
      }
      console.log(`(c) ${rate}/s${round > 0 ? `, again after ${REPEAT_IDLE_MS} ms idle (round ${round + 1}, diagnostic)` : ''}: bench clients warmed with ${warm.sent} reviews on a side topic; scorer answered ${scorerAnsweredAfterMs} ms after the first probe; full rate from ${new Date(started).toISOString()}; scorer log ${logFile}`);
      console.log('    second  received  p50  p99  max | ingest→scored p99  scored→read p99 | bench send→ack p99  tick lag max (ms)');
      for (const row of perSecond) {
        console.log(`    ${String(row.second).padStart(6)}  ${String(row.received).padStart(8)}  ${String(row.p50Ms).padStart(3)}  ${String(row.p99Ms).padStart(3)}  ${String(row.maxMs).padStart(3)} | ${String(row.toScoredP99Ms).padStart(17)}  ${String(row.scoredToReadP99Ms).padStart(15)} | ${String(row.sendAckP99Ms).padStart(18)}  ${String(row.maxTickLagMs).padStart(12)}`);
      }
      const result: LatencyResult = {
        ratePerSecond: rate,
        seconds: LATENCY_SECONDS,
        sent,
        received: sorted.length,
        p50Ms: percentile(sorted, 50),
        p90Ms: percentile(sorted, 90),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN,
        firstSeconds: WARMUP_SECONDS,
        firstSecondsP99Ms: percentile(sortedOf(all.filter(([at]) => at < splitAt), 1), 99),
        afterFirstSecondsP99Ms: percentile(sortedOf(all.filter(([at]) => at >= splitAt), 1), 99),
        perSecond,
      };
      first ??= result;
    }
    return first!;
  } finally {
    await producer.disconnect();
    await reader.disconnect();
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const pool = loadReviewPool();
  const settings = scorerSettings.load();
  console.log(`scorer bench: ${REVIEWS} reviews, ${PARTITIONS} partitions, run ${runId}`);

  let plain: PassthroughResult | undefined;
  let transactional: PassthroughResult | undefined;
  if (PARTS.has('a')) {
    const passTopics = await newTopics('pass');
    await preload(passTopics.reviews, pool, REVIEWS);
    plain = await passthrough('plain', passTopics.reviews, passTopics.scored, REVIEWS);
    console.log(`(a) passthrough plain:         ${plain.reviewsPerSecond} reviews/s (${plain.seconds.toFixed(2)} s, ${plain.cpuMsPer1000} CPU-ms per 1,000${describeHost(plain.host)})`);
    transactional = await passthrough('transactional', passTopics.reviews, passTopics.deadLetter, REVIEWS);
    console.log(`(a) passthrough transactional: ${transactional.reviewsPerSecond} reviews/s (${transactional.seconds.toFixed(2)} s, ${transactional.cpuMsPer1000} CPU-ms per 1,000${describeHost(transactional.host)})`);
  }

  const registryDir = seededRegistry();
  await openRegistry(registryDir).seedFromDirectory(MODEL_NAME, repoPath('models', 'default'), { actor: 'bench' });
  let throughput: ThroughputResult | undefined;
  let latency: LatencyResult | undefined;
  let latencyLow: LatencyResult | undefined;
  try {
    if (PARTS.has('b')) {
      throughput = await scorerThroughput(pool, registryDir);
      console.log(`(b) scorer:                    ${throughput.reviewsPerSecond} reviews/s (${throughput.measuredReviews} in ${throughput.seconds.toFixed(2)} s, ${throughput.cpuMsPer1000 ?? 'n/a'} CPU-ms per 1,000${describeHost(throughput.host)})`);
      const split = throughput.cpuMsPer1000ByThread;
      if (split) console.log(`    CPU-ms per 1,000 by thread: main ${split.mainThread}, model worker${split.modelWorkers > 1 ? `s (${split.modelWorkers})` : ''} ${split.modelWorker}, other threads ${split.otherThreads}`);
    }
    if (PARTS.has('c')) {
      // BENCH_LOW_RATE=0: the full rate only.
      for (const rate of LOW_RATE > 0 ? [RATE, LOW_RATE] : [RATE]) {
        const measured = await endToEndLatency(pool, registryDir, rate);
        console.log(`(c) end-to-end at ${rate}/s from the first second: p50 ${measured.p50Ms} ms, p90 ${measured.p90Ms} ms, p99 ${measured.p99Ms} ms, max ${measured.maxMs} ms (${measured.received}/${measured.sent} received; p99 of the first ${measured.firstSeconds} s ${measured.firstSecondsP99Ms} ms, of the rest ${measured.afterFirstSecondsP99Ms} ms)`);
        if (rate === RATE) latency = measured;
        else latencyLow = measured;
      }
    }
  } finally {
    rmSync(registryDir, { recursive: true, force: true });
  }
  if (!plain || !transactional || !throughput || !latency) return;
  const ratio = throughput.reviewsPerSecond / transactional.reviewsPerSecond;
  console.log(`scorer / transactional passthrough = ${(ratio * 100).toFixed(0)}%; scorer / plain passthrough = ${((throughput.reviewsPerSecond / plain.reviewsPerSecond) * 100).toFixed(0)}%`);

  const result = {
    bench: 'scorer',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version, platform: process.platform },
    setup: {
      reviews: REVIEWS,
      partitions: PARTITIONS,
      maxRecordsPerTransaction: settings.maxRecordsPerTransaction,
      maxBytesPerPartition: settings.maxBytesPerPartition,
      fetchMinBytes: settings.fetchMinBytes,
      fetchMaxWaitMs: settings.fetchMaxWaitMs,
      concurrency: settings.concurrency,
      tfBackend: core.tfBackend,
    },
    passthrough: { plain, transactional },
    scorer: throughput,
    ratio: { scorerOverTransactionalPassthrough: Number(ratio.toFixed(3)), scorerOverPlainPassthrough: Number((throughput.reviewsPerSecond / plain.reviewsPerSecond).toFixed(3)) },
    latency,
    latencyBelowCapacity: latencyLow ?? null,
    goals: { reviewsPerSecond: 20_000, ratioOverPassthrough: 0.6, p99Ms: 250 },
  };
  writeResult('scorer', result);
  console.log('wrote bench/results/scorer.json');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
