/**
 * `driftline alerts` as a service: consumes DriftAlert events in its own consumer group, drops the
 * copies it has handled before, prints one human line (or JSON) per alert and, with a webhook, posts it
 * (alert-webhook.ts). Nothing is lost: a message's offset is committed only after the alert was
 * delivered, or dead-lettered after the configured attempts, or recognised as a repeat. A crash in
 * between means the alert is handled again after the restart, never skipped.
 *
 * Dedupe: per consumer group, a Redis key per (dedupe_key, status) marks an alert state as handled,
 * written after the delivery and before the commit, with a TTL (DRIFTLINE_ALERT_DEDUPE_TTL_S). So a copy
 * of an alert (the aggregator's outbox is at-least-once) and a restart after the delivery but before the
 * commit do not send it again. The one window left: a crash between the webhook's 2xx and the mark
 * sends that alert once more (at least once; the receiver may dedupe by alert_id + status too).
 */
import type { Consumer, KafkaMessage, Kafka, Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { codecFor } from '../core/avro.js';
import type { CoreSettings } from '../core/config.js';
import { buildDeadLetter, deadLetterMessage } from '../core/deadletter.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { ensureTopics, kafkaError } from '../core/kafka.js';
import type { Logger } from '../core/logger.js';
import { createMetricsRegistry } from '../core/metrics.js';
import type { DriftAlert } from '../schemas/types.js';
import type { AlertSettings } from './alerts-config.js';
import { alertLine, deliverAlert } from './alert-webhook.js';

export interface AlertConsumerDeps {
  core: CoreSettings;
  settings: AlertSettings;
  kafka: Kafka;
  redis: Redis;
  log: Logger;
  /** Where the human lines (or JSON lines) go; default stdout. */
  print?: (line: string) => void;
  json?: boolean;
  /** Stop consuming after this many alerts were handled (delivered or dead-lettered); default no limit. */
  max?: number;
}

export interface AlertCounts {
  delivered: number;
  deadLettered: number;
  duplicates: number;
  undecodable: number;
}

/** The key marking one alert state as handled by a consumer group (the dedupe_key of v1 alerts is their alert_id). */
export function handledKey(prefix: string, groupId: string, alert: DriftAlert): string {
  return `${prefix}:alerts-handled:${groupId}:${alert.dedupe_key ?? alert.alert_id}|${alert.status}`;
}

const OUTCOME_LABEL: Record<keyof AlertCounts, string> = { delivered: 'delivered', deadLettered: 'dead_lettered', duplicates: 'duplicate', undecodable: 'undecodable' };

/** Prometheus metrics of `driftline alerts` (served on DRIFTLINE_ALERTS_METRICS_PORT when set). */
export class AlertConsumerMetrics {
  readonly registry: Registry = createMetricsRegistry('alerts');
  readonly handled = new Counter({ name: 'driftline_alerts_handled_total', help: 'Alert messages handled by outcome: delivered, dead_lettered, duplicate, undecodable.', labelNames: ['outcome'], registers: [this.registry] });
  readonly webhookAttempts = new Counter({ name: 'driftline_alerts_webhook_attempts_total', help: 'Webhook POSTs by result: ok, retried, failed (the last attempt of a dead-lettered alert).', labelNames: ['result'], registers: [this.registry] });
}

export class AlertConsumer {
  readonly counts: AlertCounts = { delivered: 0, deadLettered: 0, duplicates: 0, undecodable: 0 };
  readonly metrics = new AlertConsumerMetrics();
  private readonly codec = codecFor('DriftAlert');
  private readonly abort = new AbortController();
  private readonly webhook: URL | null;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private stopped: Promise<void> | undefined;
  private lastMessageAt = Date.now();
  /** The idle clock starts when the consumer joined its group (joining takes seconds). */
  private joined = false;
  private resolveMax: () => void = () => undefined;
  /** Resolves once `max` alerts were handled (never without a max). */
  readonly reachedMax: Promise<void> = new Promise((resolve) => (this.resolveMax = resolve));

  constructor(private readonly deps: AlertConsumerDeps, webhook: URL | null) {
    this.webhook = webhook;
  }

  /** Wall-clock time of the last message (for the "stop when idle" mode of the CLI). */
  get idleMs(): number {
    return this.joined ? Date.now() - this.lastMessageAt : 0;
  }

  async start(onFatal: (err: Error) => void = () => undefined): Promise<void> {
    const { core, settings, kafka, log } = this.deps;
    await ensureTopics(kafka, [core.topicAlerts, settings.deadLetterTopic], core);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.consumer = kafka.consumer({ groupId: settings.groupId, readUncommitted: false, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.joined = true;
      this.lastMessageAt = Date.now();
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (!event.payload.restart) onFatal(event.payload.error);
    });
    try {
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({ topic: core.topicAlerts, fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        // One partition at a time, its messages in order (a partition holds a model's alerts in the order they changed).
        partitionsConsumedConcurrently: 1,
        eachMessage: async ({ partition, message, heartbeat }) => {
          this.lastMessageAt = Date.now();
          await this.handle(partition, message, heartbeat);
          this.lastMessageAt = Date.now();
        },
      });
    } catch (err) {
      throw kafkaError(err, `consuming ${core.topicAlerts}`);
    }
    log.info({ topic: core.topicAlerts, group: settings.groupId, webhook: this.webhook ? `${this.webhook.origin}${this.webhook.pathname}` : null }, 'alert consumer started');
  }

  private async handle(partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    const { core, settings, redis } = this.deps;
    if (this.handledTotal >= (this.deps.max ?? Number.POSITIVE_INFINITY)) return; // over the limit: left uncommitted for the next run
    const location = { topic: core.topicAlerts, partition, offset: message.offset };
    let alert: DriftAlert;
    try {
      alert = this.codec.decode(message.value);
    } catch (err) {
      this.count('undecodable');
      await this.deadLetter(buildDeadLetter({ stage: 'aggregator', error: err, raw: message.value ?? null, location }));
      return this.commit(partition, message.offset);
    }
    const key = handledKey(core.redisPrefix, settings.groupId, alert);
    if ((await redis.exists(key)) === 1) {
      this.count('duplicates');
      return this.commit(partition, message.offset);
    }
    await this.deliver(alert, message, location, heartbeat);
    await redis.set(key, '1', 'EX', settings.dedupeTtlSeconds);
    await this.commit(partition, message.offset);
    if (this.handledTotal >= (this.deps.max ?? Number.POSITIVE_INFINITY)) this.resolveMax();
  }

  private count(outcome: keyof AlertCounts): void {
    this.counts[outcome]++;
    this.metrics.handled.inc({ outcome: OUTCOME_LABEL[outcome] });
  }

  private get handledTotal(): number {
    return this.counts.delivered + this.counts.deadLettered;
  }

  /** Prints and posts one alert; a final webhook failure is dead-lettered. Throws only on shutdown or Kafka failure. */
  private async deliver(alert: DriftAlert, message: KafkaMessage, location: { topic: string; partition: number; offset: string }, heartbeat: () => Promise<void>): Promise<void> {
    const { settings, log } = this.deps;
    const print = this.deps.print ?? ((line: string) => process.stdout.write(`${line}\n`));
    if (!this.webhook) {
      print(this.deps.json ? JSON.stringify(alert) : alertLine(alert));
      this.count('delivered');
      return;
    }
    // Retries can take minutes: keep the group membership alive meanwhile (kafkajs heartbeats only when asked).
    const keepAlive = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
    const outcome = await deliverAlert(alert, {
      url: this.webhook,
      attempts: settings.webhookAttempts,
      timeoutMs: settings.webhookTimeoutMs,
      initialDelayMs: settings.retryInitialMs,
      maxDelayMs: settings.retryMaxMs,
      signal: this.abort.signal,
      onRetry: (err, attempt, delayMs) => {
        this.metrics.webhookAttempts.inc({ result: 'retried' });
        log.warn({ err: err.toJSON(), alert: alert.alert_id, attempt, retryInMs: delayMs }, 'alert webhook failed; retrying');
      },
    }).finally(() => clearInterval(keepAlive));
    this.metrics.webhookAttempts.inc({ result: outcome.delivered ? 'ok' : 'failed' });
    // A shutdown cut the retries short: the alert stays uncommitted and is delivered after the restart.
    if (this.abort.signal.aborted && !outcome.delivered) throw new DriftlineError('SHUTTING_DOWN', `stopping before alert ${alert.alert_id} was delivered; it is delivered after the restart`);
    if (outcome.delivered) {
      print(this.deps.json ? JSON.stringify(alert) : alertLine(alert));
      this.count('delivered');
      return;
    }
    const reason = `webhook delivery failed after ${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'}: ${outcome.error.message}`;
    log.error({ err: outcome.error.toJSON(), alert: alert.alert_id, attempts: outcome.attempts }, 'alert dead-lettered');
    const letter = buildDeadLetter({ stage: 'aggregator', error: new DriftlineError(outcome.error.code, reason, { cause: outcome.error }), raw: message.value ?? null, location });
    await this.deadLetter(letter);
    print(`${this.deps.json ? JSON.stringify({ dead_lettered: alert.alert_id, reason }) : `DEAD-LETTERED ${alertLine(alert)}: ${reason}`}`);
    this.count('deadLettered');
  }

  private async deadLetter(letter: ReturnType<typeof buildDeadLetter>): Promise<void> {
    try {
      await this.producer!.send({ topic: this.deps.settings.deadLetterTopic, acks: -1, messages: [deadLetterMessage(letter)] });
    } catch (err) {
      throw kafkaError(err, `dead-lettering an alert to ${this.deps.settings.deadLetterTopic}`);
    }
  }

  private async commit(partition: number, offset: string): Promise<void> {
    try {
      await this.consumer!.commitOffsets([{ topic: this.deps.core.topicAlerts, partition, offset: String(BigInt(offset) + 1n) }]);
    } catch (err) {
      // The alert is marked handled: a redelivery after this failed commit is dropped as a repeat.
      this.deps.log.warn({ err: toDriftlineError(err).toJSON(), partition, offset }, 'alert offset commit failed; a redelivery is dropped as a repeat');
    }
  }

  /** Graceful stop: cut webhook retries short, let the message in hand finish (or stay uncommitted), leave the group. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.abort.abort();
      await this.consumer?.disconnect().catch((err: unknown) => this.deps.log.warn({ err: String(err) }, 'alert consumer disconnect failed'));
      await this.producer?.disconnect().catch(() => undefined);
      this.deps.log.info({ ...this.counts }, 'alert consumer stopped');
    })();
    return this.stopped;
  }
}
