/**
 * Which registry version the scorer shadow-scores (shadowCandidate), and ShadowModels following the
 * registry: a real registry directory and model service, with an in-test runtime loader (unit scope:
 * versions whose model.bin says "corrupt" fail to load; tests/scorer/shadow.int.test.ts uses the real model).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { createModelService } from '../../core/model/service.js';
import { createScorerMetrics, type ScorerMetrics } from '../../scorer/metrics.js';
import { shadowCandidate, ShadowModels } from '../../scorer/shadow.js';
import { TestRuntime } from './unit-helpers.js';
import { fakeRegisterInput } from '../core/model/registry-fixtures.js';

describe('shadowCandidate', () => {
  it('is the newest staging version newer than production', () => {
    expect(shadowCandidate([{ version: 1, stage: 'archived' }, { version: 2, stage: 'production' }, { version: 3, stage: 'staging' }, { version: 4, stage: 'staging' }])).toBe(4);
  });

  it('ignores staging versions older than production, and archived ones', () => {
    expect(shadowCandidate([{ version: 1, stage: 'staging' }, { version: 2, stage: 'production' }, { version: 3, stage: 'archived' }])).toBeNull();
  });

  it('is none when nothing is staged or the registry is empty', () => {
    expect(shadowCandidate([{ version: 1, stage: 'production' }])).toBeNull();
    expect(shadowCandidate([])).toBeNull();
  });
});

describe('ShadowModels', () => {
  let dir: string;
  let registry: ModelRegistry;
  let metrics: ScorerMetrics;
  let shadow: ShadowModels;
  const loaded: number[] = [];
  const warmed: number[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-shadow-models-'));
    registry = openRegistry(dir, { verifyArtifacts: async () => undefined });
    metrics = createScorerMetrics(new Registry());
    loaded.length = 0;
    warmed.length = 0;
    await registry.register(fakeRegisterInput('m', 0.8, 'weights'));
    await registry.promote('m', 1, { actor: 'test' });
    shadow = new ShadowModels({
      registry,
      modelName: 'm',
      createService: () =>
        createModelService({
          registry,
          modelName: 'm',
          loadRuntime: async (versionDir, meta) => {
            if ((await readFile(join(versionDir, 'model.bin'), 'utf8')) === 'corrupt') throw new DriftlineError('MODEL_LOAD_FAILED', 'corrupt weights');
            loaded.push(meta.version);
            return new TestRuntime(meta.name, meta.version);
          },
          logger: createLogger('test-shadow', 'silent'),
          reconcileIntervalMs: 0,
          disposeGraceMs: 0,
          loadRetry: { retries: 0, initialDelayMs: 1, maxDelayMs: 1 },
        }),
      metrics,
      log: createLogger('test-shadow', 'silent'),
      warm: async (runtime) => warmed.push(runtime.version),
    });
  });
  afterEach(async () => {
    await shadow.close();
    await rm(dir, { recursive: true, force: true });
  });

  const gauge = async (): Promise<number | undefined> => (await metrics.shadowModelVersion.get()).values[0]?.value;
  const loadFailures = async (): Promise<number> => (await metrics.shadowFailures.get()).values.find((v) => v.labels['stage'] === 'load')?.value ?? 0;

  it('loads nothing while nothing is staged, then the newest candidate, warmed; drops it once it is promoted', async () => {
    await shadow.refresh('start');
    expect(shadow.current()).toBeUndefined();
    expect(loaded).toEqual([]);

    await registry.register(fakeRegisterInput('m', 0.8, 'weights'));
    await registry.register(fakeRegisterInput('m', 0.8, 'weights'));
    await shadow.refresh('register');
    expect(shadow.current()?.version).toBe(3);
    expect(loaded).toEqual([3]);
    expect(warmed).toEqual([3]);
    expect(await gauge()).toBe(3);

    await shadow.refresh('unrelated event'); // same candidate: nothing reloaded
    expect(loaded).toEqual([3]);

    await registry.promote('m', 3, { actor: 'test' });
    await shadow.refresh('promote');
    expect(shadow.current()).toBeUndefined(); // v2 is older than production now: not a candidate
    expect(await gauge()).toBe(0);
  });

  it('counts a candidate that fails to load, serves no shadow meanwhile, and loads the next one', async () => {
    await registry.register(fakeRegisterInput('m', 0.8, 'weights'));
    await shadow.refresh('register');
    expect(shadow.current()?.version).toBe(2);
    await registry.register(fakeRegisterInput('m', 0.8, 'corrupt'));
    await shadow.refresh('register');
    expect(shadow.current()).toBeUndefined(); // never the older candidate in its place
    expect(await loadFailures()).toBe(1);
    await registry.register(fakeRegisterInput('m', 0.8, 'weights'));
    await shadow.refresh('register');
    expect(shadow.current()?.version).toBe(4);
  });
});
