/**
 * Kafka helpers for integration tests (real broker from scripts/services.sh, never a mock):
 * - createTestTopics(prefix): unique topic names for one test, created with the project's ensureTopics
 *   (core ensureTopics, which retries while the broker elects leaders for new topics).
 * - readAll(topic, ...): everything on a topic from the beginning, through a fresh consumer group.
 */
import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka } from 'kafkajs';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';

export interface TestTopics {
  reviews: string;
  scored: string;
  deadLetter: string;
  promotions: string;
  alerts: string;
  /** Core settings whose topic names are these test topics (pass to components under test). */
  settings: CoreSettings;
  kafka: Kafka;
}

export interface CreateTestTopicsOptions {
  partitions?: number;
  kafka?: Kafka;
}

/** Names like `t-<prefix>-<uuid>-reviews`, all created (with `partitions`, default the configured count). */
export async function createTestTopics(prefix: string, options: CreateTestTopicsOptions = {}): Promise<TestTopics> {
  const base = `t-${prefix}-${randomUUID()}`;
  const defaults = coreSettings.load();
  const settings: CoreSettings = {
    ...defaults,
    topicReviews: `${base}-reviews`,
    topicScored: `${base}-scored`,
    topicDeadLetter: `${base}-dead-letter`,
    topicPromotions: `${base}-promotions`,
    topicAlerts: `${base}-alerts`,
    ...(options.partitions === undefined ? {} : { topicPartitions: options.partitions }),
  };
  const kafka = options.kafka ?? createKafka(settings, `test-${prefix}`);
  const topics = [settings.topicReviews, settings.topicScored, settings.topicDeadLetter, settings.topicPromotions, settings.topicAlerts];
  await ensureTopics(kafka, topics, settings); // ensureTopics, retried while a loaded broker settles leaders
  return {
    reviews: settings.topicReviews,
    scored: settings.topicScored,
    deadLetter: settings.topicDeadLetter,
    promotions: settings.topicPromotions,
    alerts: settings.topicAlerts,
    settings,
    kafka,
  };
}

export interface ReadMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
  timestamp: string;
}

export interface ReadAllOptions {
  /** Stop as soon as this many messages arrived. */
  count?: number;
  /** Stop when nothing new arrived for this long after the consumer got its partitions (default 2,000 ms). */
  idleMs?: number;
  /** Give up and return what arrived (default 60,000 ms); a short read then fails the test's own assertion. */
  timeoutMs?: number;
  /** Default read_committed: aborted transactions are invisible, as for any real consumer. */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
  kafka?: Kafka;
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/** All messages of a topic from offset 0, sorted by partition then offset. */
export async function readAll(topic: string, options: ReadAllOptions = {}): Promise<ReadMessage[]> {
  const kafka = options.kafka ?? createKafka(coreSettings.load(), 'test-reader');
  const idleMs = options.idleMs ?? 2_000;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const groupId = `t-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: options.isolationLevel === 'read_uncommitted', maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  const messages: ReadMessage[] = [];
  let joined = false;
  let lastArrival = Date.now();
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    lastArrival = Date.now();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({ key: message.key, value: message.value, headers: headerStrings(message.headers), partition, offset: message.offset, timestamp: message.timestamp });
        lastArrival = Date.now();
      },
    });
    const started = Date.now();
    for (;;) {
      if (options.count !== undefined && messages.length >= options.count) break;
      if (options.count === undefined && joined && Date.now() - lastArrival >= idleMs) break;
      if (Date.now() - started >= timeoutMs) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  await deleteGroup(kafka, groupId);
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // Cleanup only: an empty group the broker has not registered yet is not worth failing a test over.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
