/** Builds the API around real parts (registry in a temp dir, the shipped model, ModelService) for tests. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { ReferenceBaseline } from '../../schemas/baseline.js';
import { join } from 'node:path';
import { buildApp, type ApiApp, type FollowerStatus } from '../../api/app.js';
import { apiSettings, type ApiSettings } from '../../api/config.js';
import { createJobRunner, type JobRunner } from '../../api/jobs.js';
import { trainerExecutor } from '../../trainer/index.js';
import type { ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { createModelService, type ManagedModelService } from '../../core/model/service.js';
import { repoPath, AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines } from '../../core/paths.js';

export const MODEL_NAME = 'reviews';
export const SHIPPED_MODEL_DIR = repoPath('models', 'default');
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApiOptions {
  settings?: Partial<ApiSettings>;
  core?: Partial<CoreSettings>;
  /** Seed the registry with the shipped model and load it (default true). */
  loadModel?: boolean;
  follower?: FollowerStatus;
  clickhouse?: ClickHouseClient;
  registry?: ModelRegistry;
  /** Directories datasets named by location may be read from (default: DRIFTLINE_DATA_ROOTS's default, data/). */
  dataRoots?: string[];
  /** Default: silent. */
  logger?: Logger;
}

export interface TestApi {
  api: ApiApp;
  registry: ModelRegistry;
  modelService: ManagedModelService;
  jobs: JobRunner;
  dir: string;
  close(): Promise<void>;
}

export async function buildTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'driftline-api-test-'));
  const logger = options.logger ?? createLogger('api-test', 'silent');
  const settings = apiSettings.load({}, { modelName: MODEL_NAME, followPromotions: false, adminToken: ADMIN_TOKEN, ...options.settings });
  const core = coreSettings.load({}, { registryDir: join(dir, 'registry'), clickhousePath: join(dir, 'chdb'), ...options.core });
  const registry = options.registry ?? openRegistry(core.registryDir);
  const modelService = createModelService({ registry, modelName: MODEL_NAME, logger, reconcileIntervalMs: 0, disposeGraceMs: 200 });
  if (options.loadModel ?? true) {
    await registry.seedFromDirectory(MODEL_NAME, SHIPPED_MODEL_DIR, { actor: 'test' });
    await modelService.loadProduction();
  }
  const jobs = createJobRunner({ execute: trainerExecutor({ registry, modelName: MODEL_NAME, logger }), kept: 10, logger });
  const api = await buildApp({
    settings,
    core,
    modelService,
    registry,
    jobs,
    logger,
    ...(options.follower ? { follower: options.follower } : {}),
    ...(options.clickhouse ? { clickhouse: options.clickhouse } : {}),
    ...(options.dataRoots ? { dataRoots: options.dataRoots } : {}),
  });
  return {
    api,
    registry,
    modelService,
    jobs,
    dir,
    async close() {
      await api.app.close();
      await jobs.close(5_000);
      await modelService.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers the shipped model's files again as a new (staging) version: another version with known weights. */
export async function registerShippedCopy(registry: ModelRegistry): Promise<number> {
  const registered = await registry.register({
    name: MODEL_NAME,
    writeArtifacts: (dir) => cp(SHIPPED_MODEL_DIR, dir, { recursive: true }),
    metrics: {},
    baseline: JSON.parse(readFileSync(join(SHIPPED_MODEL_DIR, 'baseline.json'), 'utf8')) as ReferenceBaseline,
    featurizer: null,
    dataFingerprint: 'copy of models/default',
    params: {},
    timings: {},
    parent: { model: MODEL_NAME, version: 1 },
  });
  return registered.version;
}

/** A few real reviews from the shipped data (data/reviews/), as predict items. */
export function sampleItems(count: number, offset = 0): Array<Record<string, unknown>> {
  return REVIEWS.slice(offset, offset + count).map((review) => ({
    id: review.review_id,
    text: review.text,
    title: review.title,
    category: review.category,
    rating: review.rating,
    product_id: review.product_id,
    helpful_votes: review.helpful_votes,
    verified: review.verified,
    ts: review.ts,
  }));
}

export interface SharedReview {
  review_id: string;
  product_id: string | null;
  category: string | null;
  rating: number;
  title: string | null;
  text: string;
  ts: string;
  helpful_votes: number | null;
  verified: boolean | null;
}

export const REVIEWS: SharedReview[] = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX).map((line) => JSON.parse(line) as SharedReview);
