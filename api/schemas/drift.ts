/** Schemas of the drift routes. */
import { DRIFT_STATUSES } from '../../schemas/types.js';
import { errorResponses } from './common.js';

const timeBound = {
  type: 'string',
  description: 'ISO-8601 date/time or epoch milliseconds (compared with window_start)',
  minLength: 1,
} as const;

function pagedQuery(maxLimit: number, withFeature: boolean): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      model: { type: 'string', minLength: 1 },
      version: { type: 'integer', minimum: 1 },
      segment: { type: 'string', minLength: 1, description: 'Product category, or __all__' },
      ...(withFeature
        ? {
            feature: { type: 'string', minLength: 1, description: 'Monitored value, e.g. feature.text_length, rating, prediction.sentiment' },
            metric: { type: 'string', minLength: 1, description: 'psi | ks | js_distance | wasserstein | chi_square | kl_divergence | prediction_drift | embedding_mmd | ...' },
          }
        : {}),
      status: { type: 'string', enum: DRIFT_STATUSES },
      from: timeBound,
      to: timeBound,
      window_size: { type: 'string', minLength: 1, description: 'Window size (DRIFTLINE_WINDOW_SIZES), e.g. 5m, 1h or ms; default: the smallest size stored for the model' },
      limit: { type: 'integer', minimum: 1, maximum: maxLimit, default: Math.min(100, maxLimit) },
      offset: { type: 'integer', minimum: 0, default: 0 },
    },
  };
}

const pageProperties = {
  total: { type: 'integer' },
  limit: { type: 'integer' },
  offset: { type: 'integer' },
  next_offset: { type: ['integer', 'null'] },
} as const;

/** The key every drift row has: which window of which model version and segment. */
const windowProperties = {
  window_start: { type: 'string' },
  window_end: { type: 'string' },
  window_size_ms: { type: 'integer', description: 'Window size in ms (one of DRIFTLINE_WINDOW_SIZES)' },
  model_name: { type: 'string' },
  model_version: { type: 'integer' },
  segment: { type: 'string' },
} as const;

const metricItem = {
  type: 'object',
  properties: {
    ...windowProperties,
    feature: { type: 'string' },
    metric: { type: 'string' },
    value: { type: 'number' },
    p_value: { type: ['number', 'null'] },
    p_value_adjusted: { type: ['number', 'null'] },
    threshold_amber: { type: 'number' },
    threshold_red: { type: 'number' },
    raw_status: { type: 'string' },
    status: { type: 'string' },
    current_count: { type: 'integer' },
    reference_count: { type: 'integer' },
    written_at: { type: 'string' },
  },
} as const;

const summaryItem = {
  type: 'object',
  properties: {
    ...windowProperties,
    events: { type: 'integer' },
    late_events: { type: 'integer' },
    outliers: { type: 'integer' },
    outlier_rate: { type: 'number' },
    mean_confidence: { type: 'number' },
    accuracy: { type: ['number', 'null'] },
    macro_f1: { type: ['number', 'null'] },
    estimated_accuracy: { type: ['number', 'null'], description: 'label-free estimate from the calibrated confidences (CBPE)' },
    estimated_macro_f1: { type: ['number', 'null'], description: 'label-free estimate from the calibrated confidences (CBPE)' },
    status: { type: 'string' },
    state_lost: { type: 'boolean' },
    reference_scope: { type: 'string', enum: ['global', 'segment', 'fallback', 'unseen'], description: "Reference the segment was compared with: global (__all__), segment (its own), fallback (global; its own has fewer rows than DRIFTLINE_DRIFT_MIN_SAMPLES), unseen (global; a category the reference never had)" },
    reference_rows: { type: 'integer' },
    written_at: { type: 'string' },
  },
} as const;

export function driftMetricsRouteSchema(maxLimit: number): Record<string, unknown> {
  return {
    tags: ['drift'],
    summary: 'Drift metrics per window, model version, segment, monitored value and metric (ClickHouse drift_metrics, newest row per key)',
    querystring: pagedQuery(maxLimit, true),
    response: { 200: { type: 'object', properties: { items: { type: 'array', items: metricItem }, ...pageProperties } }, ...errorResponses(400, 503) },
  };
}

export function driftWindowsRouteSchema(maxLimit: number): Record<string, unknown> {
  return {
    tags: ['drift'],
    summary: 'Per-window summaries: events, late events, outlier rate, mean confidence, live accuracy and macro-F1, their label-free estimates, status (ClickHouse window_summary)',
    querystring: pagedQuery(maxLimit, false),
    response: { 200: { type: 'object', properties: { items: { type: 'array', items: summaryItem }, ...pageProperties } }, ...errorResponses(400, 503) },
  };
}
