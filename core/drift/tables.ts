/**
 * ClickHouse tables of drift results: the contract between the drift aggregator (writer), the API's
 * drift queries, the Grafana dashboard and the SQL in docs/drift.md. Migrations are idempotent (IF NOT EXISTS).
 * Rows are written with deterministic keys and a `written_at` version column, so a retried window
 * replaces instead of duplicating (ReplacingMergeTree; query with FINAL or argMax).
 */
export const DRIFT_METRICS_TABLE = 'drift_metrics';
export const WINDOW_SUMMARY_TABLE = 'window_summary';
/** One row per alert state change (DriftAlert v2): the alert history. */
export const ALERTS_TABLE = 'alerts';
/** A bounded sample of each counted window's scored reviews with their ratings (drift-aggregator/recent-sample.ts). */
export const RECENT_REVIEWS_TABLE = 'recent_reviews';
/** Days recent_reviews rows are kept by default (DRIFTLINE_RECENT_SAMPLE_RETENTION_DAYS). */
export const RECENT_REVIEWS_RETENTION_DAYS = 14;

/** The TTL clause of recent_reviews: rows leave `days` after their window started. */
export function recentReviewsTtl(days: number): string {
  return `TTL toDateTime(window_start) + INTERVAL ${Math.max(1, Math.floor(days))} DAY`;
}

/**
 * A row's window size in ms as SQL: `window_size_ms`, or for rows written before window sizes existed
 * (stored 0: ClickHouse cannot give a new sorting-key column a computed default) window_end − window_start.
 */
export const WINDOW_SIZE_SQL = 'if(window_size_ms = 0, toUInt64(toUnixTimestamp64Milli(window_end) - toUnixTimestamp64Milli(window_start)), window_size_ms)';

