/**
 * Configuration by documented environment variables.
 *
 * Each component declares its settings with `defineSettings` (one declaration per component, in its
 * own config.ts); every declaration registers itself in `SETTINGS_CATALOG`, from which docs/configuration.md's
 * configuration table is checked by a test. Parsing fails fast with CONFIG_INVALID naming the variable.
 */
import { DriftlineError } from './errors.js';

type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list';
/** A setting's parsed type; a string setting with `choices` is the union of its choices. */
type ValueOf<K extends Kind, C extends string = string> = K extends 'string'
  ? C
  : K extends 'int' | 'number'
    ? number
    : K extends 'boolean'
      ? boolean
      : string[];

export interface SettingSpec<K extends Kind = Kind, C extends string = string> {
  env: string;
  kind: K;
  /** One of the choices when there are some (NoInfer: the choices alone decide the setting's type). */
  default: ValueOf<K, NoInfer<C>>;
  description: string;
  min?: number;
  max?: number;
  choices?: readonly C[];
}

export type SettingsSpec = Record<string, SettingSpec>;
export type Settings<S extends SettingsSpec> = { [P in keyof S]: S[P]['default'] };

export interface SettingsDeclaration<S extends SettingsSpec> {
  component: string;
  spec: S;
  load(env?: NodeJS.ProcessEnv, overrides?: Partial<Settings<S>>): Settings<S>;
}

export const SETTINGS_CATALOG: SettingsDeclaration<SettingsSpec>[] = [];

/**
 * Helper for a typed spec entry: keeps the literal `kind`, and with `choices` the literal union of them
 * (inferred from the choices only, so the default must be one of them and a setting without choices stays `string`).
 */
export function setting<K extends Kind, const C extends string = string>(spec: SettingSpec<K, C>): SettingSpec<K, C> {
  return spec;
}

function invalid(spec: SettingSpec, raw: string, why: string): DriftlineError {
  return new DriftlineError('CONFIG_INVALID', `${spec.env}=${JSON.stringify(raw)}: ${why}`, { field: spec.env });
}

function parseValue(spec: SettingSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw invalid(spec, raw, `expected one of ${spec.choices.join(', ')}`);
      return raw;
    case 'int':
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw invalid(spec, raw, 'expected a number');
      if (spec.kind === 'int' && !Number.isInteger(value)) throw invalid(spec, raw, 'expected an integer');
      if (spec.min !== undefined && value < spec.min) throw invalid(spec, raw, `must be >= ${spec.min}`);
      if (spec.max !== undefined && value > spec.max) throw invalid(spec, raw, `must be <= ${spec.max}`);
      return value;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw invalid(spec, raw, 'expected true or false');
    case 'list':
      return raw.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
  }
}

export function defineSettings<S extends SettingsSpec>(component: string, spec: S): SettingsDeclaration<S> {
  const declaration: SettingsDeclaration<S> = {
    component,
    spec,
    load(env = process.env, overrides = {}) {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(spec)) {
        const raw = env[entry.env];
        out[key] = raw === undefined || raw === '' ? entry.default : parseValue(entry, raw);
      }
      return { ...out, ...overrides } as Settings<S>;
    },
  };
  SETTINGS_CATALOG.push(declaration as unknown as SettingsDeclaration<SettingsSpec>);
  return declaration;
}

