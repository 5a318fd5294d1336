/** Settings of the drift aggregator (env DRIFTLINE_*); core settings (brokers, topics, Redis, ClickHouse) come from core/config.ts. */
import { defineSettings, setting, type Settings } from '../core/config.js';
import { formatDurationMs, parseDurationMs } from '../core/duration.js';
import { DriftlineError } from '../core/errors.js';

export const aggregatorSettings = defineSettings('drift-aggregator', {
  groupId: setting({ env: 'DRIFTLINE_AGGREGATOR_GROUP', kind: 'string', default: 'driftline-aggregator', description: 'Kafka consumer group of the drift aggregator (all instances share it).' }),
  windowMs: setting({ env: 'DRIFTLINE_WINDOW_MS', kind: 'int', default: 60_000, min: 1_000, description: 'Length of the tumbling drift windows (ms).' }),
  windowSizes: setting({
    env: 'DRIFTLINE_WINDOW_SIZES',
    kind: 'list',
    default: [],
    description:
      'Window sizes kept at once, comma-separated (e.g. 1m,5m,1h; units ms, s, m, h, d): each is stored, assessed and alerting on its own. The smallest is counted (it replaces DRIFTLINE_WINDOW_MS); every other must be a multiple of it and is built by merging its sketches. Empty: the one size DRIFTLINE_WINDOW_MS.',
  }),
  windowTime: setting({ env: 'DRIFTLINE_WINDOW_TIME', kind: 'string', default: 'event', choices: ['ingest', 'event'], description: 'Window clock: event = the review\'s own time (event_time_ms), per record falling back to ingest time when it has none (counted in window_summary.event_time_events / ingest_time_events); ingest = ingest_time_ms for every record (processing time).' }),
  allowedLatenessMs: setting({ env: 'DRIFTLINE_ALLOWED_LATENESS_MS', kind: 'int', default: 5_000, min: 0, description: 'Watermark = min over every partition of the scored topic of the max window time applied (one that applied nothing yet holds it back), minus this; a window closes when the watermark passes its end, later events for it are late.' }),
  idleCloseMs: setting({ env: 'DRIFTLINE_WINDOW_IDLE_CLOSE_MS', kind: 'int', default: 30_000, min: 100, description: 'Wall-clock idle time after which a window that got no events closes anyway (the last window of a finite stream).' }),
  maxSegments: setting({ env: 'DRIFTLINE_MAX_SEGMENTS', kind: 'int', default: 10, min: 0, description: 'Product-category segments monitored separately (the baseline\'s most frequent ones); the other known categories go to __other__, categories the baseline never had to __unseen__.' }),
  metricsPort: setting({ env: 'DRIFTLINE_AGGREGATOR_METRICS_PORT', kind: 'int', default: 9465, min: 0, max: 65_535, description: 'Port of the aggregator\'s GET /metrics (Prometheus), /health (liveness) and /ready (readiness); 0 = off.' }),
  metricsHost: setting({ env: 'DRIFTLINE_AGGREGATOR_METRICS_HOST', kind: 'string', default: '127.0.0.1', description: 'Interface the aggregator metrics server listens on (0.0.0.0 in containers).' }),
  closeIntervalMs: setting({ env: 'DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS', kind: 'int', default: 1_000, min: 50, description: 'How often the aggregator looks for windows to close and flushes pending ClickHouse rows.' }),
  closeLockTtlMs: setting({ env: 'DRIFTLINE_AGGREGATOR_CLOSE_LOCK_MS', kind: 'int', default: 60_000, min: 1_000, description: 'TTL of the per-window close lock (a crashed closer\'s window is retried after it).' }),
  stateTtlSeconds: setting({ env: 'DRIFTLINE_AGGREGATOR_STATE_TTL_S', kind: 'int', default: 7 * 86_400, min: 60, description: 'Expiry of window sketches and close markers in Redis after the window closed.' }),
  autoRollback: setting({ env: 'DRIFTLINE_AUTO_ROLLBACK', kind: 'boolean', default: true, description: 'Roll a freshly promoted version back when it is red on macro-F1 or outlier rate for several windows.' }),
  autoRollbackMaxAgeMs: setting({ env: 'DRIFTLINE_AUTO_ROLLBACK_MAX_AGE_MS', kind: 'int', default: 86_400_000, min: 0, description: 'Only versions promoted less than this long ago are rolled back automatically.' }),
  autoRollbackWindows: setting({ env: 'DRIFTLINE_AUTO_ROLLBACK_WINDOWS', kind: 'int', default: 3, min: 1, description: 'Consecutive red windows (macro-F1 or outlier rate) that trigger an automatic rollback.' }),
  maxBatchBytes: setting({ env: 'DRIFTLINE_AGGREGATOR_MAX_BATCH_BYTES', kind: 'int', default: 4 * 1024 * 1024, min: 1_024, description: 'Largest Kafka fetch per partition, i.e. the size of one pre-aggregated batch (one Redis Lua call).' }),
  shadow: setting({
    env: 'DRIFTLINE_AGGREGATOR_SHADOW',
    kind: 'boolean',
    default: false,
    description:
      "Also aggregate the shadow candidate's events (DRIFTLINE_TOPIC_SHADOW, written by a scorer with DRIFTLINE_SHADOW=staging) into the same window tables, keyed by the candidate's version: a second aggregator in this process with its own consumer group (<group>-shadow), Redis prefix (<prefix>:shadow) and no automatic rollback.",
  }),
  recentSamplePerWindow: setting({
    env: 'DRIFTLINE_RECENT_SAMPLE_PER_WINDOW',
    kind: 'int',
    default: 200,
    min: 0,
    max: 10_000,
    description:
      'Scored reviews (with text and rating) kept per counted window in ClickHouse table recent_reviews: the ones with the smallest hash of review_id, a uniform sample that is the same however the stream is batched or replayed. What a drift-triggered retrain learns from and what the Grafana "Recent reviews" table shows. 0 = none.',
  }),
  recentSampleRetentionDays: setting({ env: 'DRIFTLINE_RECENT_SAMPLE_RETENTION_DAYS', kind: 'int', default: 14, min: 1, max: 3_650, description: 'Days a window\'s recent_reviews rows are kept (ClickHouse TTL on window_start; applied to the table on every aggregator start).' }),
  clickhouseRetryMaxMs: setting({ env: 'DRIFTLINE_AGGREGATOR_CH_RETRY_MAX_MS', kind: 'int', default: 30_000, min: 100, description: 'Longest back-off between ClickHouse write retries (rows wait in Redis meanwhile).' }),
});

