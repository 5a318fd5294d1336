/**
 * Wiring the aggregator from the environment: `startAggregator` (embeddable: the API or the demo can
 * pass their own ClickHouse client, since an embedded chdb path belongs to one process) and
 * `runAggregator` (the `driftline aggregator` process: runs until SIGTERM/SIGINT).
 */
import type { ClickHouseClient } from '../core/clickhouse.js';
import { createClickHouse } from '../core/clickhouse.js';
import { coreSettings } from '../core/config.js';
import { loadDriftThresholds } from '../core/drift/config.js';
import { createKafka } from '../core/kafka.js';
import { runService } from '../core/service-runner.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createRedisClient } from '../core/redis.js';
import { registryBaselineProvider } from './baselines.js';
import { aggregatorSettings, type AggregatorSettings } from './config.js';
import type { CoreSettings } from '../core/config.js';
import { registryRollbackTarget } from './rollback.js';
import { AggregatorService } from './service.js';
import type { AggregatorParts } from './types.js';

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** A client owned by the caller (not closed on stop); default: one from the settings. */
  clickhouse?: ClickHouseClient;
  log?: Logger;
}

export interface RunningAggregator {
  service: AggregatorService;
  /** The aggregator of the shadow topic (DRIFTLINE_AGGREGATOR_SHADOW). */
  shadow?: AggregatorService;
  /** Graceful stop, then closes what this function opened. */
  stop(): Promise<void>;
}

/**
 * The settings of the shadow topic's aggregator: the same windows and thresholds over DRIFTLINE_TOPIC_SHADOW,
 * with its own consumer group and Redis state (the candidate's events carry the same review ids as
 * production's, which one aggregator would drop as duplicates), no metrics server (one port per process)
 * and never a rollback (a candidate is not production).
 */
export function shadowAggregatorSettings(core: CoreSettings, settings: AggregatorSettings): { core: CoreSettings; settings: AggregatorSettings } {
  return {
    core: { ...core, topicScored: core.topicShadow, redisPrefix: `${core.redisPrefix}:shadow` },
    settings: { ...settings, groupId: `${settings.groupId}-shadow`, metricsPort: 0, autoRollback: false, shadow: false },
  };
}

/** One aggregator service on the given connections: drift thresholds from `env`, baselines from the registry. */
export function aggregatorService(parts: AggregatorParts, env: NodeJS.ProcessEnv = process.env): AggregatorService {
  return new AggregatorService({ ...parts, thresholds: loadDriftThresholds(env), baselines: registryBaselineProvider(parts.core.registryDir) });
}

export async function startAggregator(options: StartOptions = {}): Promise<RunningAggregator> {
  const env = options.env ?? process.env;
  const core = coreSettings.load(env);
  const settings = aggregatorSettings.load(env);
  const log = options.log ?? createLogger('drift-aggregator', core.logLevel);
  const kafka = createKafka(core, 'aggregator');
  const redis = createRedisClient(core);
  const clickhouse = options.clickhouse ?? (await createClickHouse(core));
  const rollbackTarget = registryRollbackTarget(core.registryDir, kafka, core.topicPromotions);
  const service = aggregatorService({ core, settings, kafka, redis, clickhouse, rollbackTarget: settings.autoRollback ? rollbackTarget : null, log }, env);
  const shadowed = settings.shadow ? shadowAggregatorSettings(core, settings) : undefined;
  const shadow = shadowed ? aggregatorService({ ...shadowed, kafka, redis, clickhouse, rollbackTarget: null, log: log.child({ part: 'shadow' }) }, env) : undefined;
  const closeAll = async (): Promise<void> => {
    await rollbackTarget.close().catch(() => undefined);
    if (!options.clickhouse) await clickhouse.close().catch(() => undefined);
    redis.disconnect();
  };
  try {
    await service.start();
    await shadow?.start();
  } catch (err) {
    await shadow?.stop().catch(() => undefined);
    await service.stop().catch(() => undefined);
    await closeAll();
    throw err;
  }
  return {
    service,
    ...(shadow ? { shadow } : {}),
    async stop() {
      await shadow?.stop();
      await service.stop();
      await closeAll();
    },
  };
}

/** Runs until SIGTERM/SIGINT, then stops gracefully; resolves with the exit code (core/service-runner.ts). */
export async function runAggregator(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = createLogger('drift-aggregator', coreSettings.load(env).logLevel);
  return runService({ name: 'drift aggregator', log, start: () => startAggregator({ env, log }) });
}
