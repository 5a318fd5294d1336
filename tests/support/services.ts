/**
 * Where the integration tests' Kafka, Redis and ClickHouse come from, chosen by DRIFTLINE_TEST_SERVICES:
 * - `local` (default, what CI here runs): scripts/services.sh up — Kafka (KRaft) and Redis on 127.0.0.1,
 *   ClickHouse embedded (chdb) unless DRIFTLINE_CLICKHOUSE_URL names a server.
 * - `testcontainers`: throwaway containers (needs a Docker engine): Kafka in KRaft mode, Redis 7 and a
 *   ClickHouse server; their mapped addresses become the DRIFTLINE_* variables the code reads.
 * Either way the result is a set of DRIFTLINE_* values; global-setup.ts puts them into process.env (which
 * the test workers inherit), hands them to `inject('driftlineServices')`, and writes them to
 * .run/test-services.json for processes started another way (tests/support/env.ts reads it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defineSettings, setting } from '../../core/config.js';
import { DriftlineError } from '../../core/errors.js';
import { repoPath } from '../../core/paths.js';

export const testServiceSettings = defineSettings('tests', {
  services: setting({
    env: 'DRIFTLINE_TEST_SERVICES',
    kind: 'string',
    default: 'local',
    choices: ['local', 'testcontainers'],
    description: 'Integration-test services: local = scripts/services.sh on 127.0.0.1 (CI); testcontainers = Kafka/Redis/ClickHouse containers (needs Docker).',
  }),
});

export type TestServicesMode = 'local' | 'testcontainers';

/** DRIFTLINE_* variables that locate the services (a subset of the settings catalog). */
export type ServicesEnv = Record<string, string>;

export interface StartedTestServices {
  mode: TestServicesMode;
  env: ServicesEnv;
  stop(): Promise<void>;
}

/** Images for the testcontainers path: Confluent's cp-kafka 7.9 is Apache Kafka 3.9 (what services.sh runs). */
export const TEST_IMAGES = {
  kafka: 'confluentinc/cp-kafka:7.9.1',
  redis: 'redis:7-alpine',
  clickhouse: 'clickhouse/clickhouse-server:25.3',
} as const;

const CLICKHOUSE_DATABASE = 'driftline';

export function testServicesMode(env: NodeJS.ProcessEnv = process.env): TestServicesMode {
  return testServiceSettings.load(env).services;
}

/** The addresses scripts/services.sh serves (same port variables the script reads). */
export function localServicesEnv(env: NodeJS.ProcessEnv = process.env): ServicesEnv {
  const kafkaPort = env.DRIFTLINE_KAFKA_PORT ?? '9092';
  return {
    DRIFTLINE_KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
    DRIFTLINE_REDIS_URL: 'redis://127.0.0.1:6379/0',
  };
}

export interface ContainerAddresses {
  kafkaBootstrap: string;
  redisUrl: string;
  clickhouse: { url: string; user: string; password: string; database: string };
}

/** What started containers mean for the code under test. */
export function containerServicesEnv(addresses: ContainerAddresses): ServicesEnv {
  return {
    DRIFTLINE_KAFKA_BROKERS: addresses.kafkaBootstrap,
    DRIFTLINE_REDIS_URL: addresses.redisUrl.endsWith('/0') ? addresses.redisUrl : `${addresses.redisUrl}/0`,
    DRIFTLINE_CLICKHOUSE_URL: addresses.clickhouse.url,
    DRIFTLINE_CLICKHOUSE_USER: addresses.clickhouse.user,
    DRIFTLINE_CLICKHOUSE_PASSWORD: addresses.clickhouse.password,
    DRIFTLINE_CLICKHOUSE_DATABASE: addresses.clickhouse.database,
  };
}

export async function startTestServices(env: NodeJS.ProcessEnv = process.env): Promise<StartedTestServices> {
  const mode = testServicesMode(env);
  return mode === 'testcontainers' ? startContainers() : startLocal(env);
}

