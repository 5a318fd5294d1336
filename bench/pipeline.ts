/**
 * End-to-end pipeline benchmark on this machine (`node dist/bench/pipeline.js`): real reviews go through
 * ingest → Kafka → scorer (child process, real model, transactions) → Kafka → drift aggregator (child
 * process, Redis sketches, embedded chdb), on topics, consumer groups and a Redis prefix of their own.
 *
 *  (a) sustained throughput: BENCH_REVIEWS reviews ingested as fast as ingest goes; reviews/s from the
 *      first ingest to the moment the last one is counted in the Redis window totals. A timeline of the
 *      three stages (ingested / scorer committed / aggregator counted) and each process's CPU time show
 *      which stage limits it.
 *  (b) end-to-end latency at fixed input rates (BENCH_RATES, BENCH_RATE_SECONDS each, plus half of (a)'s rate
 *      when that is lower, so one rate the machine sustains now is always there): ingest in its own process
 *      at the rate; latency = the moment a read_committed consumer of the scored topic gets the event − its
 *      ingest_time_ms. Also how long the aggregator needed to count the last one. A rate is "sustained" when
 *      ingest held it and the last event was readable within 1 s of the end of ingest.
 *  (c) the raw Kafka ceiling: the same Avro bytes produced (4 sends in flight) → relayed by a plain kafkajs
 *      consumer/producer in a child process (where the scorer sits) → consumed, with no work done on them;
 *      measured before and after the pipeline phases (the load of a shared machine moves), the better run counts.
 * Per phase it also records each process's CPU time (/proc) and what the scorer and aggregator report on
 * their Prometheus endpoints (records per transaction, scoring vs commit time, Redis applies).
 * Prints tables and writes bench/results/pipeline.json with machine info.
 *
 * Env: BENCH_REVIEWS (50000), BENCH_RATES (2000,5000), BENCH_RATE_SECONDS (15), BENCH_DRAIN_SECONDS (90),
 * BENCH_PARTITIONS (DRIFTLINE_TOPIC_PARTITIONS, 3). DRIFTLINE_SCORER_* / DRIFTLINE_AGGREGATOR_* / DRIFTLINE_TF_BACKEND pass
 * through to the children.
 *
 * One file on purpose (~950 lines): a benchmark script, read top to bottom as one run; its phases share the
 * topics, child processes, samplers and the result record, and nothing of it is product code others import.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type Message } from 'kafkajs';
import type { Redis } from 'ioredis';
import { codecFor } from '../core/avro.js';
import { coreSettings } from '../core/config.js';
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { openRegistry } from '../core/model/registry/index.js';
import { loadTf } from '../core/model/tf.js';
import { readShippedReviewLines, repoPath, repoRoot, SHIPPED_REVIEWS } from '../core/paths.js';
import { createRedis } from '../core/redis.js';
import { validateReview } from '../core/validation.js';
import { aggregatorSettings } from '../drift-aggregator/config.js';
import { SUMMARY_HASH } from '../drift-aggregator/increments.js';
import { AggregatorState } from '../drift-aggregator/redis-state.js';
import { ingestRecords, reviewMessage, type IngestSummary } from '../ingest/index.js';
import { scorerSettings } from '../scorer/config.js';
import { splitBySize } from '../scorer/pipeline.js';
import { entryArgs, freePort, machineInfo, percentile, writeResult } from './lib.js';

const REVIEWS = Number(process.env.BENCH_REVIEWS ?? 50_000);
const RATES = (process.env.BENCH_RATES ?? '2000,5000').split(',').map(Number).filter((rate) => rate > 0);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 15);
/** After a rate phase's ingest ends, how long scored events and Redis counts are waited for. */
const DRAIN_SECONDS = Number(process.env.BENCH_DRAIN_SECONDS ?? 90);
const core = coreSettings.load();
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? core.topicPartitions);
/** The registry name the scorer scores with (DRIFTLINE_SCORER_MODEL_NAME); the shipped model is seeded under it. */
const MODEL_NAME = scorerSettings.load().modelName;
const SHIPPED_MODEL_DIR = repoPath('models', 'default');
const WARMUP_REVIEWS = 300;
/** A stage that stops moving for this long is reported as incomplete instead of waited for. */
const STALL_MS = 60_000;
// The same goals as bench/scorer.ts: the pipeline cannot be faster than its scorer.
const GOALS = { reviewsPerSecond: 20_000, p99Ms: 250, ratioOverCeiling: 0.6 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');

// ------------------------------------------------------------------------------------------------ input

function sourceLines(): { lines: string[]; source: string } {
  return { lines: readShippedReviewLines(), source: SHIPPED_REVIEWS };
}

/** `count` input lines cycling the real ones, each with a fresh review_id `<id>-<label>-<i>` (ingest drops repeated ids). */
function relabel(lines: string[], label: string, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const line = lines[i % lines.length]!;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      out.push(JSON.stringify({ ...record, review_id: `${String(record.review_id)}-${label}-${i}` }));
    } catch {
      out.push(line); // not JSON: ingest dead-letters it, as it would in production
    }
  }
  return out;
}

function writeInput(dir: string, label: string, lines: string[], count: number): string {
  const file = join(dir, `${label}.jsonl`);
  writeFileSync(file, `${relabel(lines, label, count).join('\n')}\n`);
  return file;
}

// ------------------------------------------------------------------------------------------------ processes

interface Topics {
  reviews: string;
  scored: string;
  deadLetter: string;
  promotions: string;
  alerts: string;
}

