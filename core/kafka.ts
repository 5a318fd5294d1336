/**
 * Kafka wiring (kafkajs): one client factory, the project's topic admin, and error mapping.
 * Topics are created here, never auto-created, so partitions are what configuration says.
 */
import { createRequire } from 'node:module';
import kafkajs, { Kafka, logLevel as KafkaLogLevel, type ITopicConfig, type KafkaConfig, type LogEntry } from 'kafkajs';
import { coreSettings, type CoreSettings } from './config.js';
import { DriftlineError } from './errors.js';
import { backoffDelayMs } from './retry.js';
import { createLogger } from './logger.js';

// kafkajs warns once per producer that its default partitioner changed in 2.0; Driftline was written for
// the 2.x (murmur2, Java-compatible) partitioner, so the warning says nothing to our users.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/**
 * The client-wide retry policy, which idempotent (and transactional) producers inherit: finite.
 *
 * kafkajs warns that limiting an idempotent producer's retries "may invalidate EoS guarantees". The reason:
 * when a send gives up, its batch may be on the topic all the same (the answer was lost), and kafkajs takes
 * the batch's sequence numbers back, so the next send to that partition reuses them. The broker drops that
 * next send as a copy only when it is the same batch (same records per partition); a different batch gets
 * OUT_OF_ORDER_SEQUENCE_NUMBER, which no retry heals. Unlimited retries would avoid that, but a send would
 * then hang through a whole outage, and shutdown with it. So Driftline keeps the retries finite, and every
 * idempotent producer follows one rule after a failed send:
 *  - re-send exactly the same batch on the same producer (ingest's Batcher, the aggregator's AlertOutbox;
 *    the aggregator's dead letters are rebuilt from the same redelivered records, unless a rebalance moved
 *    that input partition away before the redelivery), or
 *  - throw the producer away (the scorer's transactional producers: the transaction is aborted and the next
 *    producer's InitProducerId bumps the epoch, which resets every sequence).
 */
export const KAFKA_CLIENT_RETRY = { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 } as const;

/** kafkajs' warning on every idempotent producer with finite retries (see KAFKA_CLIENT_RETRY). */
export const IDEMPOTENT_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

export function createKafka(settings: CoreSettings = coreSettings.load(), clientSuffix = 'client', extra: Partial<KafkaConfig> = {}): Kafka {
  const log = createLogger(`kafka.${clientSuffix}`);
  return new Kafka({
    clientId: `${settings.kafkaClientId}-${clientSuffix}`,
    brokers: settings.kafkaBrokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { ...KAFKA_CLIENT_RETRY },
    // kafkajs's debug lines (every request) only when our own level asks for debug.
    logLevel: log.isLevelEnabled('debug') ? KafkaLogLevel.DEBUG : KafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      log[pinoLevelOf(entry)](rest, message);
    },
    ...extra,
  });
}

// kafkajs's own table of broker error codes (no typings; kafkajs has no exports map, so the file is reachable).
const { errorCodes: BROKER_ERRORS } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: Array<{ message: string; retriable: boolean }> };
/** Messages of the broker errors kafkajs retries by itself (GROUP_COORDINATOR_NOT_AVAILABLE, NOT_LEADER_FOR_PARTITION, ...). */
const RETRIED_BROKER_ERRORS = new Set(BROKER_ERRORS.filter((error) => error.retriable).map((error) => error.message));

/**
 * The level a kafkajs log entry is logged at. kafkajs logs every failed request at error level, also
 * those it retries itself (a group coordinator still starting, a leader moving, CONCURRENT_TRANSACTIONS
 * right after a commit). A retry that may still succeed is not an error of ours: those go to debug, and
 * when kafkajs gives up, the caller gets the error and reports it.
 */
export function pinoLevelOf(entry: Pick<LogEntry, 'level' | 'log'>): 'error' | 'warn' | 'debug' {
  const { message, ...rest } = entry.log;
  const error = String(rest.error ?? message);
  if ('retryCount' in rest || RETRIED_BROKER_ERRORS.has(error) || /concurrent operation on the same transaction/.test(error)) return 'debug';
  // Finite retries are kept on purpose, and made safe by the rule in KAFKA_CLIENT_RETRY's comment.
  if (message === IDEMPOTENT_RETRIES_WARNING) return 'debug';
  if (entry.level <= KafkaLogLevel.ERROR) return 'error';
  return entry.level === KafkaLogLevel.WARN ? 'warn' : 'debug';
}

