/**
 * The alert outbox against a real broker behind a TCP proxy that cuts the connection after the broker has
 * written a produce request but before its answer arrives: the send fails, yet the batch is on the topic.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { coreSettings } from '../../core/config.js';
import { stepWindow } from '../../drift-aggregator/alert-episodes.js';
import { AlertOutbox } from '../../drift-aggregator/alerts.js';
import type { DriftAlert } from '../../schemas/types.js';
import { API_KEYS, proxiedKafka, startKafkaProxy, type KafkaProxy } from '../support/kafka-proxy.js';
import { createTestTopics, readAll, type TestTopics } from '../support/kafka.js';

const redis = new Redis(coreSettings.load().redisUrl);
const prefix = `t-outbox-${randomUUID()}`;
let topics: TestTopics;
let proxy: KafkaProxy;
let producer: Producer;

/** A red alert of window number `n` (distinct alert ids, one model: one key, one partition). */
function alertJson(n: number): string {
  const [alert] = stepWindow({ modelName: 'outbox-model', modelVersion: 1, start: n * 60_000 }, 60_000, [
    { segment: '__all__', feature: 'rating', metric: 'psi', value: 0.5, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status: 'red' },
  ], [null], 1_000 + n).alerts;
  return JSON.stringify(alert);
}

beforeAll(async () => {
  topics = await createTestTopics('outbox', { partitions: 1 });
  proxy = await startKafkaProxy();
  // Few, fast client retries: the same policy as production (finite kafkajs retries), only quicker to run out.
  const kafka = proxiedKafka(proxy, `outbox-${randomUUID().slice(0, 8)}`, { retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } });
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  await proxy?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('alert outbox', () => {
  it('re-sends exactly the batch whose answer was lost, though the list grew meanwhile, and every alert lands once', async () => {
    const outbox = new AlertOutbox(redis, `${prefix}:list`, `${prefix}:lock`);
    const expected = [1, 2, 3, 4].map(alertJson);
    await redis.rpush(`${prefix}:list`, expected[0]!, expected[1]!);

    const cut = proxy.cutAfterRequest(API_KEYS.produce);
    await expect(outbox.drain(producer, topics.alerts)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    await cut;
    expect(outbox.inDoubtCount).toBe(2);

    await redis.rpush(`${prefix}:list`, expected[2]!); // a window closed while the send was in doubt
    proxy.heal();
    expect(await outbox.drain(producer, topics.alerts)).toBe(3);
    expect(await redis.llen(`${prefix}:list`)).toBe(0);

    // Alerts for that key keep flowing afterwards.
    await redis.rpush(`${prefix}:list`, expected[3]!);
    expect(await outbox.drain(producer, topics.alerts)).toBe(1);

    const messages = await readAll(topics.alerts, { idleMs: 3_000, timeoutMs: 30_000 });
    const codec = codecFor('DriftAlert');
    const ids = messages.map((m) => codec.decode(m.value!).alert_id);
    expect(ids).toEqual(expected.map((text) => (JSON.parse(text) as DriftAlert).alert_id));
  });

  it('does not remove entries another instance already published and removed after a failed send', async () => {
    const list = `${prefix}:list2`;
    const lock = `${prefix}:lock2`;
    const outbox = new AlertOutbox(redis, list, lock);
    await redis.rpush(list, alertJson(11), alertJson(12));
    const cut = proxy.cutAfterRequest(API_KEYS.produce);
    await expect(outbox.drain(producer, topics.alerts)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    await cut;
    proxy.heal();
    // Another aggregator instance (its own producer) published and removed them; then a new alert came.
    await redis.ltrim(list, 2, -1);
    await redis.rpush(list, alertJson(13));
    expect(await outbox.drain(producer, topics.alerts)).toBe(3);
    expect(await redis.lrange(list, 0, -1)).toEqual([]);
  });
});
