/**
 * Wires one scorer process: registry (seeded from the shipped model when empty) → model service with hot
 * reload from promotion events → transactional consumer → Prometheus metrics server.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { coreSettings } from '../core/config.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createMetricsRegistry, readinessCondition, serveMetrics, type ReadinessCheck } from '../core/metrics.js';
import { followPromotions, type PromotionFollower } from '../core/model/promotions.js';
import { openRegistry, type ModelRegistry } from '../core/model/registry/index.js';
import { createModelService, modelThreadsOr, type ManagedModelService } from '../core/model/service.js';
import { repoPath } from '../core/paths.js';
import { createRedis } from '../core/redis.js';
import { initTracing, shutdownTracing } from '../core/tracing.js';
import { instanceIdOf, scorerSettings, type ScorerSettings } from './config.js';
import { ScoredIds } from './dedupe.js';
import { createScorerMetrics, type ScorerMetrics } from './metrics.js';
import { createScorer } from './scorer.js';
import type { RunScorerOptions, Scorer, ScorerProcess } from './types.js';
import { ShadowModels } from './shadow.js';

/**
 * Worker threads scoring for the scorer when DRIFTLINE_MODEL_THREADS is unset: two where there are two cores,
 * so the partitions' batches, handed over while the next fetch runs, are scored side by side (docs/benchmarks.md:
 * +5 to +25 % at a backlog on two cores, with the broker on the same cores), one on a single core.
 */
const SCORER_MODEL_THREADS = Math.min(2, availableParallelism());

/** A staging candidate's shadow scoring is extra work beside production's: one thread unless set. */
const SHADOW_MODEL_THREADS = 1;

/** The scorer's model worker threads: DRIFTLINE_MODEL_THREADS when set, else its own default (above). */
export function scorerModelThreads(env: NodeJS.ProcessEnv = process.env): number {
  return modelThreadsOr(SCORER_MODEL_THREADS, env);
}

/** A shadow candidate is tried a few times only: it is not worth minutes of back-off, the next event tries again. */
const SHADOW_LOAD_RETRY = { retries: 2, initialDelayMs: 500, maxDelayMs: 5_000 };

/** Registers and promotes the shipped model when the registry has no production version of `name`. */
async function seedIfEmpty(registry: ModelRegistry, settings: ScorerSettings, log: Logger): Promise<void> {
  if (!settings.seedModelDir || (await registry.productionVersion(settings.modelName)) !== null) return;
  const dir = isAbsolute(settings.seedModelDir) ? settings.seedModelDir : repoPath(settings.seedModelDir);
  const seeded = await registry.seedFromDirectory(settings.modelName, dir, { actor: 'scorer-seed' });
  if (seeded) log.info({ model: settings.modelName, version: seeded.version, from: dir }, 'registry seeded with the shipped model');
}

function watchModel(models: ManagedModelService, metrics: ScorerMetrics, log: Logger): void {
  models.onSwap((next, previous) => {
    metrics.modelVersion.set({ model_name: next.name }, next.version);
    metrics.modelRefusedVersion.set({ model_name: next.name }, 0);
    if (previous) metrics.modelSwaps.inc({ result: 'swapped' });
    log.info({ model: next.name, version: next.version, previous: previous?.version ?? null }, 'scoring with model version');
  });
  models.onSwapFailed((error, version) => {
    metrics.modelSwaps.inc({ result: 'refused' });
    metrics.modelRefusedVersion.set({ model_name: models.modelName }, version);
    log.error({ version, err: error.toJSON(), serving: models.isReady() ? models.current().version : null }, 'model version refused');
  });
}

