/**
 * Entry point of one scorer process: `node --import tsx scorer/main.ts` (or `driftline scorer`).
 * SIGTERM/SIGINT: finish and commit the in-flight transaction, leave the group, close producers, exit 0.
 * A second signal exits at once (uncommitted work is redelivered: nothing is lost or doubled).
 * A fatal consumer error stops it the same way and exits 1 (core/service-runner.ts).
 */
import { pathToFileURL } from 'node:url';
import { createLogger } from '../core/logger.js';
import { exitWhenDone, runService } from '../core/service-runner.js';
import { runScorer } from './app.js';

/** Runs until a signal or a fatal consumer error; resolves with the exit code. */
export async function scorerMain(): Promise<number> {
  return runService({ name: 'scorer', log: createLogger('scorer'), start: (onFatal) => runScorer({ onFatal }) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) exitWhenDone('scorer', scorerMain());
