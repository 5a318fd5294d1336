/**
 * Promotion events: every stage change in the registry is published as a ModelPromotion (Avro,
 * keyed by model name so one model's events stay ordered on one partition), and every serving
 * process follows the topic to hot-swap its model.
 *
 * A follower uses its own consumer group (one per process), so every scorer and API instance sees
 * every event; it starts from the offsets the topic had when it started (never replays old events:
 * at start-up a process loads the registry's production version instead) and commits nothing.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
import type { ModelPromotion } from '../../schemas/types.js';
import { codecFor } from '../avro.js';
import { coreSettings } from '../config.js';
import { DriftlineError, toDriftlineError } from '../errors.js';
import { withRetry } from '../retry.js';
import { ensureTopics, kafkaError } from '../kafka.js';
import { createLogger, type Logger } from '../logger.js';
import type { ModelRegistry, RegisterInput, RegisterResult, StageChange, StageChangeOptions, StageChangeResult } from './registry/index.js';

export function promotionEvent(change: StageChange): ModelPromotion {
  return {
    event_id: randomUUID(),
    model_name: change.model_name,
    version: change.version,
    action: change.action,
    from_stage: change.from_stage,
    to_stage: change.to_stage,
    previous_production_version: change.previous_production_version,
    reason: change.reason,
    actor: change.actor,
    time_ms: change.time_ms,
  };
}

function isKafka(target: Kafka | Producer): target is Kafka {
  return typeof (target as Partial<Kafka>).producer === 'function';
}

/** Publishes one event. Given a Kafka client it opens (and closes) its own producer. */
export async function publishPromotion(target: Kafka | Producer, topic: string, event: ModelPromotion): Promise<void> {
  const value = codecFor('ModelPromotion').encode(event);
  const producer = isKafka(target) ? target.producer({ createPartitioner: Partitioners.DefaultPartitioner }) : target;
  try {
    if (isKafka(target)) await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: event.model_name, value, timestamp: String(event.time_ms) }] });
  } catch (err) {
    throw kafkaError(err, `publishing a ${event.action} event for ${event.model_name} v${event.version}`);
  } finally {
    if (isKafka(target)) await producer.disconnect().catch(() => undefined);
  }
}

export type PromotionListener = (event: ModelPromotion) => void | Promise<void>;

export interface FollowPromotionsOptions {
  kafka: Kafka;
  topic?: string;
  /** Only events of this model reach the listeners (others are counted as ignored). */
  modelName?: string;
  /** Must be unique per process; the default is `${clientId}-promotions-${host}-${pid}-${random}`. */
  groupId?: string;
  onEvent?: PromotionListener;
  /** Called on every (re)join of the group after the first: events may have been missed meanwhile. */
  onRejoin?: () => void;
  logger?: Logger;
  /** Create the topic when missing (default true). */
  createTopic?: boolean;
}

export interface PromotionFollowerStats {
  received: number;
  delivered: number;
  ignored: number;
  undecodable: number;
  listenerErrors: number;
}

export interface PromotionFollower {
  readonly groupId: string;
  /** True while the consumer is in its group (for /ready). */
  isConnected(): boolean;
  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: PromotionListener): () => void;
  /** Adds a re-join hook (see FollowPromotionsOptions.onRejoin); returns a function that removes it. */
  onRejoin(hook: () => void): () => void;
  stats(): PromotionFollowerStats;
  stop(): Promise<void>;
}

