/**
 * Helpers of the scorer's integration tests: unique topics and group per test, a temporary registry
 * seeded from models/default, the scorer as a child process, and read_committed readers of its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cp, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { codecFor } from '../../core/avro.js';
import { coreSettings } from '../../core/config.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { repoPath, repoRoot, readShippedReviewLines, SHIPPED_REVIEWS } from '../../core/paths.js';
import { validateReview } from '../../core/validation.js';
import type { DeadLetter, ReviewEvent, ScoredReview } from '../../schemas/types.js';

export const MODEL_NAME = 'default';

export interface TestSetup {
  id: string;
  kafka: Kafka;
  topics: { reviews: string; scored: string; deadLetter: string; promotions: string };
  groupId: string;
  registryDir: string;
  logDir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export async function createSetup(name: string, partitions = 3): Promise<TestSetup> {
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const core = coreSettings.load();
  const kafka = createKafka(core, `test-${id}`);
  const topics = { reviews: `t-${id}-reviews`, scored: `t-${id}-scored`, deadLetter: `t-${id}-dead`, promotions: `t-${id}-promotions` };
  await ensureTopics(kafka, Object.values(topics), core, partitions);
  const registryDir = mkdtempSync(join(tmpdir(), `driftline-scorer-${name}-`));
  const registry = openRegistry(registryDir);
  await registry.seedFromDirectory(MODEL_NAME, repoPath('models', 'default'), { actor: 'test' });
  const logDir = mkdtempSync(join(tmpdir(), `driftline-scorer-logs-${name}-`));
  const groupId = `g-${id}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DRIFTLINE_TOPIC_REVIEWS: topics.reviews,
    DRIFTLINE_TOPIC_SCORED: topics.scored,
    DRIFTLINE_TOPIC_DEAD_LETTER: topics.deadLetter,
    DRIFTLINE_TOPIC_PROMOTIONS: topics.promotions,
    DRIFTLINE_TOPIC_PARTITIONS: String(partitions),
    DRIFTLINE_REGISTRY_DIR: registryDir,
    DRIFTLINE_SCORER_GROUP_ID: groupId,
    DRIFTLINE_SCORER_MODEL_NAME: MODEL_NAME,
    DRIFTLINE_SCORER_SEED_MODEL_DIR: '',
    DRIFTLINE_SCORER_METRICS_PORT: '0',
    DRIFTLINE_SCORER_SESSION_TIMEOUT_MS: '6000',
    DRIFTLINE_SCORER_HEARTBEAT_MS: '1000',
    DRIFTLINE_MODEL_RECONCILE_MS: '0',
    DRIFTLINE_LOG_LEVEL: process.env.SCORER_TEST_LOG_LEVEL ?? 'info',
  };
  return {
    id,
    kafka,
    topics,
    groupId,
    registryDir,
    logDir,
    env,
    cleanup() {
      rmSync(registryDir, { recursive: true, force: true });
    },
  };
}

/** Real reviews shipped in data/reviews/ as ReviewEvents, with fresh ingest times. */
export function loadReviews(count: number, offset = 0): ReviewEvent[] {
  const lines = readShippedReviewLines();
  const out: ReviewEvent[] = [];
  for (const line of lines.slice(offset)) {
    const result = validateReview(JSON.parse(line) as unknown, { ingestTimeMs: Date.now() });
    if (result.ok) out.push(result.review);
    if (out.length === count) break;
  }
  if (out.length < count) throw new Error(`only ${out.length} valid reviews in ${SHIPPED_REVIEWS}`);
  return out;
}

export function reviewMessage(review: ReviewEvent): Message {
  return { key: review.review_id, value: codecFor('ReviewEvent').encode({ ...review, ingest_time_ms: Date.now() }) };
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}

/** Produces messages at a steady rate (for kills and promotions mid-stream); resolves when all are sent. */
export async function produceAtRate(kafka: Kafka, topic: string, messages: Message[], perSecond: number, onProgress?: (sent: number) => Promise<void> | void): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const chunk = Math.max(1, Math.round(perSecond / 10));
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      const started = Date.now();
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) });
      await onProgress?.(Math.min(messages.length, i + chunk));
      await sleep(Math.max(0, 100 - (Date.now() - started)));
    }
  } finally {
    await producer.disconnect();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ScorerChild {
  readonly process: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** True once the test sent a signal (an exit before that is a failure). */
  readonly signalled: boolean;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  logs(): string;
}

const running = new Set<ScorerChild>();

/** SIGKILLs every scorer child still running (call in afterAll: a failed test must not leave orphans). */
export async function killAllScorers(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill('SIGKILL')));
}

/**
 * Registers a copy of the shipped model as the next version of MODEL_NAME, with v1's metrics and baseline
 * (so a promotion is allowed); `corrupt` truncates its weights, so loading it fails.
 */
