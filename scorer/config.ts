/**
 * The scorer's environment variables (DRIFTLINE_SCORER_*). Kafka brokers, topic names, the registry
 * directory and the log level come from core/config.ts (coreSettings).
 */
import { hostname } from 'node:os';
import { defineSettings, setting, type Settings } from '../core/config.js';

export const scorerSettings = defineSettings('scorer', {
  groupId: setting({ env: 'DRIFTLINE_SCORER_GROUP_ID', kind: 'string', default: 'driftline-scorer', description: 'Consumer group of the scorer processes (they share the reviews partitions).' }),
  instanceId: setting({
    env: 'DRIFTLINE_SCORER_INSTANCE_ID',
    kind: 'string',
    default: '',
    description: 'Name of this scorer process in logs, client ids and its promotions subscription. Empty: <hostname>-<pid>.',
  }),
  transactionalIdPrefix: setting({
    env: 'DRIFTLINE_SCORER_TRANSACTIONAL_ID_PREFIX',
    kind: 'string',
    default: 'driftline-scorer',
    description: 'Prefix of the transactional ids `<prefix>-<group>-<topic>-<partition>` (one producer per input partition).',
  }),
  modelName: setting({ env: 'DRIFTLINE_SCORER_MODEL_NAME', kind: 'string', default: 'reviews', description: 'Registry model name whose production version scores.' }),
  seedModelDir: setting({
    env: 'DRIFTLINE_SCORER_SEED_MODEL_DIR',
    kind: 'string',
    default: 'models/default',
    description: 'When the registry has no production version of the model, register and promote this shipped model directory first. Empty: never seed.',
  }),
  maxRecordsPerTransaction: setting({
    env: 'DRIFTLINE_SCORER_MAX_TXN_RECORDS',
    kind: 'int',
    default: 5_000,
    min: 1,
    description: 'Most input records scored and committed in one transaction (a fetched partition batch is split into transactions of at most this many; fewer, larger transactions cost the main thread and the broker less per record).',
  }),
  maxBytesPerPartition: setting({
    env: 'DRIFTLINE_SCORER_MAX_BYTES_PER_PARTITION',
    kind: 'int',
    default: 4_194_304,
    min: 1_024,
    description: 'Fetch size per partition (kafkajs maxBytesPerPartition): bounds the batch a partition delivers at once (4 MiB: about 4,700 reviews, one transaction).',
  }),
  schemaHeaders: setting({
    env: 'DRIFTLINE_SCORER_SCHEMA_HEADERS',
    kind: 'boolean',
    default: false,
    description:
      'Stamp every scored event with the constant Kafka headers `content-type: avro/binary` and `schema: ScoredReview` (what scored events carried before 2026-12-07). Off: no headers but W3C trace context (the value\'s Avro single-object header names its schema); kafkajs encodes every header of every record on its own, about a quarter of the producer\'s per-record cost.',
  }),
  overlapFetch: setting({
    env: 'DRIFTLINE_SCORER_OVERLAP_FETCH',
    kind: 'boolean',
    default: true,
    description:
      'Score and commit a partition batch that fills at least half its fetch (DRIFTLINE_SCORER_MAX_BYTES_PER_PARTITION: a backlog) while the consumer already fetches the next ones; kafkajs fetches again only once every batch of its last fetch is handled. Consumed offsets still commit inside the transactions, in order; a failed transaction moves its partition\'s fetch position back to it. Smaller batches (a stream below capacity) and every batch with false commit before the next fetch, so the records that arrive meanwhile gather into one next batch.',
  }),
  fetchMinBytes: setting({ env: 'DRIFTLINE_SCORER_FETCH_MIN_BYTES', kind: 'int', default: 1, min: 1, description: 'Fetch minBytes: the broker answers a fetch once this much data is there (or after DRIFTLINE_SCORER_FETCH_MAX_WAIT_MS).' }),
  fetchMaxWaitMs: setting({ env: 'DRIFTLINE_SCORER_FETCH_MAX_WAIT_MS', kind: 'int', default: 100, min: 0, description: 'Longest wait of a fetch for DRIFTLINE_SCORER_FETCH_MIN_BYTES (kafkajs maxWaitTimeInMs).' }),
  concurrency: setting({
    env: 'DRIFTLINE_SCORER_CONCURRENCY',
    kind: 'int',
    default: 3,
    min: 1,
    description: 'Partition batches processed at the same time (kafkajs partitionsConsumedConcurrently); each has its own transactional producer.',
  }),
  sessionTimeoutMs: setting({ env: 'DRIFTLINE_SCORER_SESSION_TIMEOUT_MS', kind: 'int', default: 30_000, min: 6_000, description: 'Consumer group session timeout: how soon a dead scorer\'s partitions move.' }),
  heartbeatIntervalMs: setting({ env: 'DRIFTLINE_SCORER_HEARTBEAT_MS', kind: 'int', default: 3_000, min: 100, description: 'Consumer group heartbeat interval.' }),
  transactionTimeoutMs: setting({ env: 'DRIFTLINE_SCORER_TRANSACTION_TIMEOUT_MS', kind: 'int', default: 60_000, min: 1_000, description: 'Transaction timeout the broker enforces on an open scorer transaction.' }),
  fromBeginning: setting({
    env: 'DRIFTLINE_SCORER_FROM_BEGINNING',
    kind: 'boolean',
    default: true,
    description: 'Where a new consumer group starts: true = the oldest review in the topic (nothing is skipped), false = only new reviews.',
  }),
  retryBackoffMs: setting({ env: 'DRIFTLINE_SCORER_RETRY_BACKOFF_MS', kind: 'int', default: 500, min: 0, description: 'Pause before a partition batch whose transaction failed is fetched and tried again (doubles up to 10 s).' }),
  metricsPort: setting({ env: 'DRIFTLINE_SCORER_METRICS_PORT', kind: 'int', default: 9464, min: 0, max: 65_535, description: 'Port of GET /metrics (Prometheus), /health (liveness) and /ready (readiness); 0 = no metrics server.' }),
  metricsHost: setting({ env: 'DRIFTLINE_SCORER_METRICS_HOST', kind: 'string', default: '127.0.0.1', description: 'Interface the metrics server listens on (0.0.0.0 in containers).' }),
  shadow: setting({
    env: 'DRIFTLINE_SHADOW',
    kind: 'string',
    default: 'off',
    choices: ['off', 'staging'],
    description:
      'Shadow scoring: staging = also score every batch with the newest staging version of the model that is newer than production, and publish those events to DRIFTLINE_TOPIC_SHADOW in the same transaction (re-checked on start and on every registration/promotion event); off = production only.',
  }),
  shadowTimeoutMs: setting({
    env: 'DRIFTLINE_SHADOW_TIMEOUT_MS',
    kind: 'int',
    default: 5_000,
    min: 1,
    description: 'Longest time the shadow model may take to score one transaction batch; past it the batch is committed without shadow events (counted as a shadow failure).',
  }),
  lagIntervalMs: setting({ env: 'DRIFTLINE_SCORER_LAG_INTERVAL_MS', kind: 'int', default: 10_000, min: 0, description: 'How often the consumer lag gauge is refreshed from the broker; 0 = never.' }),
});

export type ScorerSettings = Settings<typeof scorerSettings.spec>;

/** The instance id used when DRIFTLINE_SCORER_INSTANCE_ID is empty. */
export function instanceIdOf(settings: ScorerSettings): string {
  return settings.instanceId || `${hostname()}-${process.pid}`;
}

/** Transactional id of the producer that owns one input partition (stable across restarts and processes). */
export function transactionalIdFor(settings: ScorerSettings, topic: string, partition: number): string {
  return `${settings.transactionalIdPrefix}-${settings.groupId}-${topic}-${partition}`;
}
