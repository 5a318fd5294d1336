/**
 * The scorer's per-partition transactional producers against the real broker, counted through a TCP proxy
 * (tests/support/kafka-proxy.ts): every connection a producer opened is closed again, also when its
 * warm-up transaction fails (as it does through a coordinator outage, once per partition per back-off).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { PartitionProducers } from '../../scorer/producers.js';
import { proxiedKafka, startKafkaProxy, type KafkaProxy } from '../support/kafka-proxy.js';

const log = createLogger('test-producers', 'silent');
let proxy: KafkaProxy;

async function openConnectionsSettle(expected: number, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (proxy.open !== expected && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 50));
  return proxy.open;
}

beforeAll(async () => {
  proxy = await startKafkaProxy();
});

afterAll(async () => {
  await proxy?.close();
});

describe('scorer partition producers', () => {
  it('disconnects a producer whose warm-up transaction failed: no connection is left open', async () => {
    const kafka = proxiedKafka(proxy, `producers-${randomUUID().slice(0, 8)}`, { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } });
    // A transaction timeout over the broker's transaction.max.timeout.ms: InitProducerId is refused
    // (INVALID_TRANSACTION_TIMEOUT) after the producer has connected, every time, at once.
    const producers = new PartitionProducers(kafka, { transactionalIdFor: (partition) => `t-leak-${randomUUID()}-${partition}`, transactionTimeoutMs: 2_000_000_000 }, log);
    for (let attempt = 0; attempt < 3; attempt++) await expect(producers.acquire(attempt % 2)).rejects.toThrow();
    expect(producers.size).toBe(0);
    expect(proxy.accepted).toBeGreaterThanOrEqual(3); // they did connect before the warm-up failed
    expect(await openConnectionsSettle(0)).toBe(0);
  });

  it('closes the connections of a producer that warmed up when it is closed', async () => {
    const kafka = proxiedKafka(proxy, `producers-${randomUUID().slice(0, 8)}`);
    const producers = new PartitionProducers(kafka, { transactionalIdFor: (partition) => `t-ok-${randomUUID()}-${partition}`, transactionTimeoutMs: 30_000 }, log);
    const before = proxy.open;
    const lease = await producers.acquire(0);
    expect(proxy.open).toBeGreaterThan(before);
    producers.release(lease);
    await producers.closeAll();
    expect(await openConnectionsSettle(before)).toBe(before);
  });
});