export async function registerShippedCopy(registry: ModelRegistry, options: { actor: string; corrupt?: boolean }): Promise<number> {
  const v1 = await registry.get(MODEL_NAME, 1);
  const result = await registry.register({
    name: MODEL_NAME,
    writeArtifacts: async (dir) => {
      await cp(repoPath('models', 'default'), dir, { recursive: true });
      if (options.corrupt) await truncate(join(dir, 'text', 'weights.bin'), 16);
    },
    metrics: v1.metrics,
    baseline: await registry.baseline(MODEL_NAME, 1),
    featurizer: v1.featurizer,
    dataFingerprint: v1.data_fingerprint,
    params: v1.params,
    timings: v1.timings,
    actor: options.actor,
  });
  return result.version;
}

/** Starts `node --import tsx <entry>` (a component's main.ts) with this env; stdout and stderr go to logFile. */
export function startChild(entry: string, logFile: string, env: NodeJS.ProcessEnv): ScorerChild {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  let signalled = false;
  return {
    process: child,
    logFile,
    exited,
    get signalled() {
      return signalled;
    },
    async kill(signal) {
      signalled = true;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    logs: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}

/** Starts `node --import tsx scorer/main.ts` with the test's env (plus overrides); logs go to a file. */
/** Whether the child logged `message` (a JSON log line) for model `version`. */
export function loggedWithVersion(child: ScorerChild, message: string, version: number): boolean {
  return child
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .some((line) => {
      const entry = JSON.parse(line) as { msg?: string; version?: number };
      return entry.msg === message && entry.version === version;
    });
}

export function startScorer(setup: TestSetup, name: string, extraEnv: NodeJS.ProcessEnv = {}): ScorerChild {
  const handle = startChild('scorer/main.ts', join(setup.logDir, `${name}.log`), { ...setup.env, DRIFTLINE_SCORER_INSTANCE_ID: name, ...extraEnv });
  running.add(handle);
  void handle.exited.then(() => running.delete(handle));
  return handle;
}

/** Sum over partitions of (committed offset of the scorer group) and of the topic's end offsets. */
export async function groupProgress(kafka: Kafka, groupId: string, topic: string): Promise<{ committed: number; end: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // One after the other: with Promise.all a second rejection (broker just restarted) goes unhandled.
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedSum = (committed[0]?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    return { committed: committedSum, end: ends.reduce((sum, p) => sum + Number(p.high), 0) };
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the scorer group has committed every input offset (or throws after timeoutMs, with the logs). */
export async function waitForCaughtUp(setup: TestSetup, timeoutMs: number, children: ScorerChild[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const progress = await groupProgress(setup.kafka, setup.groupId, setup.topics.reviews);
    if (progress.end > 0 && progress.committed >= progress.end) return;
    assertAlive(children);
    if (Date.now() > deadline) throw new Error(`scorer did not catch up: committed ${progress.committed} of ${progress.end}\n${logTails(children)}`);
    await sleep(500);
  }
}

/** Throws (with the log tails) when a child exited without the test signalling it. */
export function assertAlive(children: ScorerChild[]): void {
  const died = children.find((c) => !c.signalled && (c.process.exitCode !== null || c.process.signalCode !== null));
  if (died) throw new Error(`scorer exited unexpectedly:\n${logTails([died])}`);
}

function logTails(children: ScorerChild[]): string {
  return children.map((c) => `--- ${c.logFile}\n${c.logs().split('\n').slice(-30).join('\n')}`).join('\n');
}

export async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number, children: ScorerChild[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    assertAlive(children);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logTails(children)}`);
    await sleep(250);
  }
}

/**
 * Reads a whole topic with read_committed (aborted transactions are invisible) until it is idle,
 * and decodes each value with `decode`.
 */
export async function readTopic<T>(kafka: Kafka, topic: string, decode: (value: Buffer) => T, idleMs = 2_000, timeoutMs = 60_000): Promise<Array<{ value: T; key: string | null; partition: number; offset: string }>> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const out: Array<{ value: T; key: string | null; partition: number; offset: string }> = [];
  let lastMessageAt = Date.now();
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    lastMessageAt = Date.now();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        lastMessageAt = Date.now();
        out.push({ value: decode(message.value as Buffer), key: message.key?.toString() ?? null, partition, offset: message.offset });
      },
    });
    const started = Date.now();
    while ((!joined || Date.now() - lastMessageAt < idleMs) && Date.now() - started < timeoutMs) await sleep(200);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export const readScored = (setup: TestSetup) => readTopic<ScoredReview>(setup.kafka, setup.topics.scored, (v) => codecFor('ScoredReview').decode(v));
export const readDeadLetters = (setup: TestSetup) => readTopic<DeadLetter>(setup.kafka, setup.topics.deadLetter, (v) => codecFor('DeadLetter').decode(v));

/** review_id → how many scored events it got. */
export function countById(records: Array<{ value: { review_id: string } }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { value } of records) counts.set(value.review_id, (counts.get(value.review_id) ?? 0) + 1);
  return counts;
}
