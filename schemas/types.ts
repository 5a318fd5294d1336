/**
 * TypeScript shapes of the Avro records in schemas/*.avsc. Avro `["null", T]` is `T | null`.
 * tests/schemas/types.test.ts proves field names, optionality and primitive kinds agree with the .avsc files.
 */

export const SENTIMENTS = ['negative', 'neutral', 'positive'] as const;
export type Sentiment = (typeof SENTIMENTS)[number];
export const STAGES = ['staging', 'production', 'archived'] as const;
export type Stage = (typeof STAGES)[number];
export const PROMOTION_ACTIONS = ['register', 'promote', 'rollback', 'archive'] as const;
export type PromotionAction = (typeof PROMOTION_ACTIONS)[number];
export const DRIFT_STATUSES = ['green', 'amber', 'red'] as const;
export type DriftStatus = (typeof DRIFT_STATUSES)[number];

export interface ReviewEvent {
  review_id: string;
  product_id: string | null;
  category: string | null;
  rating: number;
  title: string | null;
  text: string;
  event_time_ms: number | null;
  helpful_votes: number | null;
  verified: boolean | null;
  source: string | null;
  ingest_time_ms: number;
}

export interface ScoredReview {
  review_id: string;
  product_id: string | null;
  category: string | null;
  rating: number;
  helpful_votes: number | null;
  verified: boolean | null;
  features: Record<string, number>;
  sentiment: Sentiment;
  prob_negative: number;
  prob_neutral: number;
  prob_positive: number;
  confidence: number;
  predicted_category: string | null;
  category_confidence: number | null;
  outlier_score: number;
  outlier_flag: boolean;
  shift_score: number;
  rating_text_disagreement: boolean;
  model_name: string;
  model_version: number;
  event_time_ms: number | null;
  ingest_time_ms: number;
  scored_time_ms: number;
  input_partition: number;
  input_offset: number;
  /** Text or title contains U+FFFD (valid text an upstream decoder left behind); false for v1 events. */
  has_replacement_char: boolean;
  /** The review's title and text (v3), kept by the aggregator's recent-sample store; null in v1/v2 events. */
  title: string | null;
  text: string | null;
  /** The model's pooled review representation (Prediction.embedding), for embedding drift; null in events before v4. */
  embedding?: number[] | null;
  /**
   * The features' values in NUMERIC_FEATURES order (v5, written by the scorer instead of the `features` map, which is then
   * empty); null in earlier events. Read both through scoredFeatureEntries (core/features/scored-features.ts).
   */
  feature_values?: number[] | null;
}

export interface ModelPromotion {
  event_id: string;
  model_name: string;
  version: number;
  action: PromotionAction;
  from_stage: Stage | null;
  to_stage: Stage;
  previous_production_version: number | null;
  reason: string | null;
  actor: string;
  time_ms: number;
}

export interface DriftAlertItem {
  feature: string;
  metric: string;
  value: number;
  p_value: number | null;
  threshold_amber: number;
  threshold_red: number;
  status: DriftStatus;
}

export interface DriftAlert {
  alert_id: string;
  model_name: string;
  model_version: number;
  window_start_ms: number;
  window_end_ms: number;
  segment: string | null;
  /** The new status; green is a recovery (v2; v1 events were amber or red only). */
  status: DriftStatus;
  items: DriftAlertItem[];
  time_ms: number;
  /** v2 fields, null when read from a v1 event. */
  previous_status: DriftStatus | null;
  feature: string | null;
  metric: string | null;
  episode_start_ms: number | null;
  dedupe_key: string | null;
}

export interface DeadLetter {
  stage: 'ingest' | 'scorer' | 'aggregator';
  error_code: string;
  reason: string;
  field: string | null;
  raw: Buffer;
  review_id: string | null;
  source_file: string | null;
  source_line: number | null;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: number | null;
  time_ms: number;
}

export interface SchemaTypes {
  ReviewEvent: ReviewEvent;
  ScoredReview: ScoredReview;
  ModelPromotion: ModelPromotion;
  DriftAlert: DriftAlert;
  DeadLetter: DeadLetter;
}
export type SchemaName = keyof SchemaTypes;
export const SCHEMA_NAMES: readonly SchemaName[] = ['ReviewEvent', 'ScoredReview', 'ModelPromotion', 'DriftAlert', 'DeadLetter'];