export function defaultPromotionsGroupId(clientId = coreSettings.load().kafkaClientId): string {
  return `${clientId}-promotions-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/**
 * Starts following the promotions topic; resolves once the consumer has joined its group and is
 * positioned at the offsets the topic had at start, so any event published after this resolves is seen.
 */
export async function followPromotions(options: FollowPromotionsOptions): Promise<PromotionFollower> {
  const topic = options.topic ?? coreSettings.load().topicPromotions;
  const groupId = options.groupId ?? defaultPromotionsGroupId();
  const log = options.logger ?? createLogger('promotions');
  const codec = codecFor('ModelPromotion');
  const listeners = new Set<PromotionListener>();
  const rejoinHooks = new Set<() => void>();
  if (options.onEvent) listeners.add(options.onEvent);
  if (options.onRejoin) rejoinHooks.add(options.onRejoin);
  const stats: PromotionFollowerStats = { received: 0, delivered: 0, ignored: 0, undecodable: 0, listenerErrors: 0 };

  if (options.createTopic ?? true) await ensureTopics(options.kafka, [topic]);
  const startOffsets = await topicEndOffsets(options.kafka, topic);
  // A short fetch wait: promotions are rare, and stop() waits for the fetch in flight (kafkajs' default 5 s).
  const consumer: Consumer = options.kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });

  let connected = false;
  let joins = 0;
  let stopped = false;
  let markJoined: () => void = () => undefined;
  const firstJoin = new Promise<void>((resolve) => (markJoined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, () => {
    connected = true;
    joins += 1;
    if (joins === 1) {
      // Pin every partition to where the topic ended at start, so nothing published meanwhile is missed.
      // Done on the join itself: run() can resolve before the group has joined (a broker that just
      // started answers "coordinator loading"), and seeking before the join throws.
      runSafely(() => startOffsets.forEach(({ partition, offset }) => consumer.seek({ topic, partition, offset })), log, 'promotion seek');
      markJoined();
    } else for (const hook of rejoinHooks) runSafely(() => hook(), log, 'promotion re-join hook');
  });
  for (const event of [consumer.events.DISCONNECT, consumer.events.STOP, consumer.events.CRASH] as const) {
    consumer.on(event, () => {
      connected = false;
    });
  }

  const deliver = (event: ModelPromotion): void => {
    for (const listener of listeners) {
      // Not awaited: a listener that loads a model must not hold up the consumer's heartbeat.
      Promise.resolve()
        .then(() => listener(event))
        .catch((err: unknown) => {
          stats.listenerErrors += 1;
          log.error({ err: toDriftlineError(err).toJSON(), event_id: event.event_id }, 'promotion listener failed');
        });
    }
  };

  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        stats.received += 1;
        let event: ModelPromotion;
        try {
          event = codec.decode(message.value);
        } catch (err) {
          stats.undecodable += 1;
          log.warn({ err: toDriftlineError(err).toJSON(), topic, partition, offset: message.offset }, 'undecodable promotion event skipped');
          return;
        }
        if (options.modelName !== undefined && event.model_name !== options.modelName) {
          stats.ignored += 1;
          return;
        }
        stats.delivered += 1;
        deliver(event);
      },
    });
    await withDeadline(firstJoin, FIRST_JOIN_TIMEOUT_MS, `joining the promotions group on ${topic}`);
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw kafkaError(err, `following ${topic}`);
  }
  log.info({ topic, groupId, modelName: options.modelName ?? null }, 'following promotion events');

  return {
    groupId,
    isConnected: () => connected && !stopped,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onRejoin(hook) {
      rejoinHooks.add(hook);
      return () => rejoinHooks.delete(hook);
    },
    stats: () => ({ ...stats }),
    async stop() {
      if (stopped) return;
      stopped = true;
      connected = false;
      await consumer.disconnect().catch((err: unknown) => log.warn({ err: String(err) }, 'promotion consumer disconnect failed'));
    },
  };
}

async function topicEndOffsets(kafka: Kafka, topic: string): Promise<Array<{ partition: number; offset: string }>> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, offset: o.high }));
  } catch (err) {
    throw kafkaError(err, `reading the end offsets of ${topic}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

const FIRST_JOIN_TIMEOUT_MS = 60_000;

async function withDeadline(promise: Promise<void>, ms: number, doing: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DriftlineError('KAFKA_UNAVAILABLE', `timed out after ${ms} ms ${doing}`)), ms);
  });
  try {
    await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function runSafely(fn: () => void, log: Logger, what: string): void {
  try {
    fn();
  } catch (err) {
    log.error({ err: String(err) }, `${what} failed`);
  }
}

// ---------------------------------------------------------------------------------------------
// Registry wrapper: stage changes made through it are published

export type PromotionPublisher = (event: ModelPromotion) => Promise<void>;

/** A publisher over one producer (connected lazily, once), retrying transient Kafka failures. */
export function kafkaPromotionPublisher(kafka: Kafka, topic: string = coreSettings.load().topicPromotions): PromotionPublisher & { close(): Promise<void> } {
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  const connect = (): Promise<Producer> => {
    connecting ??= (async () => {
      await ensureTopics(kafka, [topic]);
      const created = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await created.connect();
      producer = created;
      return created;
    })().catch((err: unknown) => {
      connecting = undefined;
      throw kafkaError(err, 'connecting the promotion producer');
    });
    return connecting;
  };
  const publish = async (event: ModelPromotion): Promise<void> => {
    await withRetry(async () => publishPromotion(await connect(), topic, event), { retries: 4, initialDelayMs: 200, maxDelayMs: 3_000 });
  };
  return Object.assign(publish, {
    async close() {
      const open = producer;
      producer = undefined;
      connecting = undefined;
      await open?.disconnect().catch(() => undefined);
    },
  });
}

/**
 * The same registry, but every stage change is published after it is persisted. The registry stays
 * the source of truth: when publishing fails the change is kept and KAFKA_UNAVAILABLE says so
 * (serving processes also re-read the registry on re-join and periodically, see ModelService).
 */
export function publishingRegistry(registry: ModelRegistry, publish: PromotionPublisher): ModelRegistry {
  const publishAll = async (changes: StageChange[]): Promise<void> => {
    for (const change of changes) {
      try {
        await publish(promotionEvent(change));
      } catch (err) {
        const cause = toDriftlineError(err, 'KAFKA_UNAVAILABLE');
        throw new DriftlineError('KAFKA_UNAVAILABLE', `${change.action} of ${change.model_name} v${change.version} was saved, but its event was not published: ${cause.message}`, {
          cause,
          details: { persisted: true, change },
        });
      }
    }
  };
  const changed = async (result: StageChangeResult): Promise<StageChangeResult> => {
    await publishAll([result.change]);
    return result;
  };
  const registered = async (result: RegisterResult | null): Promise<RegisterResult | null> => {
    if (result) await publishAll(result.changes);
    return result;
  };
  return {
    ...registry,
    register: async (input: RegisterInput) => (await registered(await registry.register(input))) as RegisterResult,
    promote: async (name: string, version: number, options: StageChangeOptions) => changed(await registry.promote(name, version, options)),
    rollback: async (name: string, options: StageChangeOptions) => changed(await registry.rollback(name, options)),
    archive: async (name: string, version: number, options: StageChangeOptions) => changed(await registry.archive(name, version, options)),
    seedFromDirectory: async (name: string, srcDir: string, options?: { actor?: string }) => registered(await registry.seedFromDirectory(name, srcDir, options)),
  };
}
