/**
 * `driftline serve` — the single-node deployment a user keeps running: the scorer, the drift aggregator
 * and the API on the embedded defaults, until SIGTERM/SIGINT.
 *
 * Process layout (why): embedded ClickHouse (chdb) belongs to one process, and both the aggregator (writes
 * drift rows) and the API's drift routes (read them) need it, so those two run in THIS process and share
 * one ClickHouse client, as in `driftline demo`. The scorer needs no ClickHouse, and it is the part that
 * does the heavy, crash-prone work (model inference, Kafka transactions), so it runs as a supervised child
 * process (`driftline scorer`): restarted with exponential back-off when it exits unexpectedly, at most
 * --max-restarts times in a row (a run of --stable-ms resets the count), after which serve stops everything
 * and exits 1 rather than restart forever. Its exactly-once transactions make a restart safe.
 *
 * One readiness view: GET /ready on --port aggregates the aggregator's checks, the API's /ready and the
 * scorer child's /ready; /metrics there carries driftline_serve_restarts_total and, with the retrain policy on,
 * driftline_retrain_policy_* (the policy runs in this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { freePort } from '../core/net.js';
import { fileURLToPath } from 'node:url';
import { Counter, Registry } from 'prom-client';
import { coreSettings } from '../core/config.js';
import { toDriftlineError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry.js';
import { createKafka, driftlineTopics, ensureTopics } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import { serveMetrics, type ReadinessCheck } from '../core/metrics.js';
import { startApiServer } from '../api/index.js';
import { scorerSettings } from '../scorer/index.js';
import { startRetrainPolicyIfEnabled } from '../trainer/index.js';
import { ensureModel } from './demo.js';
import { createLocalAggregator } from './local-aggregator.js';
import type { CliCommand } from '../core/cli.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface ServeArgs {
  port: number;
  maxRestarts: number;
  stableMs: number;
}

const USAGE = `usage: driftline serve [--port 9470] [--max-restarts 5] [--stable-ms 60000]
  Runs the scorer (a supervised child process), the drift aggregator and the API (both in this process,
  sharing the embedded ClickHouse) until SIGTERM/SIGINT, then stops them in order: API (drain), scorer
  (commits its in-flight transaction), aggregator (commits offsets, flushes ClickHouse rows); exit code 0.
  Seeds the registry with the shipped default model when it has no production model.
  --port          GET /ready (all parts), /health and /metrics of serve (0 = none)
  --max-restarts  restarts of a crashed scorer in a row (back-off 1 s doubling to 30 s) before serve gives up (exit 1)
  --stable-ms     a scorer that ran this long counts as healthy again (its restart count resets)
  The parts read the usual DRIFTLINE_* settings (docs/configuration.md): the API listens on DRIFTLINE_API_PORT,
  the scorer's /ready on DRIFTLINE_SCORER_METRICS_PORT, the aggregator's on DRIFTLINE_AGGREGATOR_METRICS_PORT.`;

function parseArgs(argv: string[]): ServeArgs {
  const args: ServeArgs = { port: 9470, maxRestarts: 5, stableMs: 60_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`invalid value for ${argv[i]}`);
    if (argv[i] === '--port' && value <= 65_535) args.port = value;
    else if (argv[i] === '--max-restarts') args.maxRestarts = value;
    else if (argv[i] === '--stable-ms') args.stableMs = value;
    else throw new Error(`unknown or invalid option ${argv[i]}`);
  }
  return args;
}


/** How to start `driftline scorer` as a child: from source under tsx, or the compiled file under dist/. */
function scorerCommand(): string[] {
  const source = fileURLToPath(new URL('../scorer/main.ts', import.meta.url));
  if (existsSync(source)) return ['--import', 'tsx', source];
  return [fileURLToPath(new URL('../scorer/main.js', import.meta.url))];
}

/** Keeps one scorer child running: restarts it with back-off after an unexpected exit, bounded. */
class ScorerSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private failuresInARow = 0;
  private gaveUp: (reason: string) => void = () => undefined;
  /** Resolves when the restarts are exhausted. */
  readonly exhausted = new Promise<string>((resolve) => (this.gaveUp = resolve));

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly args: ServeArgs,
    private readonly restarts: Counter,
    private readonly log: Logger,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const startedAt = Date.now();
    const child = spawn(process.execPath, scorerCommand(), { env: this.env, stdio: 'inherit' });
    this.child = child;
    this.log.info({ pid: child.pid }, 'scorer process started');
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (Date.now() - startedAt >= this.args.stableMs) this.failuresInARow = 0;
      this.failuresInARow += 1;
      if (this.failuresInARow > this.args.maxRestarts) {
        this.log.error({ code, signal, restarts: this.args.maxRestarts }, 'scorer keeps crashing; giving up');
        this.gaveUp(`scorer exited ${this.args.maxRestarts + 1} times in a row`);
        return;
      }
      const delayMs = backoffDelayMs(this.failuresInARow, { initialDelayMs: 1_000, maxDelayMs: 30_000 });
      this.log.warn({ code, signal, delayMs, attempt: this.failuresInARow }, 'scorer exited; restarting after back-off');
      this.restarts.inc({ part: 'scorer' });
      setTimeout(() => {
        if (!this.stopping) this.start();
      }, delayMs).unref();
    });
  }

  /** SIGTERM to the child (it finishes and commits its in-flight batch), SIGKILL after the grace period. */
  async stop(graceMs = 30_000): Promise<number | null> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** A readiness check that asks another part's GET /ready. */
