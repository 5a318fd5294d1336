/**
 * Production wiring of the API process: registry (seeded with the shipped model when empty),
 * hot-swapping ModelService following the promotions topic, ClickHouse for drift queries,
 * the training job runner, the Fastify app, and an orderly shutdown.
 *
 * The server listens before the model is loaded: /health answers at once, /ready says 503 until the
 * production model is loaded and the promotion follower has joined its group. Kafka being down at
 * start-up is not fatal: the follower is retried in the background and /ready reports it.
 */
import { initTracing, shutdownTracing } from '../core/tracing.js';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Kafka } from 'kafkajs';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../core/config.js';
import { driftTableMigrations } from '../core/drift/tables.js';
import { toDriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import { followPromotions, kafkaPromotionPublisher, publishingRegistry, type PromotionFollower } from '../core/model/promotions.js';
import { openRegistry } from '../core/model/registry/index.js';
import { createModelService } from '../core/model/service.js';
import { repoPath, userPath } from '../core/paths.js';
import { buildApp } from './app.js';
import { apiSettings, type ApiSettings } from './config.js';
import { createJobRunner } from './jobs.js';
import { trainerExecutor } from '../trainer/index.js';
import type { RunningApi, StartApiOptions } from './types.js';

const FOLLOWER_RETRY_MS = 5_000;

function seedDirectory(settings: ApiSettings): string | undefined {
  if (settings.seedModelDir === '') return undefined;
  const dir = isAbsolute(settings.seedModelDir) ? settings.seedModelDir : repoPath(settings.seedModelDir);
  return existsSync(dir) ? dir : undefined;
}

async function openClickHouse(core: CoreSettings, log: Logger): Promise<ClickHouseClient | undefined> {
  try {
    const client = await createClickHouse(core);
    // Idempotent: the API can start before the aggregator has created the tables.
    for (const statement of driftTableMigrations(core.clickhouseDatabase)) await client.command({ query: statement });
    return client;
  } catch (err) {
    log.warn({ err: toDriftlineError(err).toJSON() }, 'ClickHouse unavailable: drift routes will answer 503');
    return undefined;
  }
}

export async function startApiServer(options: StartApiOptions = {}): Promise<RunningApi> {
  const settings = apiSettings.load(process.env, options.settings);
  const core = coreSettings.load(process.env, options.core);
  const log = options.logger ?? createLogger('api', core.logLevel);
  initTracing('api'); // off unless DRIFTLINE_OTEL_ENABLED; a no-op when tracing is already set up

  const baseRegistry = openRegistry(userPath(core.registryDir));
  const seed = seedDirectory(settings);
  if (seed) {
    const seeded = await baseRegistry.seedFromDirectory(settings.modelName, seed, { actor: 'api-seed' });
    if (seeded) log.info({ model: settings.modelName, version: seeded.version, from: seed }, 'empty registry seeded with the shipped model');
  }

  const kafka: Kafka | undefined = settings.followPromotions ? createKafka(core, 'api') : undefined;
  const publisher = kafka ? kafkaPromotionPublisher(kafka, core.topicPromotions) : undefined;
  const registry = publisher ? publishingRegistry(baseRegistry, publisher) : baseRegistry;
  const modelService = createModelService({ registry: baseRegistry, modelName: settings.modelName, logger: log.child({ part: 'model-service' }) });

  // Embedded chdb is opened only when asked: its path is usually the aggregator process's.
  const wantsClickHouse = options.clickhouse ?? (core.clickhouseUrl !== '' || settings.embeddedClickhouse);
  const clickhouse = options.clickhouseClient ?? (wantsClickHouse ? await openClickHouse(core, log) : undefined);
  const jobs = createJobRunner({
    execute: trainerExecutor({ registry, modelName: settings.modelName, logger: log, ...(publisher ? { publish: publisher } : {}) }),
    kept: settings.jobsKept,
    logger: log,
  });

  let follower: PromotionFollower | undefined;
  const api = await buildApp({
    settings,
    core,
    modelService,
    registry,
    publishesPromotions: publisher !== undefined,
    jobs,
    logger: log,
    ...(clickhouse ? { clickhouse } : {}),
    ...(kafka ? { follower: { isConnected: () => follower?.isConnected() ?? false } } : {}),
  });
  const address = await api.app.listen({ host: settings.host, port: settings.port });
  log.info({ address, model: settings.modelName }, 'API listening');

  let closing = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const startFollower = async (): Promise<void> => {
    if (!kafka || closing) return;
    try {
      const started = await followPromotions({
        kafka,
        topic: core.topicPromotions,
        modelName: settings.modelName,
        ...(settings.groupId ? { groupId: settings.groupId } : {}),
        logger: log.child({ part: 'promotions' }),
      });
      if (closing) return void (await started.stop());
      follower = started;
      modelService.attachPromotions(started);
      // An event may have been published between the production load and the follower's start.
      await modelService.reconcile().catch(() => undefined);
    } catch (err) {
      log.warn({ err: toDriftlineError(err).toJSON(), retryMs: FOLLOWER_RETRY_MS }, 'promotion follower could not start; retrying');
      retryTimer = setTimeout(() => void startFollower(), FOLLOWER_RETRY_MS);
    }
  };
  const modelLoaded = modelService.loadProduction().catch((err: unknown) => {
    // Not fatal: the first promotion event (or the periodic reconcile) loads a model later.
    log.error({ err: toDriftlineError(err).toJSON() }, 'no production model could be loaded at start-up');
  });
  const followerStarted = startFollower();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      clearTimeout(retryTimer);
      api.startDraining();
      // Stops accepting connections, lets requests in flight finish, closes idle keep-alive sockets.
      await withTimeout(api.app.close(), settings.shutdownGraceMs, () => log.warn('in-flight requests did not finish within the grace period'));
      await jobs.close(settings.shutdownGraceMs);
      await Promise.allSettled([modelLoaded, followerStarted]);
      await follower?.stop();
      await modelService.close();
      await publisher?.close();
      if (clickhouse && !options.clickhouseClient) await clickhouse.close().catch(() => undefined);
      await shutdownTracing();
      log.info('API stopped');
    })();
    return closed;
  };

  return { api, url: address, modelService, registry, jobs, follower: () => follower, close };
}

async function withTimeout(work: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  const outcome = await Promise.race([work.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') onTimeout();
}
