/** The API's environment variables (the shared ones — Kafka, ClickHouse, registry — are in core/config.ts). */
import { defineSettings, setting, type Settings } from '../core/config.js';

export const apiSettings = defineSettings('api', {
  host: setting({ env: 'DRIFTLINE_API_HOST', kind: 'string', default: '127.0.0.1', description: 'Address the HTTP API listens on (0.0.0.0 in containers).' }),
  port: setting({ env: 'DRIFTLINE_API_PORT', kind: 'int', default: 8080, min: 0, max: 65_535, description: 'Port of the HTTP API (0 = any free port).' }),
  modelName: setting({ env: 'DRIFTLINE_API_MODEL_NAME', kind: 'string', default: 'reviews', description: 'Registry model name the API serves and follows promotions of.' }),
  seedModelDir: setting({
    env: 'DRIFTLINE_API_SEED_MODEL_DIR',
    kind: 'string',
    default: 'models/default',
    description: 'Shipped model copied into an empty registry at start-up (relative to the repository root); empty: no seeding.',
  }),
  modelCache: setting({
    env: 'DRIFTLINE_API_MODEL_CACHE',
    kind: 'int',
    default: 3,
    min: 1,
    max: 32,
    description: 'Model versions besides the serving one that POST /v1/predict keeps loaded for `model_version` (least recently used first out).',
  }),
  maxBatch: setting({ env: 'DRIFTLINE_API_MAX_BATCH', kind: 'int', default: 1000, min: 1, description: 'Most reviews in one POST /v1/predict (more: 413 BATCH_TOO_LARGE).' }),
  bodyLimitBytes: setting({
    env: 'DRIFTLINE_API_BODY_LIMIT_BYTES',
    kind: 'int',
    default: 8 * 1024 * 1024,
    min: 1024,
    description: 'Largest request body in bytes (more: 413 PAYLOAD_TOO_LARGE).',
  }),
  adminToken: setting({
    env: 'DRIFTLINE_API_ADMIN_TOKEN',
    kind: 'string',
    default: '',
    description: 'Bearer token of the admin routes (train, jobs, promote, rollback, evaluate); empty: admin routes answer 404 ADMIN_DISABLED.',
  }),
  followPromotions: setting({
    env: 'DRIFTLINE_API_FOLLOW_PROMOTIONS',
    kind: 'boolean',
    default: true,
    description: 'Follow the promotions topic and hot-swap models; /ready then also waits for the follower to connect.',
  }),
  groupId: setting({
    env: 'DRIFTLINE_API_GROUP_ID',
    kind: 'string',
    default: '',
    description: 'Kafka consumer group of the promotion follower; empty: driftline-api-<host>-<pid>-<random> (every API process needs its own).',
  }),
  embeddedClickhouse: setting({
    env: 'DRIFTLINE_API_EMBEDDED_CLICKHOUSE',
    kind: 'boolean',
    default: false,
    description:
      'Without DRIFTLINE_CLICKHOUSE_URL: open the embedded chdb at DRIFTLINE_CLICKHOUSE_PATH for the drift queries. One path belongs to one process (usually the aggregator), so this is off by default and drift queries answer 503.',
  }),
  requestTimeoutMs: setting({ env: 'DRIFTLINE_API_REQUEST_TIMEOUT_MS', kind: 'int', default: 30_000, min: 0, description: 'Longest time to receive one whole request (0 = none).' }),
  shutdownGraceMs: setting({
    env: 'DRIFTLINE_API_SHUTDOWN_GRACE_MS',
    kind: 'int',
    default: 10_000,
    min: 0,
    description: 'On SIGTERM/SIGINT: how long in-flight requests may take to finish before the process exits anyway.',
  }),
  driftMaxLimit: setting({ env: 'DRIFTLINE_API_DRIFT_MAX_LIMIT', kind: 'int', default: 1000, min: 1, description: 'Largest page (limit) of GET /v1/drift and /v1/drift/windows.' }),
  jobsKept: setting({ env: 'DRIFTLINE_API_JOBS_KEPT', kind: 'int', default: 100, min: 1, description: 'Finished training jobs remembered for GET /v1/jobs/{id} (oldest forgotten first).' }),
  maxCompareRows: setting({
    env: 'DRIFTLINE_API_MAX_COMPARE_ROWS',
    kind: 'int',
    default: 20_000,
    min: 1,
    description: 'Most rows in each dataset of POST /v1/drift/compare and POST /v1/evaluate.',
  }),
  rateLimitWindowMs: setting({
    env: 'DRIFTLINE_API_RATE_LIMIT_WINDOW_MS',
    kind: 'int',
    default: 60_000,
    min: 1_000,
    description: 'Window of the per-client rate limits (client = source IP; limits are per route and per API process).',
  }),
  rateLimitPredict: setting({
    env: 'DRIFTLINE_API_RATE_LIMIT_PREDICT',
    kind: 'int',
    default: 300_000,
    min: 0,
    description: 'Requests per client and window to POST /v1/predict (more: 429 RATE_LIMITED with Retry-After); 0 = no limit.',
  }),
  rateLimitRead: setting({
    env: 'DRIFTLINE_API_RATE_LIMIT_READ',
    kind: 'int',
    default: 600,
    min: 0,
    description: 'Requests per client and window to each public read route (GET /v1/drift, /v1/drift/windows, /v1/models, /v1/models/{name}); 0 = no limit.',
  }),
  rateLimitHeavy: setting({
    env: 'DRIFTLINE_API_RATE_LIMIT_HEAVY',
    kind: 'int',
    default: 10,
    min: 0,
    description: 'Requests per client and window to POST /v1/drift/compare and POST /v1/evaluate (up to two datasets each); 0 = no limit.',
  }),
  compareQueue: setting({
    env: 'DRIFTLINE_API_COMPARE_QUEUE',
    kind: 'int',
    default: 4,
    min: 1,
    description: 'Dataset comparisons running or waiting for the comparison worker thread; more: 429 RATE_LIMITED.',
  }),
});

export type ApiSettings = Settings<typeof apiSettings.spec>;
