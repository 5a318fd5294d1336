/**
 * Builds the Fastify instance from injected dependencies, so tests build the same app around a real
 * ModelService and a temporary registry, and api/server.ts around the production wiring.
 *
 * Cross-cutting concerns live here, once: request ids, one error handler (every error is
 * `{ code, message, ... }` with the code's status), JSON-schema compilation (ajv, all errors),
 * security headers, metrics, the OpenAPI document. Each route family is an encapsulated plugin.
 */
import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifySchemaCompiler } from 'fastify';
import type { ClickHouseClient } from '../core/clickhouse.js';
import { clickhouseShadowWindows } from '../core/model/shadow-gate.js';
import type { CoreSettings } from '../core/config.js';
import { dataRoots } from '../core/data-location.js';
import { DriftlineError } from '../core/errors.js';
import { decodeUtf8Escaping } from '../core/utf8.js';
import type { Logger } from '../core/logger.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import type { ModelService } from '../core/model/types.js';
import type { ApiSettings } from './config.js';
import { sendError } from './http-errors.js';
import type { JobRunner } from './jobs.js';
import { createApiMetrics, type ApiMetrics } from './metrics.js';
import { adminPlugin } from './plugins/admin.js';
import { driftPlugin } from './plugins/drift.js';
import { healthPlugin, type FollowerStatus } from './plugins/health.js';

export type { FollowerStatus };
import { predictPlugin } from './plugins/predict.js';
import { runsPlugin } from './plugins/runs.js';
import { openRunStore, runsDirFor, type RunStore } from '../trainer/index.js';
import { registerRateLimits } from './rate-limits.js';


export interface ApiDependencies {
  settings: ApiSettings;
  core: CoreSettings;
  modelService: ModelService;
  /** Stage changes made through it must be published (core/model/promotions.ts publishingRegistry). */
  registry: ModelRegistry;
  /** True when `registry` publishes stage changes (then promote/rollback answers say event_published). */
  publishesPromotions?: boolean;
  /** Absent when promotions are not followed (DRIFTLINE_API_FOLLOW_PROMOTIONS=false): /ready then ignores it. */
  follower?: FollowerStatus;
  /** Absent: drift queries answer 503 CLICKHOUSE_UNAVAILABLE. */
  clickhouse?: ClickHouseClient;
  jobs: JobRunner;
  /** Directories datasets named by location may be read from; default DRIFTLINE_DATA_ROOTS (core/data-location.ts). */
  dataRoots?: string[];
  /** Default: the run store next to the registry (DRIFTLINE_RUNS_DIR overrides). */
  runs?: RunStore;
  metrics?: ApiMetrics;
  logger?: Logger;
}

