/**
 * `driftline alerts` delivery against a real broker and a real local HTTP server (node:http) standing in
 * for the webhook: a webhook that fails twice then accepts gets each alert once (a copy of an alert and a
 * restart send nothing more); one that always fails gets N attempts, then the alert is on the alerts
 * dead-letter topic with the reason; a 400 is never retried.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { createLogger } from '../../core/logger.js';
import { AlertConsumer } from '../../drift-aggregator/alert-consumer.js';
import { stepWindow } from '../../drift-aggregator/alert-episodes.js';
import type { SlackBody } from '../../drift-aggregator/alert-webhook.js';
import { alertSettings, type AlertSettings } from '../../drift-aggregator/alerts-config.js';
import type { DriftAlert, DriftStatus } from '../../schemas/types.js';
import { collect, testSetup } from './harness.js';

interface Received {
  path: string;
  body: SlackBody;
}

/** A webhook whose answer per request is decided by `answer(n)` (n counts requests to that path from 1). */
class Webhook {
  readonly received: Received[] = [];
  private readonly answers = new Map<string, (n: number) => number>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request: IncomingMessage, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      request.on('end', () => {
        const path = request.url ?? '/';
        this.received.push({ path, body: JSON.parse(text) as SlackBody });
        const n = this.received.filter((r) => r.path === path).length;
        const status = (this.answers.get(path) ?? (() => 200))(n);
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `failure ${n}`);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  route(path: string, answer: (n: number) => number): URL {
    this.answers.set(path, answer);
    return new URL(`${this.url}${path}`);
  }

  requests(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const setup = testSetup();
let core = setup.core;
const redis = new Redis(core.redisUrl);
const webhook = new Webhook();
const log = createLogger('alerts-test', process.env.AGG_TEST_LOG ?? 'silent');
let kafka: Kafka;

function settings(overrides: Partial<AlertSettings> = {}): AlertSettings {
  return alertSettings.load({}, { groupId: `t-${setup.id}-alerts-${randomUUID().slice(0, 6)}`, deadLetterTopic: `t-${setup.id}-alerts-dlq`, webhookAttempts: 3, retryInitialMs: 20, retryMaxMs: 100, webhookTimeoutMs: 2_000, ...overrides });
}

/** Alerts of one episode of `model`: raised red in window 1, recovered in window 3 (same alert_id). */
function episode(model: string): DriftAlert[] {
  const item = (status: DriftStatus) => ({ segment: '__all__', feature: 'feature.text_chars', metric: 'psi', value: status === 'red' ? 0.4 : 0.02, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status });
  const raised = stepWindow({ modelName: model, modelVersion: 1, start: 60_000 }, 60_000, [item('red')], [null], 1);
  const stored = Object.values(raised.updates)[0]!;
  const recovered = stepWindow({ modelName: model, modelVersion: 1, start: 180_000 }, 60_000, [item('green')], [stored], 2);
  return [...raised.alerts, ...recovered.alerts];
}

async function publish(alerts: DriftAlert[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: core.topicAlerts, acks: -1, messages: alerts.map((alert) => ({ key: alert.model_name, value: codecFor('DriftAlert').encode(alert) })) });
  await producer.disconnect();
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A fresh alerts topic for one test (one partition: the alerts of every model in one order). */
async function freshAlertsTopic(): Promise<void> {
  core = { ...setup.core, topicAlerts: `t-${setup.id}-alerts-${randomUUID().slice(0, 6)}` };
  await ensureTopics(kafka, [core.topicAlerts], core, 1);
}

beforeAll(async () => {
  kafka = createKafka(core, 'alerts-test');
  await webhook.start();
});

afterAll(async () => {
  await webhook.close();
  const keys = await redis.keys(`${core.redisPrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('driftline alerts: webhook delivery', () => {
  it('a webhook failing twice then accepting gets each alert once; a copy and a restart send nothing more', async () => {
    await freshAlertsTopic();
    const url = webhook.route('/flaky', (n) => (n <= 2 ? 500 : 200));
    const alerts = episode('flaky-model');
    await publish([alerts[0]!, alerts[0]!, alerts[1]!]); // the raise twice (an outbox re-send), then the recovery
    const groupSettings = settings();
    const printed: string[] = [];
    const first = new AlertConsumer({ core, settings: groupSettings, kafka, redis, log, print: (line) => printed.push(line) }, url);
    await first.start();
    await waitFor('both alerts delivered and the copy dropped', () => first.counts.delivered === 2 && first.counts.duplicates === 1);
    await first.stop();

    const requests = webhook.requests('/flaky');
    expect(requests).toHaveLength(4); // 500, 500, then the raise accepted, then the recovery
    const accepted = requests.slice(2).map((r) => r.body);
    expect(accepted.map((b) => b.text.split(' ').slice(0, 3).join(' '))).toEqual(['RED raised green→red', 'GREEN recovered red→green']);
    expect(accepted.every((b) => b.text.includes(alerts[0]!.alert_id))).toBe(true);
    expect(accepted[1]!.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn', text: expect.stringContaining('*Drift recovered*: flaky-model v1, segment all, feature.text_chars psi is now *green* (was red)') } });
    expect(printed).toHaveLength(2);
    expect(first.counts.deadLettered).toBe(0);
    const metric = async (name: string): Promise<Record<string, number>> =>
      Object.fromEntries(((await first.metrics.registry.getSingleMetric(name)!.get()).values).map((v) => [String(Object.values(v.labels)[0]), v.value]));
    expect(await metric('driftline_alerts_handled_total')).toEqual({ delivered: 2, duplicate: 1 });
    expect(await metric('driftline_alerts_webhook_attempts_total')).toEqual({ retried: 2, ok: 2 });

    // A restart of the same group: offsets were committed, and a late copy is recognised from Redis.
    await publish([alerts[1]!]);
    const second = new AlertConsumer({ core, settings: groupSettings, kafka, redis, log, print: (line) => printed.push(line) }, url);
    await second.start();
    await waitFor('the late copy dropped', () => second.counts.duplicates === 1, 60_000);
    await second.stop();
    expect(second.counts.delivered).toBe(0);
    expect(webhook.requests('/flaky')).toHaveLength(4);
  }, 90_000);

  it('a webhook that always fails gets N attempts, then the alert is dead-lettered with the reason; a 400 is not retried', async () => {
    await freshAlertsTopic();
    const down = webhook.route('/down', () => 503);
    const [raised] = episode('down-model');
    const groupSettings = settings();
    await publish([raised!]);
    const consumer = new AlertConsumer({ core, settings: groupSettings, kafka, redis, log, print: () => undefined }, down);
    await consumer.start();
    await waitFor('the alert dead-lettered', () => consumer.counts.deadLettered === 1);
    await consumer.stop();
    expect(webhook.requests('/down')).toHaveLength(3);
    expect(consumer.counts.delivered).toBe(0);
    // The dead-lettered alert was committed: the group starts again and tries nothing.
    const again = new AlertConsumer({ core, settings: groupSettings, kafka, redis, log, print: () => undefined }, down);
    await again.start();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await again.stop();
    expect(webhook.requests('/down')).toHaveLength(3);

    const refused = webhook.route('/refused', () => 400);
    const [other] = episode('refused-model');
    await publish([other!]);
    const groupRefused = settings({ deadLetterTopic: groupSettings.deadLetterTopic });
    // A new group reads the topic from the beginning: both alerts, each tried once against the 400.
    const second = new AlertConsumer({ core, settings: groupRefused, kafka, redis, log, print: () => undefined }, refused);
    await second.start();
    await waitFor('both alerts dead-lettered without retries', () => second.counts.deadLettered === 2);
    await second.stop();
    expect(webhook.requests('/refused')).toHaveLength(2);

    // The dead-letter topic has several partitions: compare without order.
    const letters = (await collect(kafka, groupSettings.deadLetterTopic, 'DeadLetter', { expected: 3 })).map((l) => l.value);
    expect(letters.map((l) => `${l.error_code} ${l.source_topic} ${l.stage}`).sort()).toEqual([
      `WEBHOOK_REFUSED ${core.topicAlerts} aggregator`,
      `WEBHOOK_REFUSED ${core.topicAlerts} aggregator`,
      `WEBHOOK_UNAVAILABLE ${core.topicAlerts} aggregator`,
    ]);
    const unavailable = letters.find((l) => l.error_code === 'WEBHOOK_UNAVAILABLE')!;
    expect(unavailable.reason).toMatch(/^webhook delivery failed after 3 attempts: POST http:\/\/127\.0\.0\.1:\d+\/down answered 503/);
    expect(letters.filter((l) => l.error_code === 'WEBHOOK_REFUSED').every((l) => /after 1 attempt: .* answered 400/.test(l.reason))).toBe(true);
    // The dead letter holds the alert itself, readable as a DriftAlert.
    expect(codecFor('DriftAlert').decode(unavailable.raw).alert_id).toBe(raised!.alert_id);
  }, 120_000);
});
