/**
 * Ingest through a Kafka outage, on a private broker (scripts/services.sh with its own run dir and ports:
 * stopping the shared one would break every other test run on the machine):
 * - a batch the stopped broker did not take is resent with the policy's back-off until the broker is back,
 *   and the topic then holds every record exactly once;
 * - a broker down for longer than DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS ends the run with KAFKA_UNAVAILABLE
 *   saying what was acknowledged before; with 0 the CLI fails at the first failed send and names the brokers;
 * - an error that cannot heal (MESSAGE_TOO_LARGE) is not resent, whatever the budget.
 * The in-process runs use a client with short kafkajs retries, so each attempt fails within a second and
 * the outage spans several of Driftline's resends; the CLI run uses the shipped client settings.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { DriftlineError } from '../../core/errors.js';
import { createKafka, isTransientKafkaError } from '../../core/kafka.js';
import { repoPath } from '../../core/paths.js';
import { ingestRecords, type IngestOptions, type IngestSummary } from '../../ingest/index.js';
import { OUTAGE_BACKOFF, outageBackoffMs, type OutageRetry } from '../../ingest/outage.js';
import { waitUntil } from '../scorer/helpers.js';
import { loadValidLines } from '../support/corpus.js';
import { createTestTopics, readAll, type TestTopics } from '../support/kafka.js';
import { startPrivateKafka, type PrivateKafka } from '../support/pipeline.js';

const BATCH = 10;
const lines = loadValidLines(60).map(({ line, record }) => ({ line, id: String(record.review_id) }));

let broker: PrivateKafka;
let kafka: Kafka;

beforeAll(async () => {
  broker = await startPrivateKafka();
  // Short client retries: an attempt against the stopped broker fails fast, so Driftline's own resends show.
  kafka = createKafka({ ...coreSettings.load(), kafkaBrokers: [broker.brokers] }, 'outage-test', { retry: { initialRetryTime: 100, retries: 1, maxRetryTime: 500 } });
});

afterAll(async () => {
  await broker?.destroy();
});

/** Fresh topics on the private broker, and settings that point at them. */
async function privateTopics(prefix: string): Promise<{ topics: TestTopics; settings: CoreSettings }> {
  const topics = await createTestTopics(prefix, { kafka });
  return { topics, settings: { ...topics.settings, kafkaBrokers: [broker.brokers] } };
}