function spawnEntry(script: string, args: string[], env: NodeJS.ProcessEnv, logFile: string | null): ChildProcess {
  const log = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, entryArgs(script, args), {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
    // Without a log file: stdout is read by the parent, stderr shows in the bench's output.
    stdio: ['ignore', logFile ? log : 'pipe', logFile ? log : 'inherit'],
  });
  if (typeof log === 'number') closeSync(log);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function assertAlive(children: Record<string, ChildProcess>, logDir: string): void {
  for (const [name, child] of Object.entries(children)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = join(logDir, `${name}.log`);
      const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-1_500) : '';
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}); the end of ${log}:\n${tail}`);
    }
  }
}

/** Stdout of a child as it arrives (the relay says "ready", the ingest child prints its summary). */
function stdoutOf(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { text: () => text };
}

// ------------------------------------------------------------------------------------------------ CPU accounting

const CLOCK_TICKS = 100; // USER_HZ on Linux

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds (user + system) a process and its descendants used so far, from /proc (the broker's pid
 * file names the shell that runs java); null when it is gone or unreadable.
 */
function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    for (const child of childPids(pid)) seconds += processCpuSeconds(child) ?? 0;
    return seconds;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine (every core), from /proc/stat. */
function machineBusySeconds(): number | null {
  try {
    const [cpuLine] = readFileSync('/proc/stat', 'utf8').split('\n');
    const ticks = cpuLine!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (ticks.slice(0, 8).reduce((sum, tick) => sum + tick, 0) - idle) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

async function redisCpuSeconds(redis: Redis): Promise<number | null> {
  const info = await redis.info('cpu');
  const user = /used_cpu_user:([\d.]+)/.exec(info)?.[1];
  const sys = /used_cpu_sys:([\d.]+)/.exec(info)?.[1];
  return user && sys ? Number(user) + Number(sys) : null;
}

function brokerPid(): number | undefined {
  const file = join(process.env.DRIFTLINE_RUN_DIR ?? repoPath('.run'), 'kafka.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

interface CpuSnapshot {
  at: number;
  processes: Record<string, number | null>;
  machine: number | null;
}

interface CpuUse {
  wallSeconds: number;
  /** CPU seconds per process during the phase (the broker and Redis serve other users of the machine too). */
  cpuSeconds: Record<string, number | null>;
  /** Average cores busy per process (cpu seconds / wall seconds). */
  cores: Record<string, number | null>;
  machineBusyCores: number | null;
}

class CpuMeter {
  constructor(
    private readonly pids: () => Record<string, number | undefined>,
    private readonly redis: Redis,
  ) {}

  async snapshot(): Promise<CpuSnapshot> {
    const processes: Record<string, number | null> = {};
    for (const [name, pid] of Object.entries(this.pids())) processes[name] = processCpuSeconds(pid);
    const self = process.cpuUsage();
    processes.bench = (self.user + self.system) / 1e6;
    processes.redis = await redisCpuSeconds(this.redis);
    return { at: Date.now(), processes, machine: machineBusySeconds() };
  }

  static between(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
    const wallSeconds = (after.at - before.at) / 1000;
    const cpuSeconds: Record<string, number | null> = {};
    const cores: Record<string, number | null> = {};
    for (const [name, end] of Object.entries(after.processes)) {
      const start = before.processes[name];
      const used = end === null || start === null || start === undefined ? null : Number((end - start).toFixed(2));
      cpuSeconds[name] = used;
      cores[name] = used === null ? null : Number((used / wallSeconds).toFixed(2));
    }
    const machineBusyCores = before.machine === null || after.machine === null ? null : Number(((after.machine - before.machine) / wallSeconds).toFixed(2));
    return { wallSeconds: Number(wallSeconds.toFixed(2)), cpuSeconds, cores, machineBusyCores };
  }
}

// ------------------------------------------------------------------------------------------------ component metrics


/** Prometheus text → metric name (labels dropped, label sets summed) → value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const value = Number(match[3]);
      if (!Number.isFinite(value) || line.includes('le="')) continue; // bucket series: only _sum and _count are used
      const key = match[2]?.includes('result="committed"') ? `${match[1]}{committed}` : match[1]!;
      out.set(key, (out.get(key) ?? 0) + value);
    }
  } catch {
    // the process is gone or not listening: no figures for this phase
  }
  return out;
}

interface StageMetrics {
  scorer: { transactions: number; records: number; meanRecordsPerTransaction: number | null; scoringMsPerReview: number | null; transactionMsEach: number | null };
  aggregator: { redisApplies: number; eventsPerApply: number | null; redisApplyMsEach: number | null };
}

/** What the scorer and aggregator report about themselves between two scrapes (where their time goes). */
function stageMetrics(before: { scorer: Map<string, number>; aggregator: Map<string, number> }, after: { scorer: Map<string, number>; aggregator: Map<string, number> }): StageMetrics {
  const delta = (side: 'scorer' | 'aggregator', name: string): number => (after[side].get(name) ?? 0) - (before[side].get(name) ?? 0);
  const ratio = (a: number, b: number, scale = 1): number | null => (b > 0 ? Number(((a * scale) / b).toFixed(3)) : null);
  const transactions = delta('scorer', 'driftline_scorer_transactions_total{committed}');
  const records = delta('scorer', 'driftline_scorer_batch_size_sum');
  const applies = delta('aggregator', 'driftline_aggregator_redis_apply_seconds_count');
  return {
    scorer: {
      transactions,
      records,
      meanRecordsPerTransaction: ratio(records, transactions),
      scoringMsPerReview: ratio(delta('scorer', 'driftline_scorer_scoring_seconds_sum'), records, 1000),
      transactionMsEach: ratio(delta('scorer', 'driftline_scorer_transaction_seconds_sum'), delta('scorer', 'driftline_scorer_transaction_seconds_count'), 1000),
    },
    aggregator: {
      redisApplies: applies,
      eventsPerApply: ratio(delta('aggregator', 'driftline_aggregator_events_total'), applies),
      redisApplyMsEach: ratio(delta('aggregator', 'driftline_aggregator_redis_apply_seconds_sum'), applies, 1000),
    },
  };
}

// ------------------------------------------------------------------------------------------------ progress probes

/** Reviews the scorer has committed (consumer group offsets on the reviews topic: ingest writes no control records there). */
async function scorerCommitted(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/**
 * Events the aggregator has counted: the __all__ summary of every window (valid + invalid events) plus
 * late events. Window ids are known (model name, version, window starts since the bench began), so no SCAN.
 */
class RedisCount {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly modelVersion: number,
    private readonly windowMs: number,
    private readonly sinceMs: number,
  ) {}

  async total(): Promise<number> {
    const state = new AggregatorState(this.redis, this.prefix);
    const first = Math.floor(this.sinceMs / this.windowMs) * this.windowMs - this.windowMs;
    const ids: string[] = [];
    for (let start = first; start <= Date.now() + this.windowMs; start += this.windowMs) ids.push(`${MODEL_NAME}|${this.modelVersion}|${start}`);
    // Every partition's share of each window's summary, plus the windows' late events.
    let total = await state.lateEventsOf(ids);
    for (const shares of (await state.readWindows(ids)).values()) {
      for (const hashes of shares) {
        const summary = hashes.get(`${ALL_SEGMENTS}|${SUMMARY_HASH}`) ?? {};
        total += Number(summary['n'] ?? 0) + Number(summary['inv'] ?? 0);
      }
    }
    return total;
  }
}

interface Sample {
  seconds: number;
  ingested: number;
  scored: number;
  counted: number;
}

// ------------------------------------------------------------------------------------------------ the pipeline run

interface Pipeline {
  kafka: Kafka;
  admin: Admin;
  redis: Redis;
  topics: Topics;
  scorerGroup: string;
  count: RedisCount;
  children: Record<string, ChildProcess>;
  logDir: string;
  cpu: CpuMeter;
  ports: { scorer: number; aggregator: number };
  /** Reviews published so far over all phases (= end offsets of the reviews topic). */
  published: number;
}

/** Waits until `reached()` is at least `target`; returns when it got there, or null when it stalled. */
async function waitFor(
  pipeline: Pipeline,
  what: string,
  probe: () => Promise<number>,
  target: number,
  options: { pollMs?: number; deadline?: number } = {},
): Promise<{ at: number; value: number; stalled: boolean }> {
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const value = await probe();
    const now = Date.now();
    if (value >= target) return { at: now, value, stalled: false };
    if (value !== last) {
      last = value;
      movedAt = now;
    }
    if (now - movedAt > STALL_MS || now > (options.deadline ?? Number.POSITIVE_INFINITY)) {
      process.stdout.write(`  ${what}: ${value} of ${target} after ${((now - movedAt) / 1000).toFixed(0)} s without progress or past the deadline; going on\n`);
      return { at: movedAt, value, stalled: true };
    }
    assertAlive(pipeline.children, pipeline.logDir);
    await sleep(options.pollMs ?? 50);
  }
}

async function ingestInProcess(pipeline: Pipeline, file: string, onProgress?: (published: number) => void): Promise<IngestSummary> {
  const summary = await ingestRecords(file, {
    kafka: pipeline.kafka,
    topic: pipeline.topics.reviews,
    deadLetterTopic: pipeline.topics.deadLetter,
    createTopics: false,
    ingest: { rate: 0, progressIntervalMs: 100 },
    ...(onProgress ? { onProgress: (progress: { published: number }) => onProgress(progress.published) } : {}),
  });
  pipeline.published += summary.published;
  return summary;
}

async function scrapeStages(pipeline: Pipeline): Promise<{ scorer: Map<string, number>; aggregator: Map<string, number> }> {
  const [scorer, aggregator] = await Promise.all([scrape(pipeline.ports.scorer), scrape(pipeline.ports.aggregator)]);
  return { scorer, aggregator };
}

async function warmUp(pipeline: Pipeline, file: string): Promise<number> {
  const started = Date.now();
  await ingestInProcess(pipeline, file);
  const done = await waitFor(pipeline, 'warm-up', () => pipeline.count.total(), pipeline.published, { pollMs: 200 });
  if (done.stalled) throw new Error(`warm-up: the pipeline counted ${done.value} of ${pipeline.published} reviews`);
  return (done.at - started) / 1000;
}

interface ThroughputResult {
  reviews: number;
  published: number;
  deadLettered: number;
  counted: number;
  complete: boolean;
  seconds: number;
  reviewsPerSecond: number;
  /** When each stage had the last review, seconds after the first ingest. */
  stageDoneSeconds: { ingest: number; scorer: number | null; aggregator: number };
  stageRates: { ingest: number; scorer: number | null };
  /** Scorer progress (from the timeline) while ingest was still sending, and after it had finished. */
  scorerRate: { whileIngesting: number | null; afterIngest: number | null };
  cpu: CpuUse;
  stages: StageMetrics;
  /** CPU milliseconds per counted review, per process (bench = ingest + probes). */
  cpuMsPerReview: Record<string, number | null>;
  /**
   * Derived, not measured: reviews/s if these processes had every core of the machine to themselves
   * (cores ÷ CPU seconds per review summed over them). Meaningful when the machine is shared.
   */
  cpuBoundEstimate: number | null;
  timeline: Sample[];
}

async function throughputRun(pipeline: Pipeline, file: string): Promise<ThroughputResult> {
  const countedBefore = await pipeline.count.total();
  const scoredBefore = await scorerCommitted(pipeline.admin, pipeline.scorerGroup, pipeline.topics.reviews);
  const timeline: Sample[] = [];
  let ingested = 0;
  let scorerDoneAt: number | null = null;
  const cpuBefore = await pipeline.cpu.snapshot();
  const stagesBefore = await scrapeStages(pipeline);
  const started = Date.now();
  let sampling = true;
  let expected = Number.POSITIVE_INFINITY;
  const sampler = (async () => {
    while (sampling) {
      const [scored, counted] = await Promise.all([scorerCommitted(pipeline.admin, pipeline.scorerGroup, pipeline.topics.reviews), pipeline.count.total()]);
      const sample = { seconds: Number(((Date.now() - started) / 1000).toFixed(2)), ingested, scored: scored - scoredBefore, counted: counted - countedBefore };
      timeline.push(sample);
      if (scorerDoneAt === null && sample.scored >= expected) scorerDoneAt = Date.now();
      await sleep(200);
    }
  })();
  const summary = await ingestInProcess(pipeline, file, (published) => (ingested = published));
  ingested = summary.published;
  expected = summary.published;
  const ingestDoneAt = Date.now();
  const done = await waitFor(pipeline, 'aggregator', async () => (await pipeline.count.total()) - countedBefore, summary.published);
  const cpuAfter = await pipeline.cpu.snapshot();
  const stages = stageMetrics(stagesBefore, await scrapeStages(pipeline));
  sampling = false;
  await sampler;
  // The sampler may not have seen the scorer finish (short runs): then it finished by the time the aggregator did.
  const finalScored = (await scorerCommitted(pipeline.admin, pipeline.scorerGroup, pipeline.topics.reviews)) - scoredBefore;
  if (scorerDoneAt === null && finalScored >= expected) scorerDoneAt = done.at;
  const seconds = (done.at - started) / 1000;
  const cpu = CpuMeter.between(cpuBefore, cpuAfter);
  const cpuMsPerReview: Record<string, number | null> = {};
  let totalMs = 0;
  for (const [name, used] of Object.entries(cpu.cpuSeconds)) {
    cpuMsPerReview[name] = used === null || done.value === 0 ? null : Number(((used * 1000) / done.value).toFixed(3));
    totalMs += cpuMsPerReview[name] ?? 0;
  }
  const ingestSeconds = (ingestDoneAt - started) / 1000;
  const rateBetween = (from: Sample | undefined, to: Sample | undefined): number | null =>
    from && to && to.seconds > from.seconds ? Math.round((to.scored - from.scored) / (to.seconds - from.seconds)) : null;
  const lastWhileIngesting = [...timeline].reverse().find((sample) => sample.seconds <= ingestSeconds);
  const firstAfter = timeline.find((sample) => sample.seconds >= ingestSeconds);
  const lastBeforeDone = [...timeline].reverse().find((sample) => sample.scored < summary.published);
  const since = (at: number | null): number | null => (at === null ? null : Number(((at - started) / 1000).toFixed(2)));
  return {
    reviews: summary.read,
    published: summary.published,
    deadLettered: summary.deadLettered,
    counted: done.value,
    complete: !done.stalled,
    seconds: Number(seconds.toFixed(2)),
    reviewsPerSecond: Math.round(done.value / seconds),
    scorerRate: { whileIngesting: rateBetween(timeline[0], lastWhileIngesting), afterIngest: rateBetween(firstAfter, lastBeforeDone) },
    stageDoneSeconds: { ingest: since(ingestDoneAt)!, scorer: since(scorerDoneAt), aggregator: since(done.at)! },
    stageRates: {
      ingest: Math.round(summary.published / ((ingestDoneAt - started) / 1000)),
      scorer: scorerDoneAt === null ? null : Math.round(summary.published / ((scorerDoneAt - started) / 1000)),
    },
    cpu,
    stages,
    cpuMsPerReview,
    cpuBoundEstimate: totalMs > 0 ? Math.round((machineInfo().cores * 1000) / totalMs) : null,
    timeline,
  };
}

interface LatencyResult {
  targetRate: number;
  seconds: number;
  published: number;
  achievedIngestRate: number;
  /** Ingest was stopped at 1.5 × the phase length because it could not send at the rate. */
  ingestCutShort: boolean;
  /** The pipeline kept up: ingest held ≥ 95% of the rate and every event was readable before the drain deadline. */
  sustained: boolean;
  /** From the end of ingest to the last scored event readable: a backlog when it is long. */
  drainMs: number;
  /** Percentiles are over the received events only (when not sustained they understate). */
  received: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the last scored event readable to the aggregator having counted everything. */
  aggregatorCatchUpMs: number | null;
  cpu: CpuUse;
  stages: StageMetrics;
}

/** Scored events as a read_committed consumer sees them: receive time − ingest time, per phase label. */
class ScoredReader {
  readonly latencies = new Map<string, number[]>();
  private consumer: Consumer | undefined;
  lastReceivedAt = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly groupId: string,
    private readonly labels: string[],
  ) {
    for (const label of labels) this.latencies.set(label, []);
  }

  async start(): Promise<void> {
    const codec = codecFor('ScoredReview');
    this.consumer = this.kafka.consumer({ groupId: this.groupId, readUncommitted: false, maxWaitTimeInMs: 50 });
    let joined = false;
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (joined = true));
    await this.consumer.connect();
    // From the latest offset: events of earlier phases are not latencies of these ones.
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: false });
    await this.consumer.run({
      eachBatch: async ({ batch }: EachBatchPayload) => {
        const now = Date.now();
        for (const message of batch.messages) {
          const event = codec.decode(message.value);
          const label = this.labels.find((l) => event.review_id.includes(`-${l}-`));
          if (label) this.latencies.get(label)!.push(now - event.ingest_time_ms);
        }
        this.lastReceivedAt = now;
      },
    });
    while (!joined) await sleep(50);
    await sleep(1_000); // the first fetch resolves "latest" before anything of the phases is scored
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

async function ingestChild(pipeline: Pipeline, file: string, rate: number): Promise<IngestSummary> {
  const maxSeconds = RATE_SECONDS * 1.5 + 2;
  const child = spawnEntry('bench/pipeline.ts', ['--ingest', file, String(rate), pipeline.topics.reviews, pipeline.topics.deadLetter, String(maxSeconds)], {}, null);
  const out = stdoutOf(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  if (code !== 0) throw new Error(`ingest child exited with ${code}: ${out.text()}`);
  const summary = JSON.parse(out.text().trim().split('\n').at(-1)!) as IngestSummary;
  pipeline.published += summary.published;
  return summary;
}

async function latencyRun(pipeline: Pipeline, reader: ScoredReader, file: string, label: string, rate: number): Promise<LatencyResult> {
  const cpuBefore = await pipeline.cpu.snapshot();
  const stagesBefore = await scrapeStages(pipeline);
  const summary = await ingestChild(pipeline, file, rate);
  const ingestEndedAt = Date.now();
  const cpuAfter = await pipeline.cpu.snapshot();
  const received = () => Promise.resolve(reader.latencies.get(label)?.length ?? 0);
  const deadline = Date.now() + DRAIN_SECONDS * 1000;
  const readable = await waitFor(pipeline, `scored ${label}`, received, summary.published, { deadline });
  const counted = await waitFor(pipeline, `aggregator ${label}`, () => pipeline.count.total(), pipeline.published, { deadline });
  const stages = stageMetrics(stagesBefore, await scrapeStages(pipeline));
  const sorted = [...(reader.latencies.get(label) ?? [])].sort((a, b) => a - b);
  const drainMs = Math.max(0, readable.at - ingestEndedAt);
  return {
    targetRate: rate,
    seconds: RATE_SECONDS,
    published: summary.published,
    achievedIngestRate: summary.recordsPerSec,
    ingestCutShort: summary.interrupted,
    // Kept up: the rate went in, and the last event was readable within a second of the end of ingest.
    sustained: !summary.interrupted && !readable.stalled && summary.recordsPerSec >= 0.95 * rate && drainMs <= 1_000,
    drainMs,
    received: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    aggregatorCatchUpMs: counted.stalled || readable.stalled ? null : Math.max(0, counted.at - reader.lastReceivedAt),
    cpu: CpuMeter.between(cpuBefore, cpuAfter),
    stages,
  };
}

// ------------------------------------------------------------------------------------------------ (c) raw Kafka ceiling

interface CeilingResult {
  /** 'before' runs ahead of the pipeline phases, 'after' once the scorer and aggregator are stopped. */
  when: string;
  messages: number;
  meanBytes: number;
  produceSeconds: number;
  produceRate: number;
  seconds: number;
  messagesPerSecond: number;
  cpu: CpuUse;
}

/** In-flight produce requests of the ceiling's producer: a ceiling, so no one-at-a-time ordering guarantee. */
const CEILING_SENDS_IN_FLIGHT = 4;

async function kafkaCeiling(kafka: Kafka, runId: string, when: string, messages: Message[], redis: Redis): Promise<CeilingResult> {
  const input = `bench-pipe-${runId}-ceiling-${when}-in`;
  const output = `bench-pipe-${runId}-ceiling-${when}-out`;
  await ensureTopics(kafka, [input, output], core, PARTITIONS);
  let consumed = 0;
  let lastAt = 0;
  const sink = kafka.consumer({ groupId: `bench-pipe-${runId}-ceiling-${when}-sink`, readUncommitted: false, maxWaitTimeInMs: 50 });
  let sinkJoined = false;
  sink.on(sink.events.GROUP_JOIN, () => (sinkJoined = true));
  await sink.connect();
  await sink.subscribe({ topic: output, fromBeginning: true });
  await sink.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      lastAt = Date.now();
    },
  });
  const relay = spawnEntry('bench/pipeline.ts', ['--relay', input, output, `bench-pipe-${runId}-ceiling-${when}-relay`], {}, null);
  const relayOut = stdoutOf(relay);
  const cpu = new CpuMeter(() => ({ relay: relay.pid, broker: brokerPid() }), redis);
  try {
    while (!sinkJoined || !relayOut.text().includes('ready')) {
      if (relay.exitCode !== null) throw new Error(`relay exited with ${relay.exitCode}`);
      await sleep(50);
    }
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const before = await cpu.snapshot();
    const started = Date.now();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < messages.length; i += 1_000) {
      const send: Promise<void> = producer.send({ topic: input, acks: -1, messages: messages.slice(i, i + 1_000) }).then(() => {
        inFlight.delete(send);
      });
      inFlight.add(send);
      if (inFlight.size >= CEILING_SENDS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const producedAt = Date.now();
    await producer.disconnect();
    const deadline = Date.now() + 300_000;
    while (consumed < messages.length) {
      if (Date.now() > deadline || relay.exitCode !== null) throw new Error(`ceiling: ${consumed} of ${messages.length} relayed`);
      await sleep(20);
    }
    const after = await cpu.snapshot();
    const seconds = (lastAt - started) / 1000;
    return {
      when,
      messages: messages.length,
      meanBytes: Math.round(messages.reduce((sum, m) => sum + (m.value as Buffer).length, 0) / messages.length),
      produceSeconds: Number(((producedAt - started) / 1000).toFixed(2)),
      produceRate: Math.round(messages.length / ((producedAt - started) / 1000)),
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(messages.length / seconds),
      cpu: CpuMeter.between(before, after),
    };
  } finally {
    await stopChild(relay);
    await sink.disconnect();
  }
}

/** Child mode `--relay <in> <out> <group>`: a plain consume → produce passthrough, offsets committed per batch. */
async function relayMain(input: string, output: string, groupId: string): Promise<void> {
  const kafka = createKafka(core, 'bench-relay');
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 50 });
  consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('ready\n'));
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (batch.messages.length === 0) return;
      const messages = batch.messages.map((m) => ({ key: m.key, value: m.value }));
      for (const part of splitBySize(messages)) await producer.send({ topic: output, acks: -1, messages: part });
      const last = batch.messages.at(-1)!.offset;
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    },
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await consumer.disconnect();
  await producer.disconnect();
}

/**
 * Child mode `--ingest <file> <rate> <topic> <dead-letter topic> <max seconds>`: driftline ingest at a
 * rate, stopped after max seconds when it cannot keep the rate; prints the summary JSON.
 */
async function ingestMain(file: string, rate: number, topic: string, deadLetterTopic: string, maxSeconds: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), maxSeconds * 1000);
  const summary = await ingestRecords(file, { topic, deadLetterTopic, createTopics: false, ingest: { rate }, signal: controller.signal });
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

// ------------------------------------------------------------------------------------------------ main

/** Removes every key of the bench's Redis prefix (the aggregator's windows, offsets, queues). */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys: string[] = [];
  for (let cursor = '0'; ; ) {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    keys.push(...batch);
    cursor = next;
    if (cursor === '0') break;
  }
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}

function table(rows: Array<[string, string]>): string {
  return ['| figure | value |', '|---|---:|', ...rows.map(([figure, value]) => `| ${figure} | ${value} |`)].join('\n');
}

function stagesTable(phases: Array<[string, StageMetrics]>): string {
  return [
    '| phase | scorer transactions | records / transaction | scoring ms / review | transaction commit ms | aggregator Redis applies | events / apply | apply ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...phases.map(
      ([phase, m]) =>
        `| ${phase} | ${m.scorer.transactions} | ${m.scorer.meanRecordsPerTransaction ?? '-'} | ${m.scorer.scoringMsPerReview ?? '-'} | ${m.scorer.transactionMsEach ?? '-'} | ${m.aggregator.redisApplies} | ${m.aggregator.eventsPerApply ?? '-'} | ${m.aggregator.redisApplyMsEach ?? '-'} |`,
    ),
  ].join('\n');
}

function cpuTable(phases: Array<[string, CpuUse]>): string {
  const names = [...new Set(phases.flatMap(([, use]) => Object.keys(use.cores)))];
  return [
    `| phase | wall s | ${names.join(' | ')} | whole machine |`,
    `|---|---:|${names.map(() => '---:').join('|')}|---:|`,
    ...phases.map(([phase, use]) => `| ${phase} | ${use.wallSeconds} | ${names.map((n) => use.cores[n] ?? '-').join(' | ')} | ${use.machineBusyCores ?? '-'} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  // Only errors from this process and its ingest/relay children (kafkajs warns about finite idempotent retries); the
  // scorer and aggregator log at warn into their log files.
  const childLogLevel = process.env.DRIFTLINE_LOG_LEVEL ?? 'warn';
  process.env.DRIFTLINE_LOG_LEVEL ??= 'error';
  const runId = randomUUID().slice(0, 8);
  const benchStart = Date.now();
  const loadAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  const work = mkdtempSync(join(tmpdir(), 'driftline-bench-pipeline-'));
  const logDir = work;
  const { lines, source } = sourceLines();
  const tf = await loadTf(core.tfBackend); // the backend the scorer child resolves with the same settings
  const topics: Topics = {
    reviews: `bench-pipe-${runId}-reviews`,
    scored: `bench-pipe-${runId}-scored`,
    deadLetter: `bench-pipe-${runId}-dead-letter`,
    promotions: `bench-pipe-${runId}-promotions`,
    alerts: `bench-pipe-${runId}-alerts`,
  };
  const kafka = createKafka(core, 'bench-pipeline');
  await ensureTopics(kafka, Object.values(topics), core, PARTITIONS);
  const registryDir = join(work, 'registry');
  // Seeded before either child starts: the aggregator must find the baseline of the first scored event.
  const seeded = await openRegistry(registryDir).seedFromDirectory(MODEL_NAME, SHIPPED_MODEL_DIR, { actor: 'bench' });
  const modelVersion = seeded?.version ?? 1;
  const redisPrefix = `bench-pipe-${runId}`;
  const redis = createRedis({ ...core, redisPrefix });
  const aggregator = aggregatorSettings.load();
  const scorerGroup = `bench-pipe-${runId}-scorer`;
  const ports = { scorer: await freePort(), aggregator: await freePort() };
  const shared: NodeJS.ProcessEnv = {
    DRIFTLINE_TOPIC_REVIEWS: topics.reviews,
    DRIFTLINE_TOPIC_SCORED: topics.scored,
    DRIFTLINE_TOPIC_DEAD_LETTER: topics.deadLetter,
    DRIFTLINE_TOPIC_PROMOTIONS: topics.promotions,
    DRIFTLINE_TOPIC_ALERTS: topics.alerts,
    DRIFTLINE_TOPIC_PARTITIONS: String(PARTITIONS),
    DRIFTLINE_REGISTRY_DIR: registryDir,
    DRIFTLINE_REDIS_PREFIX: redisPrefix,
  };
  process.stdout.write(`pipeline bench ${runId}: ${fmt(REVIEWS)} reviews from ${source}, ${PARTITIONS} partitions, tf ${tf.backend}, load ${loadAtStart.join(' ')}; logs in ${logDir}\n`);
  // The raw ceiling is measured before and after the pipeline phases (the machine's load moves; the better run counts).
  const ceilingMessages = relabel(lines, 'ceiling', REVIEWS).flatMap((line) => {
    const result = validateReview(JSON.parse(line) as unknown);
    return result.ok ? [reviewMessage(result.review)] : [];
  });
  const ceilingRuns = [await kafkaCeiling(kafka, runId, 'before', ceilingMessages, redis)];
  process.stdout.write(`(c) raw Kafka produce → relay → consume, before: ${fmt(ceilingRuns[0]!.messagesPerSecond)} messages/s (producing alone ${fmt(ceilingRuns[0]!.produceRate)}/s)\n`);
  const children: Record<string, ChildProcess> = {
    scorer: spawnEntry('scorer/main.ts', [], { ...shared, DRIFTLINE_LOG_LEVEL: childLogLevel, DRIFTLINE_SCORER_GROUP_ID: scorerGroup, DRIFTLINE_SCORER_METRICS_PORT: String(ports.scorer), DRIFTLINE_SCORER_INSTANCE_ID: `bench-${runId}`, DRIFTLINE_SCORER_MODEL_NAME: MODEL_NAME }, join(logDir, 'scorer.log')),
    aggregator: spawnEntry(
      'drift-aggregator/main.ts',
      [],
      { ...shared, DRIFTLINE_LOG_LEVEL: childLogLevel, DRIFTLINE_AGGREGATOR_GROUP: `bench-pipe-${runId}-aggregator`, DRIFTLINE_AGGREGATOR_METRICS_PORT: String(ports.aggregator), DRIFTLINE_AUTO_ROLLBACK: 'false', DRIFTLINE_CLICKHOUSE_PATH: join(work, 'chdb'),
        // The bench counts the aggregator's progress in the Redis windows of its own run (RedisCount): ingest-time
        // windows of one size. The reviews' own times lie years back (event time would put them in old windows).
        DRIFTLINE_WINDOW_TIME: 'ingest', DRIFTLINE_WINDOW_SIZES: '' },
      join(logDir, 'aggregator.log'),
    ),
  };
  const admin = kafka.admin();
  await admin.connect();
  const pipeline: Pipeline = {
    kafka,
    admin,
    redis,
    topics,
    scorerGroup,
    count: new RedisCount(redis, redisPrefix, modelVersion, aggregator.windowMs, benchStart),
    children,
    logDir,
    cpu: new CpuMeter(() => ({ scorer: children.scorer?.pid, aggregator: children.aggregator?.pid, broker: brokerPid() }), redis),
    ports,
    published: 0,
  };
  let reader: ScoredReader | undefined;
  let rates: number[] = RATES;
  let throughput: ThroughputResult;
  const latency: LatencyResult[] = [];
  let warmupSeconds: number;
  let phasesDone = false;
  try {
    warmupSeconds = await warmUp(pipeline, writeInput(work, 'warm', lines, WARMUP_REVIEWS));
    process.stdout.write(`warm-up: scorer and aggregator answered after ${warmupSeconds.toFixed(1)} s\n`);
    throughput = await throughputRun(pipeline, writeInput(work, 'tp', lines, REVIEWS));
    process.stdout.write(`(a) ${fmt(throughput.counted)} reviews in ${throughput.seconds} s: ${fmt(throughput.reviewsPerSecond)} reviews/s (ingest done at ${throughput.stageDoneSeconds.ingest} s, scorer ${throughput.stageDoneSeconds.scorer ?? '?'} s, aggregator ${throughput.stageDoneSeconds.aggregator} s)\n`);
    // Also a rate the pipeline sustains on this machine now (half of (a)), so latency without a backlog is measured too.
    const sustainable = Math.max(100, Math.floor(throughput.reviewsPerSecond / 200) * 100);
    if (sustainable < Math.min(...RATES)) rates = [sustainable, ...RATES];
    reader = new ScoredReader(kafka, topics.scored, `bench-pipe-${runId}-reader`, rates.map((rate) => `r${rate}`));
    await reader.start();
    for (const rate of rates) {
      const file = writeInput(work, `r${rate}`, lines, Math.round(rate * RATE_SECONDS));
      const result = await latencyRun(pipeline, reader, file, `r${rate}`, rate);
      latency.push(result);
      process.stdout.write(
        `(b) at ${fmt(rate)}/s (ingested at ${fmt(result.achievedIngestRate)}/s${result.sustained ? '' : `, NOT sustained: last event ${fmt(result.drainMs)} ms after ingest ended`}): p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms (${result.received}/${result.published}); aggregator caught up ${result.aggregatorCatchUpMs ?? '?'} ms later\n`,
      );
    }
    phasesDone = true;
  } finally {
    await reader?.stop().catch(() => undefined);
    await Promise.all(Object.values(children).map((child) => stopChild(child)));
    await admin.disconnect().catch(() => undefined);
    // On failure too: no aggregator state is left behind in Redis (the children are stopped by now).
    if (!phasesDone) await deleteKeys(redis, redisPrefix).catch(() => undefined);
  }

  ceilingRuns.push(await kafkaCeiling(kafka, runId, 'after', ceilingMessages, redis));
  process.stdout.write(`(c) raw Kafka produce → relay → consume, after: ${fmt(ceilingRuns[1]!.messagesPerSecond)} messages/s (producing alone ${fmt(ceilingRuns[1]!.produceRate)}/s)\n`);
  const best = ceilingRuns.reduce((a, b) => (b.messagesPerSecond > a.messagesPerSecond ? b : a));
  const ceiling = { messagesPerSecond: best.messagesPerSecond, produceRate: best.produceRate, sendsInFlight: CEILING_SENDS_IN_FLIGHT, runs: ceilingRuns };

  await deleteKeys(redis, redisPrefix);
  redis.disconnect();

  const ratio = throughput.reviewsPerSecond / ceiling.messagesPerSecond;
  const rows: Array<[string, string]> = [
    [`(a) sustained pipeline throughput (${fmt(throughput.counted)} reviews, first ingest → last counted in Redis)`, `${fmt(throughput.reviewsPerSecond)} reviews/s`],
    ['(a) ingest alone (same run)', `${fmt(throughput.stageRates.ingest)} reviews/s`],
    ['(a) scorer committed the last review at', `${throughput.stageDoneSeconds.scorer ?? '?'} s`],
    ['(a) scorer progress while ingest was sending / after it finished', `${fmt(throughput.scorerRate.whileIngesting ?? Number.NaN)} / ${fmt(throughput.scorerRate.afterIngest ?? Number.NaN)} reviews/s`],
    ['(a) aggregator counted the last review at', `${throughput.stageDoneSeconds.aggregator} s`],
    [
      `(a) CPU ms per review: ${Object.entries(throughput.cpuMsPerReview).map(([name, ms]) => `${name} ${ms ?? '?'}`).join(', ')}`,
      `${Object.values(throughput.cpuMsPerReview).reduce<number>((sum, ms) => sum + (ms ?? 0), 0).toFixed(3)} ms`,
    ],
    [`(a) derived: CPU-bound rate on ${machineInfo().cores} dedicated cores (cores ÷ CPU per review)`, `${fmt(throughput.cpuBoundEstimate ?? Number.NaN)} reviews/s`],
    ...latency.map((l): [string, string] => [
      `(b) end-to-end latency at ${fmt(l.targetRate)}/s for ${l.seconds} s (p50 / p95 / p99 / max)${l.sustained ? '' : ` — NOT sustained: ingest ${fmt(l.achievedIngestRate)}/s, backlog drained ${fmt(l.drainMs)} ms after ingest`}`,
      `${l.p50Ms} / ${l.p95Ms} / ${l.p99Ms} / ${l.maxMs} ms`,
    ]),
    ...latency.map((l): [string, string] => [`(b) aggregator caught up after the last scored event, at ${fmt(l.targetRate)}/s`, `${l.aggregatorCatchUpMs ?? '?'} ms`]),
    [`(c) raw Kafka ceiling: produce → relay → consume, same bytes (better of before ${fmt(ceilingRuns[0]!.messagesPerSecond)} / after ${fmt(ceilingRuns[1]!.messagesPerSecond)})`, `${fmt(ceiling.messagesPerSecond)} messages/s`],
    ['(c) producing alone in the better ceiling run', `${fmt(ceiling.produceRate)} messages/s`],
    ['pipeline / raw ceiling', `${(ratio * 100).toFixed(0)}%`],
  ];
  const loadAtEnd = loadavg().map((v) => Number(v.toFixed(2)));
  process.stdout.write(`\n${table(rows)}\n\nCPU cores busy per process (broker and Redis also serve other users of this machine):\n\n`);
  process.stdout.write(`${cpuTable([['(a) throughput', throughput.cpu], ...latency.map((l): [string, CpuUse] => [`(b) ${fmt(l.targetRate)}/s ingest`, l.cpu]), ...ceilingRuns.map((run): [string, CpuUse] => [`(c) ceiling ${run.when}`, run.cpu])])}\n\n`);
  process.stdout.write(`What the scorer and aggregator report about themselves (Prometheus, per phase):\n\n${stagesTable([['(a) throughput', throughput.stages], ...latency.map((l): [string, StageMetrics] => [`(b) ${fmt(l.targetRate)}/s`, l.stages])])}\n\n`);
  process.stdout.write(`load average ${loadAtStart.join(' ')} → ${loadAtEnd.join(' ')} on ${machineInfo().cores} cores\n`);

  const scorer = scorerSettings.load();
  const result = {
    benchmark: 'pipeline',
    at: new Date().toISOString(),
    machine: { ...machineInfo(), tfBackend: { configured: core.tfBackend, resolved: tf.backend } },
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    setup: {
      input: source,
      reviews: REVIEWS,
      partitions: PARTITIONS,
      rates,
      rateSeconds: RATE_SECONDS,
      warmupReviews: WARMUP_REVIEWS,
      warmupSeconds: Number(warmupSeconds.toFixed(1)),
      ingestBatchSize: 'DRIFTLINE_INGEST_BATCH_SIZE (default 500)',
      scorer: { maxRecordsPerTransaction: scorer.maxRecordsPerTransaction, concurrency: scorer.concurrency, fetchMaxWaitMs: scorer.fetchMaxWaitMs, maxBytesPerPartition: scorer.maxBytesPerPartition },
      aggregator: { windowMs: aggregator.windowMs, windowTime: aggregator.windowTime, maxBatchBytes: aggregator.maxBatchBytes },
      processes: 'bench (ingest for (a), reader, probes) + scorer child + aggregator child + ingest child for (b); relay child for (c)',
    },
    throughput,
    latency,
    ceiling,
    ratio: { pipelineOverCeiling: Number(ratio.toFixed(3)) },
    goals: GOALS,
  };
  process.stdout.write(`wrote ${writeResult('pipeline', result)}\n`);
  rmSync(work, { recursive: true, force: true });
}

const [mode, ...args] = process.argv.slice(2);
const run = mode === '--relay' ? relayMain(args[0]!, args[1]!, args[2]!) : mode === '--ingest' ? ingestMain(args[0]!, Number(args[1]), args[2]!, args[3]!, Number(args[4])) : main();
run.then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
