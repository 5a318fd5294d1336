/**
 * Model registry, training jobs and evaluation.
 *
 * GET /v1/models[/{name}] is public read. Everything else needs `Authorization: Bearer
 * <DRIFTLINE_API_ADMIN_TOKEN>`: without a configured token these routes do not exist for clients
 * (404 ADMIN_DISABLED), a missing or wrong token is 401 UNAUTHORIZED. The check runs onRequest,
 * before the body is read, so unauthenticated callers cannot make the process parse large bodies.
 *
 * Stage changes go through the injected registry, which publishes each change as a promotion event
 * (core/model/promotions.ts publishingRegistry): every scorer and API process then hot-swaps.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { DriftlineError } from '../../core/errors.js';
import { parentOf, type ModelRegistry, type ModelVersionRecord, type StageChangeResult } from '../../core/model/registry/index.js';
import { promoteWithShadowGate, shadowGateSettings, type ShadowWindowReader } from '../../core/model/shadow-gate.js';
import type { ModelService } from '../../core/model/types.js';
import { userPath } from '../../core/paths.js';
import type { JobRunner } from '../jobs.js';
import {
  evaluateRouteSchema,
  getJobRouteSchema,
  getModelRouteSchema,
  listJobsRouteSchema,
  listModelsRouteSchema,
  promoteRouteSchema,
  rollbackRouteSchema,
  trainRouteSchema,
} from '../schemas/admin.js';
import { checkWarmStartRequest, evaluateReviews, evaluateRows, loadLabeledJsonl, resolveBaseModel, type BaseVersion, type LabeledReview, type RunStore } from '../../trainer/index.js';
import { withDataLocation } from '../../core/data-location.js';
import type { VersionRef } from '../../core/model/version-ref.js';
import type { LabeledReviewRecord } from '../../core/review.js';

export interface AdminPluginOptions {
  registry: ModelRegistry;
  modelService: ModelService;
  jobs: JobRunner;
  /** Empty: admin routes are disabled. */
  adminToken: string;
  /** The model this process serves (default for evaluation). */
  modelName: string;
  maxRows: number;
  /** Directories datasets named by location may be read from (core/data-location.ts). */
  dataRoots: string[];
  /** True when the registry publishes each stage change (core/model/promotions.ts publishingRegistry). */
  publishesPromotions: boolean;
  /** Evaluations are recorded there as runs. */
  runs: RunStore;
  /** Where a promotion with gate "shadow" reads the windows (absent: no ClickHouse, such a promotion answers 503). */
  shadowWindows?: ShadowWindowReader;
}

interface PromoteBody {
  version: number;
  force?: boolean;
  reason?: string;
  gate?: 'shadow';
  gate_windows?: number;
  gate_min_reviews?: number;
  gate_margin?: number;
}

interface TrainBody {
  dataset_path?: string;
  reviews?: Array<Record<string, unknown>>;
  base_version?: BaseVersion;
  base_model?: string;
  rebuild_vocabulary?: boolean;
  params?: Record<string, unknown>;
  promote?: boolean;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Constant-time comparison (of digests, so the token's length does not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

async function checkReadable(path: string): Promise<void> {
  try {
    await access(userPath(path), fsConstants.R_OK);
  } catch {
    const reason = 'is not a file this API process can read';
    throw new DriftlineError('REQUEST_INVALID', `dataset_path ${JSON.stringify(path)} ${reason}`, {
      field: 'dataset_path',
      details: { errors: [{ field: 'dataset_path', reason, code: 'REQUEST_INVALID' }] },
    });
  }
}

/**
 * The labelled rows of a dataset location. A bad line is the caller's (REQUEST_INVALID naming the location and
 * line, never the server path); more rows than an inline request may hold is BATCH_TOO_LARGE, as inline.
 */
async function locatedDataset(location: string, roots: string[], maxRows: number): Promise<{ location: string; rows: LabeledReview[]; fingerprint: string }> {
  const loaded = await withDataLocation(location, roots, 'dataset_location', async (path) => {
    try {
      return await loadLabeledJsonl([path]);
    } catch (err) {
      const message = err instanceof Error ? err.message.split(path).join(location) : String(err);
      throw new DriftlineError('REQUEST_INVALID', `dataset_location: ${message}`, { field: 'dataset_location', cause: err });
    }
  });
  if (loaded.rows.length > maxRows) {
    throw new DriftlineError('BATCH_TOO_LARGE', `dataset_location ${JSON.stringify(location)} holds ${loaded.rows.length} reviews; the limit is ${maxRows} (DRIFTLINE_API_MAX_COMPARE_ROWS)`, {
      field: 'dataset_location',
      details: { limit: maxRows, received: loaded.rows.length },
    });
  }
  return { location, rows: loaded.rows, fingerprint: loaded.fingerprint };
}

function actorOf(request: FastifyRequest): string {
  return `api:${request.ip}`;
}

/**
 * An actor as the public model routes show it: which kind of caller changed a stage, never the
 * caller's address or login. `api:<client ip>` is 'api', `<user>@<host>` (CLI, trainer) is 'cli',
 * a plain word (demo, seed, trainer) stays, anything else is 'other'. The registry keeps the full actor.
 */
export function publicActor(actor: string): string {
  if (actor.startsWith('api:')) return 'api';
  if (actor.includes('@')) return 'cli';
  return /^[a-z][a-z0-9-]{0,31}$/.test(actor) ? actor : 'other';
}

function versionView(record: ModelVersionRecord): Record<string, unknown> {
  return {
    version: record.version,
    stage: record.stage,
    created_at: record.created_at,
    metrics: record.metrics,
    params: record.params,
    data_fingerprint: record.data_fingerprint,
    previous_production: record.previous_production,
    ...parentOf(record),
    stage_history: record.stage_history.map((entry) => ({ ...entry, actor: publicActor(entry.actor) })),
  };
}

function stageChangeView(result: StageChangeResult, published: boolean): Record<string, unknown> {
  return { name: result.record.name, version: result.record.version, stage: result.record.stage, change: result.change, event_published: published };
}

export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app, options) => {
  const { registry, modelService, jobs } = options;

  async function modelSummary(name: string): Promise<Record<string, unknown>> {
    const versions = await registry.list(name);
    if (versions.length === 0) throw new DriftlineError('MODEL_NOT_FOUND', `No model named ${JSON.stringify(name)} in the registry`, { field: 'name' });
    const serving = name === modelService.modelName && modelService.isReady() ? modelService.current().version : null;
    return { name, production_version: await registry.productionVersion(name), serving_version: serving, versions: versions.map(versionView) };
  }

  // --- public read ---
  app.get('/v1/models', { schema: listModelsRouteSchema }, async () => {
    const names = await registry.names();
    return { models: await Promise.all(names.map(modelSummary)) };
  });
  app.get('/v1/models/:name', { schema: getModelRouteSchema }, async (request) => modelSummary((request.params as { name: string }).name));

  // --- admin (own encapsulated scope: the auth hook applies to these routes only) ---
  await app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => {
      if (options.adminToken === '') {
        throw new DriftlineError('ADMIN_DISABLED', 'Admin routes are disabled: no DRIFTLINE_API_ADMIN_TOKEN is configured.');
      }
      const token = bearerToken(request);
      if (token === undefined || !tokenMatches(token, options.adminToken)) {
        throw new DriftlineError('UNAUTHORIZED', token === undefined ? 'This route needs "Authorization: Bearer <admin token>".' : 'The bearer token is not valid.');
      }
    });

