/**
 * Selection and hand-off logic of the integration services (tests/support/services.ts, env.ts). The
 * containers themselves need a Docker engine; without one, the testcontainers path must fail clearly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { DriftlineError } from '../../core/errors.js';
import { applyTestServicesEnv } from './env.js';
import {
  applyServicesEnv,
  containerServicesEnv,
  localServicesEnv,
  readServicesFile,
  removeServicesFile,
  servicesFile,
  startTestServices,
  testServicesMode,
  writeServicesFile,
  type ServicesFile,
  type StartedTestServices,
} from './services.js';

const CONTAINERS = containerServicesEnv({
  kafkaBootstrap: 'localhost:32771',
  redisUrl: 'redis://localhost:32772',
  clickhouse: { url: 'http://localhost:32773', user: 'driftline', password: 'secret', database: 'driftline' },
});

function dockerEngineReachable(): boolean {
  return !!process.env.DOCKER_HOST || existsSync('/var/run/docker.sock') || existsSync(join(process.env.HOME ?? '/', '.docker', 'run', 'docker.sock'));
}

describe('DRIFTLINE_TEST_SERVICES', () => {
  it('defaults to local and accepts testcontainers', () => {
    expect(testServicesMode({})).toBe('local');
    expect(testServicesMode({ DRIFTLINE_TEST_SERVICES: '' })).toBe('local');
    expect(testServicesMode({ DRIFTLINE_TEST_SERVICES: 'testcontainers' })).toBe('testcontainers');
  });

  it('rejects anything else, naming the variable', () => {
    expect(() => testServicesMode({ DRIFTLINE_TEST_SERVICES: 'docker' })).toThrow(DriftlineError);
    expect(() => testServicesMode({ DRIFTLINE_TEST_SERVICES: 'docker' })).toThrow(/DRIFTLINE_TEST_SERVICES/);
  });
});

describe('service addresses', () => {
  it('local: the 127.0.0.1 ports scripts/services.sh uses', () => {
    expect(localServicesEnv({})).toEqual({ DRIFTLINE_KAFKA_BROKERS: '127.0.0.1:9092', DRIFTLINE_REDIS_URL: 'redis://127.0.0.1:6379/0' });
    expect(localServicesEnv({ DRIFTLINE_KAFKA_PORT: '19092' }).DRIFTLINE_KAFKA_BROKERS).toBe('127.0.0.1:19092');
  });

  it('containers: mapped addresses become settings the core code parses', () => {
    const settings = coreSettings.load(CONTAINERS);
    expect(settings.kafkaBrokers).toEqual(['localhost:32771']);
    expect(settings.redisUrl).toBe('redis://localhost:32772/0');
    expect(settings).toMatchObject({ clickhouseUrl: 'http://localhost:32773', clickhouseUser: 'driftline', clickhousePassword: 'secret', clickhouseDatabase: 'driftline' });
  });

  it('local addresses fill gaps only; container addresses replace what is set', () => {
    const target: NodeJS.ProcessEnv = { DRIFTLINE_KAFKA_BROKERS: 'broker.example:9092' };
    applyServicesEnv({ mode: 'local', env: localServicesEnv({}) }, target);
    expect(target).toEqual({ DRIFTLINE_KAFKA_BROKERS: 'broker.example:9092', DRIFTLINE_REDIS_URL: 'redis://127.0.0.1:6379/0' });
    applyServicesEnv({ mode: 'testcontainers', env: CONTAINERS }, target);
    expect(target).toEqual(CONTAINERS);
  });
});

describe('.run/test-services.json hand-off', () => {
  let runDir: string;
  let previousRunDir: string | undefined;

  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'driftline-services-'));
    previousRunDir = process.env.DRIFTLINE_RUN_DIR;
    process.env.DRIFTLINE_RUN_DIR = runDir;
  });

  afterEach(() => {
    if (previousRunDir === undefined) delete process.env.DRIFTLINE_RUN_DIR;
    else process.env.DRIFTLINE_RUN_DIR = previousRunDir;
    rmSync(runDir, { recursive: true, force: true });
  });

  const started: StartedTestServices = { mode: 'testcontainers', env: CONTAINERS, stop: async () => undefined };

  it('round-trips while the writing process lives, and env.ts fills only unset variables', () => {
    writeServicesFile(started);
    expect(servicesFile()).toBe(join(runDir, 'test-services.json'));
    expect(readServicesFile()).toEqual(CONTAINERS);
    const target: NodeJS.ProcessEnv = { DRIFTLINE_REDIS_URL: 'redis://mine:6379/0' };
    applyTestServicesEnv(target);
    expect(target).toEqual({ ...CONTAINERS, DRIFTLINE_REDIS_URL: 'redis://mine:6379/0' });
  });

  it('ignores a file whose writer has exited (its containers are gone)', () => {
    const exited = spawnSync(process.execPath, ['-e', '0']).pid;
    writeRaw({ mode: 'testcontainers', writtenBy: exited, env: CONTAINERS });
    expect(readServicesFile()).toEqual({});
  });

  it('teardown removes only the file this process wrote', () => {
    writeRaw({ mode: 'local', writtenBy: process.ppid, env: {} });
    removeServicesFile();
    expect(existsSync(servicesFile())).toBe(true);
    writeServicesFile(started);
    removeServicesFile();
    expect(existsSync(servicesFile())).toBe(false);
  });
});

function writeRaw(content: ServicesFile): void {
  writeFileSync(servicesFile(), JSON.stringify(content));
}

describe('testcontainers mode', () => {
  it.skipIf(dockerEngineReachable())('fails with a clear, typed error when no Docker engine is reachable', async () => {
    const failure = startTestServices({ ...process.env, DRIFTLINE_TEST_SERVICES: 'testcontainers' });
    await expect(failure).rejects.toThrow(DriftlineError);
    await expect(failure).rejects.toThrow(/DRIFTLINE_TEST_SERVICES=testcontainers: could not start containers \(is a Docker engine running\?\)/);
  });
});
