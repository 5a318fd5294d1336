/**
 * The drift aggregator as `driftline serve` and `driftline demo` run it: in the calling process, next to
 * the API, sharing one ClickHouse client with it (embedded chdb belongs to one process), with no automatic
 * rollback. The caller starts and stops the aggregator in its own order and closes the connections last.
 */
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.js';
import type { CoreSettings } from '../core/config.js';
import type { Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import { createRedisClient } from '../core/redis.js';
import { aggregatorService, aggregatorSettings, type AggregatorService } from '../drift-aggregator/index.js';

export interface LocalAggregator {
  aggregator: AggregatorService;
  /** The ClickHouse client the aggregator writes with; the API reads through the same one. */
  clickhouse: ClickHouseClient;
  /** Closes ClickHouse and Redis; call after the aggregator and the API have stopped. */
  closeConnections(): Promise<void>;
}

export async function createLocalAggregator(core: CoreSettings, env: NodeJS.ProcessEnv, kafka: Kafka, log: Logger): Promise<LocalAggregator> {
  const redis = createRedisClient(core);
  const clickhouse = await createClickHouse(core);
  const aggregator = aggregatorService({ core, settings: aggregatorSettings.load(env), kafka, redis, clickhouse, rollbackTarget: null, log }, env);
  return {
    aggregator,
    clickhouse,
    async closeConnections() {
      await clickhouse.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}
