/**
 * ClickHouse wiring: always @clickhouse/client. Empty DRIFTLINE_CLICKHOUSE_URL selects the embedded
 * engine (npm chdb, ClickHouse 26.x in-process) as the client's connection; a URL selects a server
 * over HTTP. One chdb path belongs to one process, so the embedded mode keeps every ClickHouse user
 * (aggregator writer, API reader) in one process.
 */
import { mkdirSync } from 'node:fs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { coreSettings, type CoreSettings } from './config.js';
import { userPath } from './paths.js';

export type { ClickHouseClient };

export async function createClickHouse(settings: CoreSettings = coreSettings.load()): Promise<ClickHouseClient> {
  if (settings.clickhouseUrl) {
    return createClient({
      url: settings.clickhouseUrl,
      username: settings.clickhouseUser,
      password: settings.clickhousePassword,
      request_timeout: 30_000,
    });
  }
  const path = userPath(settings.clickhousePath);
  mkdirSync(path, { recursive: true });
  // chdb ships a native library; import it only when the embedded mode is chosen.
  const { createChdbConnection } = await import('chdb/connection');
  return createClient({ connection: createChdbConnection({ path }) } as unknown as Parameters<typeof createClient>[0]);
}
