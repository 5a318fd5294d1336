/**
 * `driftline retrain-policy`: the drift-triggered retrain loop (trainer/retrain-policy.ts) as a process, or one
 * check with --once; and the same loop inside `driftline serve` (startRetrainPolicyIfEnabled), where it shares
 * the embedded ClickHouse with the aggregator.
 */
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.js';
import { guardedRun, type CliCommand } from '../core/cli.js';
import { coreSettings, type CoreSettings } from '../core/config.js';
import { resolveDataLocation } from '../core/data-location.js';
import { DriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createMetricsRegistry, serveMetrics } from '../core/metrics.js';
import { kafkaPromotionPublisher, publishingRegistry } from '../core/model/promotions.js';
import { openRegistry } from '../core/model/registry/index.js';
import { shadowGateSettings } from '../core/model/shadow-gate.js';
import type { Registry } from 'prom-client';
import { runService } from '../core/service-runner.js';
import { retrainPolicySettings, trainerSettings, type RetrainPolicyOptions } from './config.js';
import { loadLabeledJsonl } from './data.js';
import { RetrainPolicy, requireEnabled, startRetrainPolicy } from './retrain-policy.js';
import { createRetrainPolicyMetrics } from './retrain-policy-metrics.js';

const USAGE = `usage: driftline retrain-policy [--once] [--name NAME]

Drift-triggered retraining (off unless DRIFTLINE_RETRAIN_POLICY=true; settings DRIFTLINE_RETRAIN_*, docs/models.md).
Every DRIFTLINE_RETRAIN_INTERVAL_MS: when production's newest windows are all red (or its live macro-F1 is under
the floor), train a warm-started candidate on the reference data plus the recent labelled sample (recent_reviews),
compare it with production on the fixed hold-out and the recent sample, register it as staging; with
DRIFTLINE_RETRAIN_AUTO_PROMOTE, promote it once the shadow gate passes. Reads ClickHouse (DRIFTLINE_CLICKHOUSE_*):
with embedded chdb run it inside the process that owns the database (driftline serve) instead.

One instance checks at a time (a lock in the model's registry directory; another instance skips its check).
Metrics (driftline_retrain_policy_*) on DRIFTLINE_RETRAIN_METRICS_PORT (0 = off).

  --once       one check; prints its outcome as JSON and exits
  --name NAME  model name (default: DRIFTLINE_TRAIN_MODEL_NAME or 'reviews')`;

/** The policy on the configured registry (promotions published to Kafka, so scorers hot-reload) and reference data. */
function openRetrainPolicy(core: CoreSettings, clickhouse: ClickHouseClient, name: string, options: RetrainPolicyOptions, log: Logger, env: NodeJS.ProcessEnv, metrics: Registry | null): { policy: RetrainPolicy; close(): Promise<void> } {
  const publisher = kafkaPromotionPublisher(createKafka(core, 'retrain-policy'), core.topicPromotions);
  const policy = new RetrainPolicy(options, {
    registry: publishingRegistry(openRegistry(core.registryDir), publisher),
    clickhouse,
    database: core.clickhouseDatabase,
    name,
    reference: async () => (await loadLabeledJsonl(await Promise.all(options.data.map((location) => resolveDataLocation(location, undefined, 'DRIFTLINE_RETRAIN_DATA'))))).rows,
    log,
    gate: shadowGateSettings.load(env),
    ...(metrics ? { metrics: createRetrainPolicyMetrics(metrics) } : {}),
  });
  return { policy, close: () => publisher.close() };
}

/**
 * For `driftline serve`: the retrain loop on the serve's ClickHouse client when DRIFTLINE_RETRAIN_POLICY is on,
 * else null; its metrics go on `metrics`, the registry serve exposes on its own /metrics.
 */
export function startRetrainPolicyIfEnabled(core: CoreSettings, clickhouse: ClickHouseClient, name: string, log: Logger, metrics: Registry, env: NodeJS.ProcessEnv = process.env): { stop(): Promise<void> } | null {
  const options = retrainPolicySettings.load(env);
  if (!options.enabled) return null;
  const { policy, close } = openRetrainPolicy(core, clickhouse, name, options, log.child({ part: 'retrain-policy' }), env, metrics);
  const loop = startRetrainPolicy(policy, options, log);
  return {
    async stop() {
      await loop.stop();
      await close();
    },
  };
}

async function retrainPolicy(argv: string[]): Promise<number> {
  const once = argv.includes('--once');
  const nameAt = argv.indexOf('--name');
  const unknown = argv.filter((arg, i) => arg !== '--once' && arg !== '--name' && !(nameAt >= 0 && i === nameAt + 1));
  if (unknown.length > 0) throw new DriftlineError('REQUEST_INVALID', `unknown arguments: ${unknown.join(' ')}`);
  const options = retrainPolicySettings.load();
  requireEnabled(options);
  const core = coreSettings.load();
  const name = nameAt >= 0 ? (argv[nameAt + 1] ?? '') : trainerSettings.load().modelName;
  const log = createLogger('retrain-policy');
  const clickhouse = await createClickHouse(core);
  // --once answers on stdout; only the long-running process has something to scrape.
  const metrics = once ? null : createMetricsRegistry('retrain-policy');
  const opened = openRetrainPolicy(core, clickhouse, name, options, log, process.env, metrics);
  const policy = opened.policy;
  const close = async (): Promise<void> => {
    await opened.close();
    await clickhouse.close();
  };
  if (once) {
    try {
      const outcome = await policy.tick();
      process.stdout.write(`${JSON.stringify({ ...outcome, report: undefined })}\n`);
      return 0;
    } finally {
      await close();
    }
  }
  return runService({
    name: 'retrain-policy',
    log,
    start: async () => {
      const server = metrics && options.metricsPort > 0 ? await serveMetrics(metrics, options.metricsPort) : undefined;
      const loop = startRetrainPolicy(policy, options, log);
      return {
        async stop() {
          await loop.stop();
          if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
          await close();
        },
      };
    },
  });
}

export const retrainPolicyCommand: CliCommand = {
  name: 'retrain-policy',
  summary: 'Drift-triggered retraining: train a staging candidate when production stays red, promote it through the shadow gate',
  usage: USAGE,
  run: guardedRun('retrain-policy', USAGE, retrainPolicy),
};
