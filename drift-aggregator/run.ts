/** Wiring the aggregator from the environment (used by `driftline aggregator` and drift-aggregator/main.ts). */
import { createClickHouse } from '../core/clickhouse.js';
import { coreSettings } from '../core/config.js';
import { loadDriftThresholds } from '../core/drift/config.js';
import { toDriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { createLogger } from '../core/logger.js';
import { createRedis } from '../core/redis.js';
import { registryBaselineProvider } from './baselines.js';
import { aggregatorSettings } from './config.js';
import { registryRollbackTarget } from './rollback.js';
import { AggregatorService } from './service.js';

/** Runs until SIGTERM/SIGINT, then stops gracefully; resolves with the exit code. */
export async function runAggregator(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const core = coreSettings.load(env);
  const settings = aggregatorSettings.load(env);
  const log = createLogger('drift-aggregator', core.logLevel);
  const kafka = createKafka(core, 'aggregator');
  const redis = createRedis(core);
  const clickhouse = await createClickHouse(core);
  const rollbackTarget = registryRollbackTarget(core.registryDir, kafka, core.topicPromotions);
  const service = new AggregatorService({
    core,
    settings,
    thresholds: loadDriftThresholds(env),
    kafka,
    redis,
    clickhouse,
    baselines: registryBaselineProvider(core.registryDir),
    rollbackTarget: settings.autoRollback ? rollbackTarget : null,
    log,
  });
  const closeAll = async (): Promise<void> => {
    await rollbackTarget.close().catch(() => undefined);
    await clickhouse.close().catch(() => undefined);
    redis.disconnect();
  };
  try {
    await service.start();
  } catch (err) {
    log.error({ err: toDriftlineError(err).toJSON() }, 'drift aggregator failed to start');
    await service.stop().catch(() => undefined);
    await closeAll();
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping drift aggregator');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await service.stop();
  await closeAll();
  return 0;
}
