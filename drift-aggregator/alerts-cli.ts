/**
 * `driftline alerts`: the alert consumer (alert-consumer.ts) as a CLI command. Prints one line per alert
 * state change and, with `--webhook URL` or DRIFTLINE_ALERT_WEBHOOK_URL, delivers it to a webhook
 * (Slack-compatible body). Runs under core/service-runner.ts: SIGTERM/SIGINT stop it gracefully; without
 * --follow it also ends by itself once nothing new arrived for --idle-ms.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from '../core/cli.js';
import { coreSettings } from '../core/config.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { createLogger } from '../core/logger.js';
import { serveMetrics } from '../core/metrics.js';
import { createRedis } from '../core/redis.js';
import { runService } from '../core/service-runner.js';
import { AlertConsumer } from './alert-consumer.js';
import { parseWebhookUrl } from './alert-webhook.js';
import { alertSettings } from './alerts-config.js';

export const ALERTS_USAGE = [
  'usage: driftline alerts [--follow] [--webhook URL] [--group NAME] [--max N] [--idle-ms MS] [--json]',
  '  Consumes DriftAlert events (state changes: raised, escalated, de-escalated, recovered) from DRIFTLINE_TOPIC_ALERTS',
  '  in consumer group --group (default DRIFTLINE_ALERTS_GROUP), drops repeats (same dedupe_key and status, remembered',
  '  in Redis per group), prints one line per alert (--json: the event as JSON) and, with --webhook URL (default',
  '  DRIFTLINE_ALERT_WEBHOOK_URL), posts it as a Slack-compatible JSON body (text + blocks). Network errors, timeouts,',
  '  429 and 5xx are retried with back-off (DRIFTLINE_ALERT_WEBHOOK_ATTEMPTS attempts); other 4xx are not. An alert',
  '  that cannot be delivered goes to DRIFTLINE_TOPIC_ALERTS_DEAD_LETTER with the reason. Offsets are committed only',
  '  after delivery or dead-lettering. Without --follow it stops once nothing arrived for --idle-ms (default 5000)',
  '  or after --max alerts; SIGTERM/SIGINT stop it gracefully.',
].join('\n');

function positiveInt(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new DriftlineError('REQUEST_INVALID', `${flag} must be a positive integer, got ${JSON.stringify(raw)}`, { field: flag });
  return value;
}

export async function runAlerts(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      follow: { type: 'boolean', default: false },
      webhook: { type: 'string' },
      group: { type: 'string' },
      max: { type: 'string' },
      'idle-ms': { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
    },
  });
  const core = coreSettings.load(env);
  const settings = alertSettings.load(env, values.group === undefined ? {} : { groupId: values.group });
  const max = positiveInt(values.max, '--max');
  const idleMs = positiveInt(values['idle-ms'], '--idle-ms')!;
  const rawUrl = values.webhook ?? settings.webhookUrl;
  const webhook = rawUrl ? parseWebhookUrl(rawUrl, values.webhook === undefined ? 'DRIFTLINE_ALERT_WEBHOOK_URL' : '--webhook') : null;
  const log = createLogger('alerts', core.logLevel);
  return runService({
    name: 'alert consumer',
    log,
    start: async (onFatal) => {
      const redis = createRedis(core);
      const consumer = new AlertConsumer({ core, settings, kafka: createKafka(core, 'alerts'), redis, log, json: values.json, max }, webhook);
      const metricsServer = settings.metricsPort > 0 ? await serveMetrics(consumer.metrics.registry, settings.metricsPort) : undefined;
      const stopAll = async (): Promise<void> => {
        await consumer.stop();
        redis.disconnect();
        if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      };
      try {
        await consumer.start(onFatal);
      } catch (err) {
        await stopAll();
        throw err;
      }
      const finished = values.follow ? consumer.reachedMax : Promise.race([consumer.reachedMax, untilIdle(consumer, idleMs)]);
      return { stop: stopAll, finished };
    },
  });
}

function untilIdle(consumer: AlertConsumer, idleMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (consumer.idleMs > idleMs) {
        clearInterval(timer);
        resolve();
      }
    }, 250);
    timer.unref();
  });
}

export const alertsCommand: CliCommand = {
  name: 'alerts',
  summary: 'Consume drift alerts: dedupe, print, deliver to a webhook (dead letter after N failures)',
  usage: ALERTS_USAGE,
  async run(argv) {
    try {
      return await runAlerts(argv);
    } catch (err) {
      const error = toDriftlineError(err);
      process.stderr.write(`driftline alerts: ${error.code}: ${error.message}\n${ALERTS_USAGE}\n`);
      return 2;
    }
  },
};