    admin.post('/v1/models/:name/promote', { schema: promoteRouteSchema }, async (request) => {
      const { name } = request.params as { name: string };
      const body = request.body as PromoteBody;
      const stage = { actor: actorOf(request), force: body.force === true, ...(body.reason ? { reason: body.reason } : {}) };
      let result: StageChangeResult;
      if (body.gate === 'shadow') {
        if (!options.shadowWindows) throw new DriftlineError('CLICKHOUSE_UNAVAILABLE', 'gate "shadow" reads window_summary, and this API has no ClickHouse client');
        const defaults = shadowGateSettings.load();
        const gate = { windows: body.gate_windows ?? defaults.windows, minReviews: body.gate_min_reviews ?? defaults.minReviews, margin: body.gate_margin ?? defaults.margin };
        result = (await promoteWithShadowGate(registry, options.shadowWindows, name, body.version, stage, gate)).result;
      } else result = await registry.promote(name, body.version, stage);
      request.log.info({ name, version: body.version, force: body.force === true, gate: body.gate ?? null }, 'model promoted');
      return stageChangeView(result, options.publishesPromotions);
    });

    admin.post('/v1/models/:name/rollback', { schema: rollbackRouteSchema }, async (request) => {
      const { name } = request.params as { name: string };
      const reason = (request.body as { reason?: string } | null | undefined)?.reason;
      const result = await registry.rollback(name, { actor: actorOf(request), ...(reason ? { reason } : {}) });
      request.log.info({ name, version: result.record.version }, 'model rolled back');
      return stageChangeView(result, options.publishesPromotions);
    });

    admin.post('/v1/train', { schema: trainRouteSchema(options.maxRows) }, async (request, reply) => {
      const body = request.body as TrainBody;
      // Refused now rather than as a failed job a moment later (the job resolves the base again when it starts).
      if (body.dataset_path !== undefined) await checkReadable(body.dataset_path);
      const base = await resolveBaseModel(registry, options.modelName, { ...(body.base_version === undefined ? {} : { version: body.base_version }), ...(body.base_model === undefined ? {} : { model: body.base_model }) });
      await checkWarmStartRequest(registry, base, body.params ?? {});
      const job = jobs.submit({
        promote: body.promote === true,
        ...(body.dataset_path === undefined ? {} : { datasetPath: body.dataset_path }),
        ...(body.reviews === undefined ? {} : { reviews: body.reviews }),
        ...(body.base_version === undefined ? {} : { baseVersion: body.base_version }),
        ...(body.base_model === undefined ? {} : { baseModel: body.base_model }),
        ...(body.rebuild_vocabulary === true ? { rebuildVocabulary: true } : {}),
        ...(body.params === undefined ? {} : { params: body.params }),
        actor: actorOf(request),
      });
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
    });

    admin.get('/v1/jobs', { schema: listJobsRouteSchema }, async () => ({ jobs: jobs.list() }));
    admin.get('/v1/jobs/:id', { schema: getJobRouteSchema }, async (request) => jobs.get((request.params as { id: string }).id));

    admin.post('/v1/evaluate', { schema: evaluateRouteSchema(options.maxRows) }, async (request) => {
      const body = request.body as { reviews?: LabeledReviewRecord[]; dataset_location?: string; name?: string; version?: VersionRef };
      const runs = { store: options.runs, warn: (message: string) => request.log.warn(message) };
      const target = { registry, modelService, name: body.name ?? options.modelName, version: body.version, runs };
      if (body.reviews) return evaluateReviews(body.reviews, target);
      const dataset = await locatedDataset(body.dataset_location ?? '', options.dataRoots, options.maxRows);
      return { ...(await evaluateRows(dataset.rows, target)), dataset: { location: dataset.location, rows: dataset.rows.length, fingerprint: dataset.fingerprint } };
    });
  });
};
