/**
 * `node --import tsx api/main.ts` (or `driftline api`): runs the HTTP API until SIGTERM/SIGINT, then
 * drains (new requests get 503 SHUTTING_DOWN, requests in flight finish) and exits (core/service-runner.ts).
 */
import { fileURLToPath } from 'node:url';
import { createLogger } from '../core/logger.js';
import { exitWhenDone, runService } from '../core/service-runner.js';
import { startApiServer } from './server.js';

export async function runApi(): Promise<number> {
  const log = createLogger('api');
  return runService({
    name: 'API',
    log,
    start: async () => {
      const api = await startApiServer({ logger: log });
      return { stop: () => api.close() };
    },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) exitWhenDone('API', runApi());
