/**
 * One typed sample value of every Driftline record type. Typed against schemas/types.ts (so a missing or
 * extra TypeScript field fails the typecheck) and checked against the .avsc files by tests/schemas/types.test.ts.
 * Every nullable field is set to a non-null value here; NULL_SAMPLES set them to null.
 */
import type { SchemaName, SchemaTypes } from '../../schemas/types.js';

export const SAMPLES: { [N in SchemaName]: SchemaTypes[N] } = {
  ReviewEvent: {
    review_id: 'amz18-0001',
    product_id: 'B00004U9JP',
    category: 'Magazine_Subscriptions',
    rating: 2,
    title: 'Too many ads',
    text: 'More ads than articles these days. Cancelled after a year. Ünïcödé and emoji 😀 survive.',
    event_time_ms: 1_458_000_000_000,
    helpful_votes: 4,
    verified: true,
    source: 'amazon2018-5core/Magazine_Subscriptions_5',
    ingest_time_ms: 1_700_000_000_123,
  },
  ScoredReview: {
    review_id: 'amz18-0001',
    product_id: 'B00004U9JP',
    category: 'Magazine_Subscriptions',
    rating: 2,
    helpful_votes: 4,
    verified: false,
    features: { text_length: 88, exclamations: 0, uppercase_ratio: 0.05 },
    sentiment: 'negative',
    prob_negative: 0.7,
    prob_neutral: 0.2,
    prob_positive: 0.1,
    confidence: 0.7,
    predicted_category: 'Magazine_Subscriptions',
    category_confidence: 0.9,
    outlier_score: 0.42,
    outlier_flag: false,
    shift_score: 0.3,
    rating_text_disagreement: false,
    model_name: 'sentiment',
    model_version: 3,
    event_time_ms: 1_458_000_000_000,
    ingest_time_ms: 1_700_000_000_123,
    scored_time_ms: 1_700_000_000_456,
    input_partition: 2,
    input_offset: 12_345_678_901,
    has_replacement_char: true,
  },
  ModelPromotion: {
    event_id: 'evt-1',
    model_name: 'sentiment',
    version: 4,
    action: 'promote',
    from_stage: 'staging',
    to_stage: 'production',
    previous_production_version: 3,
    reason: 'macro-F1 0.71 > 0.68',
    actor: 'ci',
    time_ms: 1_700_000_000_000,
  },
  DriftAlert: {
    alert_id: 'alert-1',
    model_name: 'sentiment',
    model_version: 4,
    window_start_ms: 1_700_000_000_000,
    window_end_ms: 1_700_000_300_000,
    segment: 'Books',
    status: 'red',
    items: [
      { feature: 'text_length', metric: 'psi', value: 0.31, p_value: 0.001, threshold_amber: 0.1, threshold_red: 0.25, status: 'red' },
      { feature: 'sentiment', metric: 'js', value: 0.05, p_value: null, threshold_amber: 0.1, threshold_red: 0.2, status: 'green' },
    ],
    time_ms: 1_700_000_300_500,
  },
  DeadLetter: {
    stage: 'ingest',
    error_code: 'FIELD_RANGE',
    reason: 'rating: rating must be an integer from 1 to 5, got 6',
    field: 'rating',
    raw: Buffer.from([0x7b, 0x22, 0xff, 0x00, 0x7d]),
    review_id: 'r-6',
    source_file: 'reviews.jsonl',
    source_line: 17,
    source_topic: 'driftline.reviews',
    source_partition: 1,
    source_offset: 99,
    time_ms: 1_700_000_000_000,
  },
};

/** The same samples with every nullable field null (Avro union branch "null"). */
export const NULL_SAMPLES: { [N in SchemaName]: SchemaTypes[N] } = {
  ReviewEvent: { ...SAMPLES.ReviewEvent, product_id: null, category: null, title: null, event_time_ms: null, helpful_votes: null, verified: null, source: null },
  ScoredReview: { ...SAMPLES.ScoredReview, product_id: null, category: null, helpful_votes: null, verified: null, predicted_category: null, category_confidence: null, event_time_ms: null, features: {} },
  ModelPromotion: { ...SAMPLES.ModelPromotion, from_stage: null, previous_production_version: null, reason: null },
  DriftAlert: { ...SAMPLES.DriftAlert, segment: null, items: [] },
  DeadLetter: { ...SAMPLES.DeadLetter, field: null, review_id: null, source_file: null, source_line: null, source_topic: null, source_partition: null, source_offset: null, raw: Buffer.alloc(0) },
};