export async function runScorer(options: RunScorerOptions = {}): Promise<ScorerProcess> {
  const env = options.env ?? process.env;
  const core = coreSettings.load(env);
  const settings = scorerSettings.load(env);
  const instanceId = instanceIdOf(settings);
  initTracing('scorer');
  const log = createLogger('scorer', core.logLevel).child({ instance: instanceId });
  const registry = createMetricsRegistry('scorer');
  const metrics = createScorerMetrics(registry);
  const kafka = createKafka(core, `scorer-${instanceId}`);
  const shadowOn = settings.shadow === 'staging';
  const topics = { reviews: core.topicReviews, scored: core.topicScored, deadLetter: core.topicDeadLetter, ...(shadowOn ? { shadow: core.topicShadow } : {}) };
  await ensureTopics(kafka, [topics.reviews, topics.scored, topics.deadLetter, core.topicPromotions, ...(shadowOn ? [core.topicShadow] : [])], core);

  const modelRegistry = openRegistry(core.registryDir);
  await seedIfEmpty(modelRegistry, settings, log);
  const models = createModelService({
    registry: modelRegistry,
    modelName: settings.modelName,
    // The model workers decode, score and encode; this thread only moves bytes to and from Kafka.
    modelThreads: scorerModelThreads(env),
    logger: log.child({ part: 'model' }),
  });
  watchModel(models, metrics, log);
  const shadow = shadowOn
    ? new ShadowModels({
        registry: modelRegistry,
        modelName: settings.modelName,
        // Its own service and worker: the candidate never shares (or holds up) production's scoring thread.
        createService: () =>
          createModelService({
            registry: modelRegistry,
            modelName: settings.modelName,
            modelThreads: modelThreadsOr(SHADOW_MODEL_THREADS, env),
            logger: log.child({ part: 'shadow-model' }),
            reconcileIntervalMs: 0,
            loadRetry: SHADOW_LOAD_RETRY,
          }),
        metrics,
        log: log.child({ part: 'shadow' }),
      })
    : undefined;

  const redis = createRedis(core);
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error (dedupe)'));
  const dedupe = new ScoredIds(redis, `${core.redisPrefix}:scorer:${settings.groupId}:`, core.dedupeHorizonSeconds * 1000, log.child({ part: 'dedupe' }));
  let follower: PromotionFollower | undefined;
  let server: Server | undefined;
  let scorer: Scorer | undefined;
  const release = async (): Promise<void> => {
    await scorer?.stop();
    await follower?.stop();
    await shadow?.close();
    await models.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await shutdownTracing().catch(() => undefined);
    redis.disconnect();
  };
  // What GET /ready checks. The server starts before the model loads, so /health answers at once and
  // /ready says 503 until the model is loaded, promotions are followed and the consumer is in its group.
  const readiness: ReadinessCheck[] = [
    readinessCondition('model', () => models.isReady(), `no ${settings.modelName} version loaded`),
    readinessCondition('promotions', () => follower?.isConnected() ?? false, `not following ${core.topicPromotions}`),
    readinessCondition('kafka_consumer', () => scorer?.isJoined() ?? false, `not in consumer group ${settings.groupId}`),
  ];
  try {
    if (settings.metricsPort > 0) server = await serveMetrics(registry, settings.metricsPort, settings.metricsHost, { readiness });
    // Follow first, then load: a promotion made while loading is either in the registry already or in an event.
    follower = await followPromotions({
      kafka,
      topic: core.topicPromotions,
      modelName: settings.modelName,
      groupId: `${settings.groupId}-promotions-${instanceId}-${randomUUID().slice(0, 8)}`,
      logger: log.child({ part: 'promotions' }),
    });
    models.attachPromotions(follower);
    shadow?.attach(follower);
    await models.loadProduction();
    // In the background: production starts scoring while the candidate loads.
    void shadow?.refresh('start');
    scorer = createScorer({ kafka, settings, topics, models, metrics, log, dedupe, ...(shadow ? { shadow } : {}), ...(options.onFatal ? { onFatal: options.onFatal } : {}) });
    await scorer.start();
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  const address = server?.address();
  log.info({ topics, shadow: settings.shadow, groupId: settings.groupId, model: settings.modelName, metricsPort: settings.metricsPort || null }, 'scorer started');
  let stopping: Promise<void> | undefined;
  return {
    instanceId,
    models,
    scorer,
    metricsPort: address && typeof address === 'object' ? address.port : null,
    stop() {
      stopping ??= release();
      return stopping;
    },
  };
}
