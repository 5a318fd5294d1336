/**
 * The one life cycle of Driftline's long-running processes (scorer, aggregator, API): start, run until
 * SIGTERM/SIGINT or a fatal error, stop gracefully (flush producers, commit offsets, drain requests), and
 * turn the outcome into an exit code. One copy, so every service answers signals the same way:
 *   0   stopped on a signal, cleanly
 *   1   failed to start, failed to stop cleanly, or stopped by a fatal error
 *   130 a second signal during the graceful stop: exit at once (uncommitted work is redelivered)
 */
import { toDriftlineError } from './errors.js';
import type { Logger } from './logger.js';

export interface StoppableService {
  stop(): Promise<void>;
  /** For a run that can end by itself (a CLI consumer that stops when idle): resolving it stops the service like a signal, exit 0. */
  finished?: Promise<void>;
}

export interface RunServiceOptions {
  /** For the log lines ("scorer failed to start"). */
  name: string;
  log: Logger;
  /** Starts the service; `onFatal` ends the run with exit code 1 (after a graceful stop). */
  start(onFatal: (err: Error) => void): Promise<StoppableService>;
}

export async function runService(options: RunServiceOptions): Promise<number> {
  const { name, log } = options;
  type EndReason = { signal: NodeJS.Signals } | { fatal: Error } | { finished: true };
  let endRun: (reason: EndReason) => void = () => undefined;
  const ended = new Promise<EndReason>((resolve) => (endRun = resolve));
  let service: StoppableService;
  try {
    service = await options.start((fatal) => endRun({ fatal }));
  } catch (err) {
    log.fatal({ err: toDriftlineError(err).toJSON() }, `${name} failed to start`);
    return 1;
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    process.once(signal, () => process.exit(130));
    endRun({ signal });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  void service.finished?.then(() => endRun({ finished: true }));
  const reason = await ended;
  if ('fatal' in reason) log.fatal({ err: toDriftlineError(reason.fatal).toJSON() }, `${name} stopped for good; shutting down`);
  else if ('signal' in reason) log.info({ signal: reason.signal }, `${name} shutting down`);
  else log.info(`${name} finished; shutting down`);
  try {
    await service.stop();
  } catch (err) {
    log.error({ err: toDriftlineError(err).toJSON() }, `${name}: unclean shutdown`);
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return 'fatal' in reason ? 1 : 0;
}

/** Exits with the run's code once it settles, after a moment for pino's asynchronous log destination. */
export function exitWhenDone(name: string, run: Promise<number>): void {
  run.then(
    (code) => setTimeout(() => process.exit(code), 100),
    (err: unknown) => {
      process.stderr.write(`${name} crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