export function driftlineTopics(settings: CoreSettings): string[] {
  return [settings.topicReviews, settings.topicScored, settings.topicDeadLetter, settings.topicPromotions, settings.topicAlerts];
}

/**
 * Creates any missing topics with the configured partition count; returns the names it created.
 * Retried when the broker answered with a protocol error (a just-created topic whose leader is not
 * known yet, seen on a loaded machine). An unreachable broker is not retried again: the client has
 * already spent its own retries on that, and the caller should hear about it.
 */
/** Topic creation right after a broker start can race its metadata; short waits suffice. */
const TOPIC_CREATE_BACKOFF = { initialDelayMs: 500, maxDelayMs: 8_000 } as const;

export async function ensureTopics(
  kafka: Kafka,
  topics: string[],
  settings: CoreSettings = coreSettings.load(),
  partitions = settings.topicPartitions,
  attempts = 5,
): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createMissingTopics(kafka, topics, settings, partitions);
    } catch (err) {
      if (!brokerAnswered(err) || attempt >= attempts) throw kafkaError(err, 'creating topics');
      await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(attempt, TOPIC_CREATE_BACKOFF)));
    }
  }
}

async function createMissingTopics(kafka: Kafka, topics: string[], settings: CoreSettings, partitions: number): Promise<string[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics
      .filter((topic) => !existing.has(topic))
      .map((topic) => ({ topic, numPartitions: partitions, replicationFactor: settings.topicReplication }));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
    return missing.map((t) => t.topic);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// kafkajs is CommonJS: its error classes are reachable only through the default export under ESM.
const { KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** True when somewhere in the cause chain the broker answered with a protocol error (it is up, just not ready). */
function brokerAnswered(err: unknown): boolean {
  for (let cause: unknown = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof KafkaJSProtocolError) return true;
  }
  return false;
}

/**
 * True when a Kafka failure may heal by itself if the same request is tried again later: connection
 * refused or closed (broker restarting), request timed out, and the protocol errors kafkajs marks
 * retriable (LEADER_NOT_AVAILABLE, NOT_LEADER_FOR_PARTITION, NOT_COORDINATOR, NOT_ENOUGH_REPLICAS, ...),
 * plus BROKER_NOT_AVAILABLE, which Kafka marks final but which a broker still starting up can answer.
 * False for what another try cannot fix (MESSAGE_TOO_LARGE, authorization, OUT_OF_ORDER_SEQUENCE_NUMBER,
 * UNKNOWN_PRODUCER_ID) and for anything that is not a Kafka error (a TypeError is a bug).
 *
 * kafkajs wraps the last error when its own retries run out (KafkaJSNumberOfRetriesExceeded) or when the
 * reconnect inside a retry failed (a bare KafkaJSNonRetriableError around the connection error). Those
 * wrappers say "kafkajs stopped trying", not "this cannot heal", so the wrapped error decides; likewise
 * for our KAFKA_UNAVAILABLE around a kafkajs error.
 */
export function isTransientKafkaError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof DriftlineError) {
      if (!current.retriable || !(current.cause instanceof Error)) return current.retriable;
      current = current.cause;
      continue;
    }
    if (!(current instanceof KafkaJSError)) return false;
    if (current instanceof KafkaJSProtocolError && current.type === 'BROKER_NOT_AVAILABLE') return true;
    const stoppedTrying = current instanceof KafkaJSNumberOfRetriesExceeded || current.constructor === KafkaJSNonRetriableError;
    if (!stoppedTrying || !(current.cause instanceof Error)) return current.retriable;
    current = current.cause;
  }
  return false;
}

/** Maps a kafkajs failure to KAFKA_UNAVAILABLE (retriable) unless it already is a DriftlineError. */
export function kafkaError(err: unknown, doing: string): DriftlineError {
  if (err instanceof DriftlineError) return err;
  return new DriftlineError('KAFKA_UNAVAILABLE', `Kafka failed while ${doing}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
