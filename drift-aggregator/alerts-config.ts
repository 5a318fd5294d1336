/** Settings of `driftline alerts` (the alert consumer and webhook delivery); topics and Redis come from core/config.ts. */
import { defineSettings, setting, type Settings } from '../core/config.js';

export const alertSettings = defineSettings('alerts', {
  groupId: setting({ env: 'DRIFTLINE_ALERTS_GROUP', kind: 'string', default: 'driftline-alerts', description: 'Kafka consumer group of `driftline alerts`; its offsets and its delivered-alert marks (Redis) are per group.' }),
  webhookUrl: setting({ env: 'DRIFTLINE_ALERT_WEBHOOK_URL', kind: 'string', default: '', description: 'Webhook `driftline alerts` posts each alert to (Slack-compatible JSON body: text + blocks); empty = print only. `--webhook URL` overrides it.' }),
  webhookAttempts: setting({ env: 'DRIFTLINE_ALERT_WEBHOOK_ATTEMPTS', kind: 'int', default: 5, min: 1, max: 50, description: 'Attempts per alert (network errors, timeouts, 429 and 5xx are retried with back-off; other 4xx are not); after the last failure the alert goes to the alerts dead-letter topic.' }),
  webhookTimeoutMs: setting({ env: 'DRIFTLINE_ALERT_WEBHOOK_TIMEOUT_MS', kind: 'int', default: 10_000, min: 100, description: 'Time limit of one webhook request (ms).' }),
  retryInitialMs: setting({ env: 'DRIFTLINE_ALERT_WEBHOOK_RETRY_MS', kind: 'int', default: 500, min: 1, description: 'First back-off between webhook attempts (ms; doubles per attempt, full jitter).' }),
  retryMaxMs: setting({ env: 'DRIFTLINE_ALERT_WEBHOOK_RETRY_MAX_MS', kind: 'int', default: 30_000, min: 1, description: 'Longest back-off between webhook attempts (ms).' }),
  deadLetterTopic: setting({ env: 'DRIFTLINE_TOPIC_ALERTS_DEAD_LETTER', kind: 'string', default: 'driftline.alerts.dead-letter', description: 'Topic of alerts that could not be delivered: DeadLetter records with the alert as `raw` and the reason.' }),
  metricsPort: setting({ env: 'DRIFTLINE_ALERTS_METRICS_PORT', kind: 'int', default: 0, min: 0, max: 65_535, description: 'Port of the GET /metrics (Prometheus) of `driftline alerts`: driftline_alerts_handled_total{outcome}, driftline_alerts_webhook_attempts_total{result}; 0 = off.' }),
  dedupeTtlSeconds: setting({ env: 'DRIFTLINE_ALERT_DEDUPE_TTL_S', kind: 'int', default: 30 * 86_400, min: 60, description: 'How long a delivered (or dead-lettered) alert state is remembered in Redis, so a restart or a repeated copy does not send it again.' }),
});

export type AlertSettings = Settings<typeof alertSettings.spec>;