export function driftTableMigrations(database: string, recentRetentionDays = RECENT_REVIEWS_RETENTION_DAYS): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    `CREATE TABLE IF NOT EXISTS ${database}.${DRIFT_METRICS_TABLE} (
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      window_size_ms UInt64 COMMENT 'window size (DRIFTLINE_WINDOW_SIZES); 0 in rows written before sizes: window_end - window_start',
      model_name LowCardinality(String),
      model_version UInt32,
      segment LowCardinality(String) COMMENT 'product category, or __all__',
      feature LowCardinality(String),
      metric LowCardinality(String) COMMENT 'psi | ks | js_distance | wasserstein | chi_square | kl_divergence | prediction_drift | confidence_drop | outlier_rate | accuracy | macro_f1 | unseen_rate',
      value Float64,
      p_value Nullable(Float64),
      p_value_adjusted Nullable(Float64),
      threshold_amber Float64,
      threshold_red Float64,
      raw_status LowCardinality(String) COMMENT 'status of this window alone',
      status LowCardinality(String) COMMENT 'status after hysteresis: green | amber | red',
      current_count UInt64,
      reference_count UInt64,
      written_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(written_at)
    ORDER BY (model_name, model_version, segment, feature, metric, window_start, window_size_ms)`,
    `CREATE TABLE IF NOT EXISTS ${database}.${WINDOW_SUMMARY_TABLE} (
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      window_size_ms UInt64 COMMENT 'window size (DRIFTLINE_WINDOW_SIZES); 0 in rows written before sizes: window_end - window_start',
      model_name LowCardinality(String),
      model_version UInt32,
      segment LowCardinality(String),
      events UInt64,
      late_events UInt64,
      event_time_events UInt64 DEFAULT 0 COMMENT 'events windowed on the review''s own time',
      ingest_time_events UInt64 DEFAULT 0 COMMENT 'events windowed on ingest time (ingest clock, or the review carried no time)',
      outliers UInt64,
      outlier_rate Float64,
      mean_confidence Float64,
      accuracy Nullable(Float64),
      macro_f1 Nullable(Float64),
      estimated_accuracy Nullable(Float64) COMMENT 'label-free estimate from calibrated confidences (CBPE)',
      estimated_macro_f1 Nullable(Float64) COMMENT 'label-free estimate from calibrated confidences (CBPE)',
      status LowCardinality(String),
      state_lost UInt8 COMMENT '1 when Redis state of this window was lost and the numbers are partial',
      reference_scope LowCardinality(String) DEFAULT 'global' COMMENT 'reference compared with: global (__all__), segment (its own), fallback (global: own reference under the minimum rows), unseen (global: category the reference never had)',
      reference_rows UInt64 DEFAULT 0 COMMENT 'rows of the reference compared with',
      written_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(written_at)
    ORDER BY (model_name, model_version, segment, window_start, window_size_ms)`,
    `CREATE TABLE IF NOT EXISTS ${database}.${ALERTS_TABLE} (
      window_start DateTime64(3, 'UTC') COMMENT 'the window whose close changed the status',
      window_end DateTime64(3, 'UTC'),
      window_size_ms UInt64 COMMENT 'window_end - window_start: each window size has its own episodes',
      model_name LowCardinality(String),
      model_version UInt32,
      segment LowCardinality(String) COMMENT 'product category, or __all__',
      feature LowCardinality(String),
      metric LowCardinality(String),
      alert_id String COMMENT 'the episode: same id from the first amber/red to the recovery',
      dedupe_key String,
      previous_status LowCardinality(String),
      status LowCardinality(String) COMMENT 'the new status: green (recovery) | amber | red',
      value Float64,
      p_value Nullable(Float64),
      threshold_amber Float64,
      threshold_red Float64,
      episode_start DateTime64(3, 'UTC'),
      written_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(written_at)
    ORDER BY (model_name, model_version, segment, feature, metric, window_start, window_size_ms)`,
    // The sample is re-read by sample_hash order (the reservoir keeps the smallest hashes), so a retried window replaces its rows.
    `CREATE TABLE IF NOT EXISTS ${database}.${RECENT_REVIEWS_TABLE} (
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      window_size_ms UInt64 COMMENT 'the counted window size: the sample is kept per counted window',
      model_name LowCardinality(String),
      model_version UInt32,
      segment LowCardinality(String) COMMENT 'the review''s segment (product category, __other__ or __unseen__)',
      sample_hash UInt64 COMMENT 'hash of review_id: the window keeps the reviews with the smallest ones (a priority reservoir)',
      review_id String,
      category Nullable(String),
      product_id Nullable(String),
      helpful_votes Nullable(Int32),
      verified Nullable(UInt8),
      rating UInt8,
      title Nullable(String),
      text Nullable(String) COMMENT 'null for events a scorer before ScoredReview v3 wrote',
      sentiment LowCardinality(String) COMMENT 'predicted',
      confidence Float64,
      prob_negative Float64,
      prob_neutral Float64,
      prob_positive Float64,
      outlier_score Float64,
      outlier_flag UInt8,
      event_time_ms Nullable(Int64),
      written_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(written_at)
    ORDER BY (model_name, model_version, window_start, window_size_ms, sample_hash, review_id)
    ${recentReviewsTtl(recentRetentionDays)}`,
    // Tables created before the per-window clock counts get the columns (existing rows read 0).
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS event_time_events UInt64 DEFAULT 0 AFTER late_events`,
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS ingest_time_events UInt64 DEFAULT 0 AFTER event_time_events`,
    // Tables created before the label-free estimate get its columns (existing rows read NULL).
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS estimated_accuracy Nullable(Float64) AFTER macro_f1`,
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS estimated_macro_f1 Nullable(Float64) AFTER estimated_accuracy`,
    // And before per-segment references (existing rows read 'global', 0).
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS reference_scope LowCardinality(String) DEFAULT 'global' AFTER state_lost`,
    `ALTER TABLE ${database}.${WINDOW_SUMMARY_TABLE} ADD COLUMN IF NOT EXISTS reference_rows UInt64 DEFAULT 0 AFTER reference_scope`,
    // Several window sizes: the size joins the key (a 5 m and a 1 h window may start together). A key column
    // can only be added together with the key change, and without a default (WINDOW_SIZE_SQL reads the 0).
    ...[DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE].map(
      (table) =>
        `ALTER TABLE ${database}.${table} ADD COLUMN IF NOT EXISTS window_size_ms UInt64 AFTER window_end, MODIFY ORDER BY (${table === DRIFT_METRICS_TABLE ? 'model_name, model_version, segment, feature, metric' : 'model_name, model_version, segment'}, window_start, window_size_ms)`,
    ),
  ];
}

/** What every drift row is keyed by: the window (times in ms), its size, the model version and the segment. */
export interface WindowRowKey {
  window_start: number;
  window_end: number;
  /** window_end − window_start: which of the window sizes (DRIFTLINE_WINDOW_SIZES) the row is of. */
  window_size_ms: number;
  model_name: string;
  model_version: number;
  segment: string;
}

export interface DriftMetricRow extends WindowRowKey {
  feature: string;
  metric: string;
  value: number;
  p_value: number | null;
  p_value_adjusted: number | null;
  threshold_amber: number;
  threshold_red: number;
  raw_status: string;
  status: string;
  current_count: number;
  reference_count: number;
  written_at: number;
}

export interface WindowSummaryRow extends WindowRowKey {
  events: number;
  late_events: number;
  /** Of `events`: windowed on the review's own time / on ingest time (segment __all__ only; 0 in segment rows). */
  event_time_events: number;
  ingest_time_events: number;
  outliers: number;
  outlier_rate: number;
  mean_confidence: number;
  accuracy: number | null;
  macro_f1: number | null;
  /** Label-free estimates from the calibrated confidences (core/drift/cbpe.ts); null for a window without reviews. */
  estimated_accuracy: number | null;
  estimated_macro_f1: number | null;
  status: string;
  state_lost: number;
  /** Which reference the segment was compared with (core/drift/segments.ts ReferenceScope). */
  reference_scope: string;
  reference_rows: number;
  written_at: number;
}

/** A row of the alerts table (times in ms, like the other rows queued in Redis). */
export interface AlertHistoryRow extends WindowRowKey {
  feature: string;
  metric: string;
  alert_id: string;
  dedupe_key: string;
  previous_status: string;
  status: string;
  value: number;
  p_value: number | null;
  threshold_amber: number;
  threshold_red: number;
  episode_start: number;
  written_at: number;
}

/** A row of recent_reviews: one sampled review of a counted window. */
export interface RecentReviewRow extends WindowRowKey {
  sample_hash: number;
  review_id: string;
  category: string | null;
  product_id: string | null;
  helpful_votes: number | null;
  verified: number | null;
  rating: number;
  title: string | null;
  text: string | null;
  sentiment: string;
  confidence: number;
  prob_negative: number;
  prob_neutral: number;
  prob_positive: number;
  outlier_score: number;
  outlier_flag: number;
  event_time_ms: number | null;
  written_at: number;
}

export const ALL_SEGMENTS = '__all__';