function startLocal(env: NodeJS.ProcessEnv): StartedTestServices {
  execFileSync('bash', [repoPath('scripts', 'services.sh'), 'up'], { stdio: 'inherit', env });
  // Local services are shared with other runs and helpers: left running on purpose.
  return { mode: 'local', env: localServicesEnv(env), stop: async () => undefined };
}

async function startContainers(): Promise<StartedTestServices> {
  // Loaded only on this path: the modules pull in dockerode and friends.
  const [{ KafkaContainer }, { RedisContainer }, { ClickHouseContainer }] = await Promise.all([
    import('@testcontainers/kafka'),
    import('@testcontainers/redis'),
    import('@testcontainers/clickhouse'),
  ]);
  const starts = [
    new KafkaContainer(TEST_IMAGES.kafka)
      .withKraft()
      .withEnvironment({
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_NUM_PARTITIONS: '3',
      })
      .start(),
    new RedisContainer(TEST_IMAGES.redis).start(),
    new ClickHouseContainer(TEST_IMAGES.clickhouse).withDatabase(CLICKHOUSE_DATABASE).withUsername('driftline').withPassword('driftline-test').start(),
  ] as const;
  const settled = await Promise.allSettled(starts);
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : Promise.resolve())));
  };
  const [kafka, redis, clickhouse] = settled;
  if (kafka.status === 'rejected' || redis.status === 'rejected' || clickhouse.status === 'rejected') {
    await stopAll();
    const reasons = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String((s.reason as Error)?.message ?? s.reason));
    throw new DriftlineError('CONFIG_INVALID', `DRIFTLINE_TEST_SERVICES=testcontainers: could not start containers (is a Docker engine running?): ${reasons.join('; ')}`, {
      field: 'DRIFTLINE_TEST_SERVICES',
    });
  }
  const addresses: ContainerAddresses = {
    // 9093 is the plaintext listener KafkaContainer advertises to the host.
    kafkaBootstrap: `${kafka.value.getHost()}:${kafka.value.getMappedPort(9093)}`,
    redisUrl: redis.value.getConnectionUrl(),
    clickhouse: {
      url: clickhouse.value.getHttpUrl(),
      user: clickhouse.value.getUsername(),
      password: clickhouse.value.getPassword(),
      database: clickhouse.value.getDatabase(),
    },
  };
  return { mode: 'testcontainers', env: containerServicesEnv(addresses), stop: stopAll };
}

/** The hand-off file for processes that did not inherit the global setup's environment. */
export function servicesFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DRIFTLINE_RUN_DIR ?? repoPath('.run'), 'test-services.json');
}

export interface ServicesFile {
  mode: TestServicesMode;
  /** PID of the process that started the services; the file is stale once it has exited. */
  writtenBy: number;
  env: ServicesEnv;
}

export function writeServicesFile(started: StartedTestServices, file = servicesFile()): void {
  mkdirSync(dirname(file), { recursive: true });
  const content: ServicesFile = { mode: started.mode, writtenBy: process.pid, env: started.env };
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
}

/** Removes the file if this process wrote it (a concurrent run may have replaced it with its own). */
export function removeServicesFile(file = servicesFile()): void {
  if (!existsSync(file)) return;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as ServicesFile;
  if (parsed.writtenBy === process.pid) rmSync(file, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The services file's variables if it was written by a still-running test run, else {}. */
export function readServicesFile(file = servicesFile()): ServicesEnv {
  if (!existsSync(file)) return {};
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as ServicesFile;
  return processAlive(parsed.writtenBy) ? parsed.env : {};
}

/**
 * Puts the services' variables into `target`. Container addresses always win (they are the point of that
 * mode); local addresses only fill in what the user did not set (e.g. a DRIFTLINE_CLICKHOUSE_URL server).
 */
export function applyServicesEnv(started: Pick<StartedTestServices, 'mode' | 'env'>, target: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(started.env)) {
    if (started.mode === 'testcontainers' || target[key] === undefined || target[key] === '') target[key] = value;
  }
}
