/** Shared set-up of the aggregator's integration tests: unique topics, Redis prefix, chdb path; Kafka helpers. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { codecFor } from '../../core/avro.js';
import type { ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import type { SchemaName, SchemaTypes, ScoredReview } from '../../schemas/types.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { createLogger } from '../../core/logger.js';
import { aggregatorSettings, type AggregatorSettings } from '../../drift-aggregator/config.js';
import { AggregatorService } from '../../drift-aggregator/service.js';

export interface TestSetup {
  id: string;
  core: CoreSettings;
  settings: AggregatorSettings;
  /** The same settings as environment variables (for child processes). */
  env: Record<string, string>;
}

export function testSetup(overrides: Partial<AggregatorSettings> = {}): TestSetup {
  const id = randomUUID().slice(0, 8);
  const env: Record<string, string> = {
    DRIFTLINE_TOPIC_SCORED: `t-${id}-scored`,
    DRIFTLINE_TOPIC_ALERTS: `t-${id}-alerts`,
    DRIFTLINE_TOPIC_DEAD_LETTER: `t-${id}-dead-letter`,
    DRIFTLINE_TOPIC_PROMOTIONS: `t-${id}-promotions`,
    DRIFTLINE_REDIS_PREFIX: `t-${id}`,
    DRIFTLINE_CLICKHOUSE_PATH: mkdtempSync(join(tmpdir(), `driftline-agg-${id}-`)),
    DRIFTLINE_CLICKHOUSE_URL: '',
    DRIFTLINE_AGGREGATOR_GROUP: `t-${id}-aggregator`,
    DRIFTLINE_AGGREGATOR_METRICS_PORT: '0',
    DRIFTLINE_WINDOW_MS: '60000',
    DRIFTLINE_WINDOW_TIME: 'ingest',
    DRIFTLINE_ALLOWED_LATENESS_MS: '0',
    DRIFTLINE_WINDOW_IDLE_CLOSE_MS: '1500',
    DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS: '200',
    DRIFTLINE_LOG_LEVEL: 'warn',
  };
  for (const [key, value] of Object.entries(overrides)) {
    const spec = aggregatorSettings.spec[key as keyof AggregatorSettings];
    env[spec.env] = String(value);
  }
  const merged = { ...process.env, ...env };
  return { id, core: coreSettings.load(merged), settings: aggregatorSettings.load(merged), env };
}

export async function publishScored(kafka: Kafka, topic: string, reviews: readonly ScoredReview[]): Promise<void> {
  const codec = codecFor('ScoredReview');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < reviews.length; i += 500) {
      await producer.send({ topic, acks: -1, messages: reviews.slice(i, i + 500).map((review) => ({ key: review.review_id, value: codec.encode(review) })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Reads a topic from the beginning until `expected` records arrived or `idleMs` passed without one. */
export async function collect<N extends SchemaName>(kafka: Kafka, topic: string, schema: N, options: { expected?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<Array<{ key: string | null; value: SchemaTypes[N] }>> {
  const codec = codecFor(schema);
  const consumer = kafka.consumer({ groupId: `t-collect-${randomUUID()}` });
  const out: Array<{ key: string | null; value: SchemaTypes[N] }> = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push({ key: message.key?.toString() ?? null, value: codec.decode(message.value) });
      last = Date.now();
    },
  });
  const started = Date.now();
  const idleMs = options.idleMs ?? 4_000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  while (Date.now() - started < timeoutMs) {
    if (options.expected !== undefined && out.length >= options.expected) break;
    if (options.expected === undefined && Date.now() - last > idleMs && Date.now() - started > idleMs) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await consumer.disconnect();
  return out;
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string, pollMs = 250): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Registers a version whose only content is its baseline (the registry stores it as the trainer would). */
export async function registerBaseline(registryDir: string, baseline: import('../../core/drift/baseline.js').ReferenceBaseline): Promise<number> {
  const { openRegistry } = await import('../../core/model/registry/index.js');
  const { writeFile } = await import('node:fs/promises');
  const result = await openRegistry(registryDir).register({
    name: baseline.modelName,
    writeArtifacts: async (dir) => writeFile(join(dir, 'model.txt'), 'synthetic test model: baseline only\n'),
    metrics: { macro_f1: baseline.reference.macroF1, accuracy: baseline.reference.accuracy },
    baseline,
    featurizer: { kind: 'synthetic' },
    dataFingerprint: 'synthetic',
    params: {},
    timings: {},
  });
  return result.version;
}

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** Runs `driftline <args>` from source in a child process and returns its stdout. */
export async function driftlineCli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { execFile } = await import('node:child_process');
  const script = "const { main } = await import('./cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], { cwd: REPO_ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`driftline ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

type AggregatorDeps = ConstructorParameters<typeof AggregatorService>[0];

/**
 * The in-process aggregator of an integration test: default drift thresholds, no rollback target and a logger at
 * AGG_TEST_LOG (else `logLevel`) unless `deps` gives them.
 */
export function testAggregator(name: string, deps: Omit<AggregatorDeps, 'thresholds' | 'rollbackTarget' | 'log'> & Partial<AggregatorDeps>, logLevel = 'silent'): AggregatorService {
  return new AggregatorService({ thresholds: defaultDriftThresholds(), rollbackTarget: null, log: createLogger(name, process.env.AGG_TEST_LOG ?? logLevel), ...deps });
}

/** Removes what an aggregator test leaves: stops the service, closes chdb and deletes its directory, deletes the prefix's Redis keys. */
export async function releaseTestAggregator(parts: { core: CoreSettings; service?: AggregatorService; clickhouse?: ClickHouseClient; redis?: Redis }): Promise<void> {
  await parts.service?.stop();
  await parts.clickhouse?.close();
  if (parts.redis) {
    const keys = await parts.redis.keys(`${parts.core.redisPrefix}:*`);
    if (keys.length > 0) await parts.redis.del(...keys);
    parts.redis.disconnect();
  }
  rmSync(parts.core.clickhousePath, { recursive: true, force: true });
}
