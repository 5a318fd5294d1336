/** The API's own types: how the API process is started and what a running one holds. */
import type { ClickHouseClient } from '../core/clickhouse.js';
import type { CoreSettings } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { PromotionFollower } from '../core/model/promotions.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import type { ManagedModelService } from '../core/model/service.js';
import type { ApiApp } from './app.js';
import type { ApiSettings } from './config.js';
import type { JobRunner } from './jobs.js';

export interface StartApiOptions {
  settings?: Partial<ApiSettings>;
  core?: Partial<CoreSettings>;
  logger?: Logger;
  /** Open ClickHouse for the drift routes (default: when DRIFTLINE_CLICKHOUSE_URL is set or DRIFTLINE_API_EMBEDDED_CLICKHOUSE is true). */
  clickhouse?: boolean;
  /** An already open ClickHouse client (e.g. the aggregator's, in embedded mode); not closed by the API. */
  clickhouseClient?: ClickHouseClient;
}

export interface RunningApi {
  api: ApiApp;
  /** `http://host:port` the server listens on. */
  url: string;
  modelService: ManagedModelService;
  registry: ModelRegistry;
  jobs: JobRunner;
  follower(): PromotionFollower | undefined;
  /** Drains and closes everything; idempotent. */
  close(): Promise<void>;
}
