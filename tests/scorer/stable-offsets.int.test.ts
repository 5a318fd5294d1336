/**
 * The committed-offset re-read after fencing, against the real broker: while a transaction has sent offsets
 * for the group and not yet committed them, a plain OffsetFetch (what kafkajs' admin.fetchOffsets sends)
 * answers the offset from before; the stable fetch (OffsetFetch v7, require_stable) waits and answers the
 * new one. Pending offsets are held open deterministically here by not committing the transaction yet.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { createLogger } from '../../core/logger.js';
import { createStableOffsetFetcher, type StableOffsetFetcher } from '../../scorer/stable-offsets.js';

const core = coreSettings.load();
const kafka = createKafka(core, 'test-stable-offsets');
const topic = `t-stable-offsets-${randomUUID()}`;
const groupId = `g-stable-offsets-${randomUUID()}`;
let admin: Admin;
let producer: Producer;
let fetcher: StableOffsetFetcher;

async function plainCommitted(): Promise<string | undefined> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return entry?.partitions.find((p) => p.partition === 0)?.offset;
}

async function sendOffsets(offset: string): Promise<{ commit(): Promise<void> }> {
  const transaction = await producer.transaction();
  await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset }] }] });
  return transaction;
}

beforeAll(async () => {
  await ensureTopics(kafka, [topic], core, 1);
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ transactionalId: `t-stable-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  fetcher = createStableOffsetFetcher({
    kafka,
    groupId,
    topic,
    log: createLogger('test-stable-offsets', 'silent'),
    fallback: async () => {
      throw new Error('the test broker speaks OffsetFetch v7');
    },
  });
});

afterAll(async () => {
  await fetcher?.close();
  await producer?.disconnect().catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
});

describe('stable committed-offset fetch', () => {
  it('connects before the group exists (as the scorer does before joining), answers null before any commit and the committed offset after one', async () => {
    await fetcher.connect();
    expect(await fetcher.committed(0)).toBeNull();
    await (await sendOffsets('5')).commit();
    expect(await fetcher.committed(0)).toBe(5n);
  });

  it('waits while a transaction has offsets pending, where a plain fetch answers the older offset', async () => {
    const pending = await sendOffsets('9');
    expect(await plainCommitted()).toBe('5'); // the window: the old re-read would resume from 5
    const before = fetcher.unstableAnswers;
    const stable = fetcher.committed(0);
    while (fetcher.unstableAnswers === before) await new Promise((resolve) => setTimeout(resolve, 10));
    await pending.commit();
    expect(await stable).toBe(9n);
  });
});