function httpReadiness(name: string, url: () => string): ReadinessCheck {
  return {
    name,
    check: async () => {
      const response = await fetch(url(), { signal: AbortSignal.timeout(2_000) });
      if (response.status !== 200) throw new Error(`${url()} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    },
  };
}

async function runServe(argv: string[]): Promise<number> {
  let args: ServeArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`driftline serve: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const core = coreSettings.load(process.env);
  const log = createLogger('serve', core.logLevel);
  log.info(await ensureModel(core, scorerSettings.load(process.env).modelName));

  const kafka = createKafka(core, 'serve');
  await ensureTopics(kafka, driftlineTopics(core), core);

  const configuredScorerPort = Number(process.env.DRIFTLINE_SCORER_METRICS_PORT ?? 9464);
  const scorerPort = configuredScorerPort > 0 ? configuredScorerPort : await freePort();
  const registry = new Registry();
  const restarts = new Counter({ name: 'driftline_serve_restarts_total', help: 'Restarts of a crashed part by driftline serve', labelNames: ['part'], registers: [registry] });
  const scorer = new ScorerSupervisor({ ...process.env, DRIFTLINE_SCORER_METRICS_PORT: String(scorerPort) }, args, restarts, log);
  scorer.start();

  const { aggregator, clickhouse, closeConnections } = await createLocalAggregator(core, process.env, kafka, log);
  await aggregator.start();
  const api = await startApiServer({ core, clickhouseClient: clickhouse, logger: log });
  // The retrain policy reads the aggregator's tables: in this process, which owns the embedded ClickHouse (off by default).
  const retrain = startRetrainPolicyIfEnabled(core, clickhouse, scorerSettings.load(process.env).modelName, log, registry);
  let readyServer: Server | undefined;
  if (args.port > 0) {
    const checks = [...aggregator.readinessChecks(), httpReadiness('api', () => `${api.url}/ready`), httpReadiness('scorer', () => `http://127.0.0.1:${scorerPort}/ready`)];
    readyServer = await serveMetrics(registry, args.port, '127.0.0.1', { readiness: checks });
  }
  log.info({ api: api.url, ready: args.port > 0 ? `http://127.0.0.1:${args.port}/ready` : null, scorerPid: scorer.pid }, 'driftline serve running');

  const signalled = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.once(signal, () => process.exit(130)); // a second signal: now
      resolve(signal);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  const reason = await Promise.race([signalled, scorer.exhausted]);
  const clean = reason === 'SIGTERM' || reason === 'SIGINT';
  log.info({ reason }, 'shutting down: API, then scorer, then aggregator');
  let code = clean ? 0 : 1;
  // Order: no new requests first; then the scorer finishes its transaction (its last scored records still
  // reach the aggregator's topic); then the aggregator commits offsets and flushes its ClickHouse rows;
  // ClickHouse closes last, since both the API and the aggregator used it.
  const step = async (name: string, action: () => Promise<unknown>): Promise<void> => {
    try {
      await action();
    } catch (err) {
      log.error({ part: name, err: toDriftlineError(err).toJSON() }, 'unclean stop');
      code = 1;
    }
  };
  await step('api', () => api.close());
  await step('scorer', async () => {
    const exit = await scorer.stop();
    if (clean && exit !== 0 && exit !== null) throw new Error(`scorer exited with ${exit}`);
  });
  if (retrain) await step('retrain-policy', () => retrain.stop());
  await step('aggregator', () => aggregator.stop());
  if (readyServer) await new Promise<void>((resolve) => readyServer.close(() => resolve()));
  await closeConnections();
  await sleep(100); // let pino flush
  return code;
}

export const commands: CliCommand[] = [
  {
    name: 'serve',
    summary: 'Run scorer, aggregator and API together until stopped (the single-node deployment)',
    usage: USAGE,
    run: runServe,
  },
];