export interface ApiApp {
  app: FastifyInstance;
  metrics: ApiMetrics;
  /** From now on /ready and new requests answer 503 SHUTTING_DOWN (requests in flight finish). */
  startDraining(): void;
  isDraining(): boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * Two ajv instances: bodies are checked strictly (no type coercion: `"rating": "5"` is a type error),
 * query strings and path parameters are strings on the wire and are coerced. Both report all errors,
 * so one answer names every bad item and field (batch size and body size are capped before this).
 */
function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const common = { allErrors: true, useDefaults: true, allowUnionTypes: true, strict: false } as const;
  const bodyAjv = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const paramAjv = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  return ({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema as object);
}

export async function buildApp(deps: ApiDependencies): Promise<ApiApp> {
  const { settings } = deps;
  const metrics = deps.metrics ?? createApiMetrics();
  const roots = deps.dataRoots ?? dataRoots();
  let draining = false;

  const loggerInstance: FastifyBaseLogger | undefined = deps.logger;
  const app: FastifyInstance = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger: false }),
    bodyLimit: settings.bodyLimitBytes,
    requestTimeout: settings.requestTimeoutMs,
    // Our own SHUTTING_DOWN answer (in the common error format) replaces Fastify's plain 503.
    return503OnClosing: false,
    // Per-request log lines cost measurable latency at hundreds of requests/s; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.setValidatorCompiler(validatorCompiler());
  // Fastify's JSON parser on bodies decoded by core/utf8.ts: bytes that are not UTF-8 become lone surrogates,
  // which validation refuses as TEXT_ENCODING on the item and field that hold them, while U+FFFD stays valid.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    parseJson(request, decodeUtf8Escaping(body as Buffer), done);
  });
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new DriftlineError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)));

  // Callback-style hooks with shared functions and label objects: no promise, closure or labels object per request.
  const requestEnded = (): void => {
    metrics.inFlight.dec();
  };
  app.addHook('onRequest', (request, reply, done) => {
    metrics.inFlight.inc();
    // 'close' fires once, for answered and for aborted requests alike (onResponse misses the latter).
    reply.raw.on('close', requestEnded);
    reply.header('x-request-id', request.id);
    if (draining && request.url !== '/health') return done(new DriftlineError('SHUTTING_DOWN', 'The API is shutting down; retry on another instance.'));
    done();
  });
  const series = routeSeries();
  app.addHook('onResponse', (request, reply, done) => {
    const route = series.of(request.routeOptions.url ?? '(unmatched)', request.method);
    metrics.httpRequests.inc(route.withStatus(reply.statusCode));
    metrics.httpDuration.observe(route.labels, reply.elapsedTime / 1000);
    done();
  });

  await app.register(helmet, { global: true });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Driftline API',
        version: '0.1.0',
        description: 'Real-time review scoring (sentiment, category, outliers), model registry administration and drift metrics.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'DRIFTLINE_API_ADMIN_TOKEN' } } },
    },
  });

  const runs = deps.runs ?? openRunStore(runsDirFor(deps.registry.root));
  await registerRateLimits(app, settings);
  watchModel(deps.modelService, metrics);
  await app.register(healthPlugin, {
    modelService: deps.modelService,
    follower: deps.follower,
    metrics,
    isDraining: () => draining,
  });
  await app.register(predictPlugin, {
    modelService: deps.modelService,
    registry: deps.registry,
    modelCache: settings.modelCache,
    metrics,
    maxBatch: settings.maxBatch,
    maxTextBytes: deps.core.maxTextBytes,
  });
  await app.register(adminPlugin, {
    registry: deps.registry,
    modelService: deps.modelService,
    jobs: deps.jobs,
    adminToken: settings.adminToken,
    modelName: settings.modelName,
    maxRows: settings.maxCompareRows,
    dataRoots: roots,
    publishesPromotions: deps.publishesPromotions ?? false,
    runs,
    ...(deps.clickhouse ? { shadowWindows: clickhouseShadowWindows(deps.clickhouse, deps.core.clickhouseDatabase) } : {}),
  });
  await app.register(runsPlugin, { runs });
  await app.register(driftPlugin, {
    clickhouse: deps.clickhouse,
    database: deps.core.clickhouseDatabase,
    maxLimit: settings.driftMaxLimit,
    maxRows: settings.maxCompareRows,
    maxTextBytes: deps.core.maxTextBytes,
    compareQueue: settings.compareQueue,
    dataRoots: roots,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return {
    app,
    metrics,
    startDraining: () => {
      draining = true;
    },
    isDraining: () => draining,
  };
}

interface RouteLabels {
  labels: { route: string; method: string };
  withStatus(status: number): { route: string; method: string; status: string };
}

/**
 * The label objects of the HTTP metrics, made once per route pattern, method and status: few of each
 * (route patterns, not URLs; '(unmatched)' for every unknown path).
 */
function routeSeries(): { of(route: string, method: string): RouteLabels } {
  const byRoute = new Map<string, Map<string, RouteLabels>>();
  return {
    of(route, method) {
      let byMethod = byRoute.get(route);
      if (byMethod === undefined) byRoute.set(route, (byMethod = new Map()));
      let entry = byMethod.get(method);
      if (entry === undefined) {
        const labels = { route, method };
        const byStatus = new Map<number, { route: string; method: string; status: string }>();
        entry = {
          labels,
          withStatus(status) {
            let withStatus = byStatus.get(status);
            if (withStatus === undefined) byStatus.set(status, (withStatus = { route, method, status: String(status) }));
            return withStatus;
          },
        };
        byMethod.set(method, entry);
      }
      return entry;
    },
  };
}

/** Keeps the model-version gauge and the swap counter in step with the ModelService. */
function watchModel(modelService: ModelService, metrics: ApiMetrics): void {
  const name = modelService.modelName;
  metrics.modelVersion.set({ model: name }, modelService.isReady() ? modelService.current().version : 0);
  modelService.onSwap((next, previous) => {
    metrics.modelVersion.set({ model: name }, next.version);
    metrics.modelRefusedVersion.set({ model: name }, 0);
    if (previous !== undefined) metrics.modelSwaps.inc({ model: name });
  });
  modelService.onSwapFailed((_error, version) => metrics.modelRefusedVersion.set({ model: name }, version)); // logged by the service
}
