/**
 * /health is liveness: it fails only when the process cannot serve and will not recover by itself (no
 * model loaded and the last load gave up), so an orchestrator restarts it; a load that fails once is tried
 * again with back-off, and a refused version shows in /metrics. Real registry, real shipped model, one of its weight files damaged on disk.
 */
import { copyFile, mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ApiApp } from '../../api/app.js';
import { apiSettings } from '../../api/config.js';
import { createJobRunner } from '../../api/jobs.js';
import { trainerExecutor } from '../../trainer/index.js';
import { coreSettings } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { createModelService, type ManagedModelService } from '../../core/model/service.js';
import { repoPath } from '../../core/paths.js';

const MODEL_NAME = 'reviews';
const SHIPPED_MODEL_DIR = repoPath('models', 'default');

interface TestApi {
  api: ApiApp;
  registry: ModelRegistry;
  modelService: ManagedModelService;
  close(): Promise<void>;
}

/** The API around a temp registry and a ModelService that loads nothing until asked (like tests/api/helpers.ts). */
async function buildTestApi(): Promise<TestApi> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-health-test-'));
  const logger = createLogger('api-test', 'silent');
  const settings = apiSettings.load({}, { modelName: MODEL_NAME, followPromotions: false });
  const core = coreSettings.load({}, { registryDir: join(dir, 'registry'), clickhousePath: join(dir, 'chdb') });
  const registry = openRegistry(core.registryDir);
  const modelService = createModelService({ registry, modelName: MODEL_NAME, logger, reconcileIntervalMs: 0, disposeGraceMs: 0 });
  const jobs = createJobRunner({ execute: trainerExecutor({ registry, modelName: MODEL_NAME, logger }), kept: 1, logger });
  const api = await buildApp({ settings, core, modelService, registry, jobs, logger });
  return {
    api,
    registry,
    modelService,
    async close() {
      await api.app.close();
      await jobs.close(1_000);
      await modelService.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('/health when the model cannot be loaded', () => {
  let test: TestApi;
  const saved = { retries: process.env.DRIFTLINE_MODEL_LOAD_RETRIES, maxMs: process.env.DRIFTLINE_MODEL_LOAD_RETRY_MAX_MS };

  beforeAll(async () => {
    // Two tries, a few ms apart: the same policy as the defaults, only shorter.
    process.env.DRIFTLINE_MODEL_LOAD_RETRIES = '1';
    process.env.DRIFTLINE_MODEL_LOAD_RETRY_MAX_MS = '20';
    test = await buildTestApi();
    await test.registry.seedFromDirectory(MODEL_NAME, SHIPPED_MODEL_DIR, { actor: 'test' });
  });
  afterAll(async () => {
    for (const [name, value] of [
      ['DRIFTLINE_MODEL_LOAD_RETRIES', saved.retries],
      ['DRIFTLINE_MODEL_LOAD_RETRY_MAX_MS', saved.maxMs],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await test?.close();
  });

  const get = (url: string) => test.api.app.inject({ method: 'GET', url });

  it('is alive while nothing was tried yet (the model may still come)', async () => {
    expect((await get('/health')).statusCode).toBe(200);
  });

  it('fails when no model is loaded and loading gave up, and is alive again once a load succeeds', async () => {
    const weights = join(test.registry.versionDir(MODEL_NAME, 1), 'wide', 'weights.bin');
    await truncate(weights, 10);
    await expect(test.modelService.loadProduction()).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    expect(test.modelService.stats().loadRetries).toBe(1);

    const health = await get('/health');
    expect(health.statusCode).toBe(500);
    expect(health.json()).toMatchObject({ code: 'MODEL_LOAD_FAILED', restart: true });
    expect((await get('/ready')).statusCode).toBe(503);
    expect((await get('/metrics')).body).toMatch(/^driftline_api_model_refused_version\{[^}]*model="reviews"[^}]*\} 1$/m);

    await copyFile(join(SHIPPED_MODEL_DIR, 'wide', 'weights.bin'), weights); // the blip is over
    expect((await test.modelService.loadProduction()).version).toBe(1);
    expect((await get('/health')).json()).toEqual({ status: 'ok' });
    expect((await get('/ready')).statusCode).toBe(200);
    expect((await get('/metrics')).body).toMatch(/^driftline_api_model_refused_version\{[^}]*model="reviews"[^}]*\} 0$/m);
  });
});