export type AggregatorSettings = Settings<typeof aggregatorSettings.spec>;
export type WindowTimeMode = 'ingest' | 'event';
/** `driftline alerts` settings live in their own file; re-exported so the settings catalog (cli/catalog.ts) registers them. */
export { alertSettings, type AlertSettings } from './alerts-config.js';

/**
 * The window sizes in ms, smallest first: DRIFTLINE_WINDOW_SIZES, or the one DRIFTLINE_WINDOW_MS. The
 * smallest is the size events are counted in; a larger one must be a whole number of smallest windows
 * (its windows are then exactly unions of them, aligned on the epoch like every tumbling window).
 */
export function windowSizesOf(settings: Pick<AggregatorSettings, 'windowMs' | 'windowSizes'>): number[] {
  if (settings.windowSizes.length === 0) return [settings.windowMs];
  const invalid = (why: string): DriftlineError =>
    new DriftlineError('CONFIG_INVALID', `DRIFTLINE_WINDOW_SIZES=${JSON.stringify(settings.windowSizes.join(','))}: ${why}`, { field: 'DRIFTLINE_WINDOW_SIZES' });
  const sizes = settings.windowSizes.map((text) => {
    const ms = parseDurationMs(text);
    if (ms === null) throw invalid(`${JSON.stringify(text)} is not a duration (a whole number with unit ms, s, m, h or d, e.g. 5m)`);
    if (ms < 1_000) throw invalid(`${text} is shorter than 1s, the smallest window`);
    return ms;
  });
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  const smallest = sorted[0]!;
  for (const size of sorted) if (size % smallest !== 0) throw invalid(`${formatDurationMs(size)} is not a multiple of the smallest size ${formatDurationMs(smallest)}, so its windows would not be unions of smallest windows`);
  return sorted;
}
