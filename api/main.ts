/**
 * `node --import tsx api/main.ts` (or `driftline api`): runs the HTTP API until SIGTERM/SIGINT, then
 * drains (new requests get 503 SHUTTING_DOWN, requests in flight finish) and exits.
 */
import { fileURLToPath } from 'node:url';
import { toDriftlineError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { startApiServer, type RunningApi } from './server.js';

export async function runApi(): Promise<number> {
  const log = createLogger('api');
  let api: RunningApi;
  try {
    api = await startApiServer({ logger: log });
  } catch (err) {
    log.fatal({ err: toDriftlineError(err).toJSON() }, 'API failed to start');
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals): void => {
      signals += 1;
      // A second signal means "now": skip the drain.
      if (signals > 1) return resolve(130);
      log.info({ signal }, 'shutting down');
      api.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: toDriftlineError(err).toJSON() }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runApi().then((code) => process.exit(code));
}