/** Settings every component shares: where the services are and what the topics are called. */
export const coreSettings = defineSettings('core', {
  kafkaBrokers: setting({ env: 'DRIFTLINE_KAFKA_BROKERS', kind: 'list', default: ['127.0.0.1:9092'], description: 'Kafka bootstrap brokers, comma-separated.' }),
  kafkaClientId: setting({ env: 'DRIFTLINE_KAFKA_CLIENT_ID', kind: 'string', default: 'driftline', description: 'Kafka client id prefix.' }),
  topicPartitions: setting({ env: 'DRIFTLINE_TOPIC_PARTITIONS', kind: 'int', default: 3, min: 1, description: 'Partitions of each topic the admin code creates.' }),
  topicReplication: setting({ env: 'DRIFTLINE_TOPIC_REPLICATION', kind: 'int', default: 1, min: 1, description: 'Replication factor of created topics.' }),
  topicReviews: setting({ env: 'DRIFTLINE_TOPIC_REVIEWS', kind: 'string', default: 'driftline.reviews', description: 'Topic of incoming ReviewEvent records.' }),
  topicScored: setting({ env: 'DRIFTLINE_TOPIC_SCORED', kind: 'string', default: 'driftline.scored', description: 'Topic of ScoredReview records.' }),
  topicShadow: setting({ env: 'DRIFTLINE_TOPIC_SHADOW', kind: 'string', default: 'driftline.scored.shadow', description: 'Topic of the ScoredReview records of a shadow (staging) candidate (DRIFTLINE_SHADOW); never read as production output.' }),
  topicDeadLetter: setting({ env: 'DRIFTLINE_TOPIC_DEAD_LETTER', kind: 'string', default: 'driftline.dead-letter', description: 'Topic of DeadLetter records (invalid input, with the reason).' }),
  topicPromotions: setting({ env: 'DRIFTLINE_TOPIC_PROMOTIONS', kind: 'string', default: 'driftline.promotions', description: 'Topic of ModelPromotion events.' }),
  topicAlerts: setting({ env: 'DRIFTLINE_TOPIC_ALERTS', kind: 'string', default: 'driftline.alerts', description: 'Topic of DriftAlert events.' }),
  redisUrl: setting({ env: 'DRIFTLINE_REDIS_URL', kind: 'string', default: 'redis://127.0.0.1:6379/0', description: 'Redis connection URL.' }),
  redisClusterNodes: setting({
    env: 'DRIFTLINE_REDIS_CLUSTER_NODES',
    kind: 'list',
    default: [],
    description: 'Redis Cluster seed nodes (host:port, comma-separated), e.g. 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003. Set: the drift aggregator uses the cluster (its keys are hash-tagged per Kafka partition, docs/operations.md) and DRIFTLINE_REDIS_URL is ignored by it. Empty: the single Redis at DRIFTLINE_REDIS_URL.',
  }),
  redisPrefix: setting({ env: 'DRIFTLINE_REDIS_PREFIX', kind: 'string', default: 'driftline', description: 'Prefix of every Redis key Driftline writes.' }),
  clickhouseUrl: setting({ env: 'DRIFTLINE_CLICKHOUSE_URL', kind: 'string', default: '', description: 'ClickHouse HTTP URL (e.g. http://clickhouse:8123). Empty: embedded chdb at DRIFTLINE_CLICKHOUSE_PATH.' }),
  clickhousePath: setting({ env: 'DRIFTLINE_CLICKHOUSE_PATH', kind: 'string', default: '.data/chdb', description: 'On-disk path of the embedded chdb engine (one process per path).' }),
  clickhouseDatabase: setting({ env: 'DRIFTLINE_CLICKHOUSE_DATABASE', kind: 'string', default: 'driftline', description: 'ClickHouse database for drift tables.' }),
  clickhouseUser: setting({ env: 'DRIFTLINE_CLICKHOUSE_USER', kind: 'string', default: 'default', description: 'ClickHouse user (server mode).' }),
  clickhousePassword: setting({ env: 'DRIFTLINE_CLICKHOUSE_PASSWORD', kind: 'string', default: '', description: 'ClickHouse password (server mode).' }),
  registryDir: setting({ env: 'DRIFTLINE_REGISTRY_DIR', kind: 'string', default: '.data/registry', description: 'Model registry directory (versions, stages, baselines, artifacts).' }),
  tfBackend: setting({ env: 'DRIFTLINE_TF_BACKEND', kind: 'string', default: 'auto', choices: ['auto', 'node', 'wasm', 'cpu'], description: 'TensorFlow.js backend: auto = tfjs-node if it loads, else wasm.' }),
  logLevel: setting({
    env: 'DRIFTLINE_LOG_LEVEL',
    kind: 'string',
    default: 'info',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'pino log level. Human-facing CLI commands (all but scorer, aggregator, api, serve) default to warn; --log-level overrides it for one command.',
  }),
  logFormat: setting({
    env: 'DRIFTLINE_LOG_FORMAT',
    kind: 'string',
    default: 'json',
    choices: ['json', 'human'],
    description: 'Logs on stderr as JSON lines, or as one human line each (the default of human-facing CLI commands). Never on stdout.',
  }),
  metricsModelVersions: setting({
    env: 'DRIFTLINE_METRICS_MODEL_VERSIONS',
    kind: 'int',
    default: 3,
    min: 1,
    description: 'Model versions whose Prometheus series (labelled by version) a process keeps, most recently used first; the series of older versions are removed.',
  }),
  logFile: setting({ env: 'DRIFTLINE_LOG_FILE', kind: 'string', default: '', description: 'Append the JSON log lines to this file instead of stderr (empty: stderr).' }),
  dedupeHorizonSeconds: setting({
    env: 'DRIFTLINE_DEDUPE_HORIZON_S',
    kind: 'int',
    default: 86_400,
    min: 60,
    description: 'How long a review_id is remembered for end-to-end deduplication: within it the scorer does not score an id again and the aggregator does not count it again (one Redis key per id with this TTL).',
  }),
  maxTextBytes: setting({ env: 'DRIFTLINE_MAX_TEXT_BYTES', kind: 'int', default: 32_768, min: 16, description: 'Largest review text accepted (UTF-8 bytes); longer ones are rejected with TEXT_TOO_LONG.' }),
  futureToleranceMs: setting({
    env: 'DRIFTLINE_FUTURE_TOLERANCE_MS',
    kind: 'int',
    default: 86_400_000,
    min: 0,
    description: 'How far ahead of the processing clock any review time (event, ingest, scored) may lie; later ones, earlier ones than 1995-01-01 and non-finite ones are TIMESTAMP_INVALID (scorer and aggregator dead-letter them). Ingest uses DRIFTLINE_INGEST_FUTURE_TOLERANCE_MS.',
  }),
});

export type CoreSettings = Settings<typeof coreSettings.spec>;
