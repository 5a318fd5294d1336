/** The drift aggregator's own types: what a service is built from, and what closing a window produced. */
import type { Kafka } from 'kafkajs';
import type { ClickHouseClient } from '../core/clickhouse.js';
import type { CoreSettings } from '../core/config.js';
import type { DriftThresholds } from '../core/drift/config.js';
import type { DriftMetricRow, WindowSummaryRow } from '../core/drift/tables.js';
import type { Logger } from '../core/logger.js';
import type { RedisClient } from '../core/redis.js';
import type { DriftAlert } from '../schemas/types.js';
import type { BaselineProvider } from './baselines.js';
import type { AggregatorSettings } from './config.js';
import type { RollbackTarget } from './rollback.js';
import type { AggregatorMetrics } from './telemetry.js';
import type { WindowRef } from './windows.js';

/** What an aggregator service is built from besides the environment's thresholds and the registry's baselines. */
export interface AggregatorParts {
  core: CoreSettings;
  settings: AggregatorSettings;
  kafka: Kafka;
  redis: RedisClient;
  clickhouse: ClickHouseClient;
  rollbackTarget: RollbackTarget | null;
  log: Logger;
}

/** Everything an AggregatorService takes (run.ts aggregatorService fills thresholds and baselines). */
export interface AggregatorDeps extends AggregatorParts {
  thresholds: DriftThresholds;
  baselines: BaselineProvider;
  metrics?: AggregatorMetrics;
  now?: () => number;
}

/** One window this instance closed: its drift rows, summary rows and the alerts it raised. */
export interface ClosedWindow {
  ref: WindowRef;
  /** Window size in ms (the counted size, or one of the larger sizes). */
  sizeMs: number;
  rows: DriftMetricRow[];
  summaries: WindowSummaryRow[];
  alerts: DriftAlert[];
}