/** Messages on the topic, or -1 while a just restarted broker cannot say yet (NOT_LEADER while it loads). */
async function messagesOn(topic: string): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } catch {
    return -1;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function feed(stream: PassThrough, from: number, to: number): void {
  for (const { line } of lines.slice(from, to)) stream.write(`${line}\n`);
}

/** Ingest from a stream the test writes to; never an unhandled rejection, whenever the run ends. */
function startIngest(settings: CoreSettings, options: Partial<IngestOptions>): { stream: PassThrough; outcome: Promise<IngestSummary | DriftlineError> } {
  const stream = new PassThrough();
  const run = ingestRecords({ name: 'outage-test', stream }, { settings, kafka, createTopics: false, ...options, ingest: { batchSize: BATCH, ...options.ingest } });
  return { stream, outcome: run.catch((err: unknown) => (err instanceof DriftlineError ? err : new DriftlineError('INTERNAL', String(err), { cause: err }))) };
}

describe('ingest through a Kafka outage (private broker)', () => {
  it('resends the batch the stopped broker did not take until it is back; every record lands once', async () => {
    const { topics, settings } = await privateTopics('outage-ride');
    const retries: OutageRetry[] = [];
    let firstRetry = (): void => undefined;
    const retried = new Promise<void>((resolve) => (firstRetry = resolve));
    const { stream, outcome } = startIngest(settings, {
      ingest: { outageTimeoutMs: 180_000 },
      onSendRetry: (retry) => {
        retries.push(retry);
        firstRetry();
      },
    });
    feed(stream, 0, 30);
    await waitUntil('the first 30 records on the topic', async () => (await messagesOn(topics.reviews)) === 30, 60_000);
    await broker.down();
    try {
      feed(stream, 30, 60);
      stream.end();
      await Promise.race([retried, outcome]);
      expect(retries.length).toBeGreaterThan(0); // the run did not end instead of resending
    } finally {
      await broker.up();
    }

    const summary = await outcome;
    expect(summary).not.toBeInstanceOf(DriftlineError);
    expect(summary).toMatchObject({ read: 60, published: 60, deadLettered: 0, interrupted: false, sendRetries: retries.length });
    for (const retry of retries) {
      expect(isTransientKafkaError(retry.error)).toBe(true);
      expect(retry.delayMs).toBe(outageBackoffMs(retry.attempt, OUTAGE_BACKOFF));
    }
    const onTopic = await readAll(topics.reviews, { kafka, count: 60, idleMs: 3_000 });
    const ids = onTopic.map((m) => codecFor('ReviewEvent').decode(m.value!).review_id);
    expect(ids).toHaveLength(60);
    expect(new Set(ids)).toEqual(new Set(lines.map((l) => l.id)));
  });

  it('gives up with KAFKA_UNAVAILABLE once a batch was unacknowledged for the whole budget, saying what was acknowledged', async () => {
    const { topics, settings } = await privateTopics('outage-budget');
    const budgetMs = 3_000;
    const retries: OutageRetry[] = [];
    const { stream, outcome } = startIngest(settings, { ingest: { outageTimeoutMs: budgetMs }, onSendRetry: (retry) => retries.push(retry) });
    feed(stream, 0, 20);
    await waitUntil('the first 20 records on the topic', async () => (await messagesOn(topics.reviews)) === 20, 60_000);
    await broker.down();
    try {
      feed(stream, 20, 30);
      stream.end();
      const error = await outcome;
      expect(error).toBeInstanceOf(DriftlineError);
      const failure = error as DriftlineError;
      expect(failure.code).toBe('KAFKA_UNAVAILABLE');
      expect(failure.details).toMatchObject({ gave_up: 'budget-spent', outage_budget_ms: budgetMs, attempts: retries.length + 1, acknowledged_reviews: 20, acknowledged_dead_letters: 0, unacknowledged_batch: BATCH });
      expect(failure.details!.outage_ms).toBeGreaterThanOrEqual(budgetMs);
      expect(failure.message).toContain(`DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS=${budgetMs}`);
      expect(failure.message).toContain('Kafka acknowledged 20 records (20 reviews, 0 dead letters)');
      for (const retry of retries) expect(retry.elapsedMs + retry.delayMs).toBeLessThanOrEqual(budgetMs);
    } finally {
      await broker.up();
    }
  });

  it('with DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS=0 the CLI fails at the first failed send, naming the brokers and what was published', async () => {
    const { topics } = await privateTopics('outage-cli');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', repoPath('tests', 'ingest', 'run-cli.ts'), 'ingest', '--file', '-', '--quiet', '--json', '--batch-size', String(BATCH), '--topic', topics.reviews, '--dead-letter-topic', topics.deadLetter],
      { env: { ...process.env, DRIFTLINE_KAFKA_BROKERS: broker.brokers, DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS: '0', DRIFTLINE_LOG_LEVEL: 'silent' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (const { line } of lines.slice(0, 20)) child.stdin.write(`${line}\n`);
    await waitUntil('the first 20 records on the topic', async () => (await messagesOn(topics.reviews)) === 20, 90_000);
    await broker.down();
    try {
      for (const { line } of lines.slice(20, 30)) child.stdin.write(`${line}\n`);
      child.stdin.end();
      expect(await exited).toBe(1);
      expect(stderr).toContain(`driftline ingest: KAFKA_UNAVAILABLE (brokers: ${broker.brokers})`);
      expect(stderr).toContain('Kafka acknowledged 20 records (20 reviews, 0 dead letters)');
      const { error } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { error: { code: string; details: Record<string, unknown> } };
      expect(error.code).toBe('KAFKA_UNAVAILABLE');
      expect(error.details).toMatchObject({ attempts: 1, gave_up: 'budget-spent', outage_budget_ms: 0, acknowledged_reviews: 20, unacknowledged_batch: BATCH });
    } finally {
      await broker.up();
    }
  });

  it('does not resend what cannot heal: a message over the broker limit fails at once, whatever the budget', async () => {
    const { settings } = await privateTopics('outage-permanent');
    const huge = { ...JSON.parse(lines[0]!.line), text: 'far too long a review '.repeat(70_000) } as Record<string, unknown>; // ≈ 1.5 MB, over the broker's 1 MB
    const retries: OutageRetry[] = [];
    const { stream, outcome } = startIngest(settings, { ingest: { outageTimeoutMs: 180_000 }, validation: { maxTextBytes: 4 * 1024 * 1024 }, onSendRetry: (retry) => retries.push(retry) });
    stream.end(`${JSON.stringify(huge)}\n`);
    const error = await outcome;
    expect(error).toBeInstanceOf(DriftlineError);
    expect((error as DriftlineError).code).toBe('KAFKA_UNAVAILABLE');
    expect((error as DriftlineError).message).toMatch(/larger than the max message size/);
    expect((error as DriftlineError).details).toMatchObject({ attempts: 1, gave_up: 'permanent' });
    expect(retries).toEqual([]);
  });
});
