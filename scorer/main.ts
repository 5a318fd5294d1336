/**
 * Entry point of one scorer process: `node --import tsx scorer/main.ts` (or `driftline scorer`).
 * SIGTERM/SIGINT: finish and commit the in-flight transaction, leave the group, close producers, exit 0.
 * A second signal exits at once (uncommitted work is redelivered: nothing is lost or doubled).
 */
import { pathToFileURL } from 'node:url';
import { toDriftlineError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { runScorer } from './app.js';

/** Runs until a signal or a fatal consumer error; resolves with the exit code. */
export async function scorerMain(): Promise<number> {
  const log = createLogger('scorer');
  let fatal: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (fatal = resolve));
  let running;
  try {
    running = await runScorer({
      onFatal: (err) => {
        log.fatal({ err: err.message }, 'consumer stopped for good; exiting');
        fatal(1);
      },
    });
  } catch (err) {
    log.fatal({ err: toDriftlineError(err).toJSON() }, 'scorer failed to start');
    return 1;
  }
  const handle = running;
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down: finishing the in-flight batch');
    process.once(signal, () => process.exit(130));
    handle.stop().then(
      () => fatal(0),
      (err: unknown) => {
        log.error({ err: toDriftlineError(err).toJSON() }, 'unclean shutdown');
        fatal(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await finished;
  if (code !== 0) await handle.stop().catch(() => undefined);
  return code;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  scorerMain().then(
    (code) => setTimeout(() => process.exit(code), 100), // let pino flush
    () => process.exit(1),
  );
}
