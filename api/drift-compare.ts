/**
 * POST /v1/drift/compare: two inline datasets in, per-feature drift metrics out, computed by
 * core/drift/compare.ts (the same metrics, thresholds and status rules as the live windows).
 * No model and no ClickHouse are involved: it answers "would this data drift from that data?".
 */
import { compareDatasets, type CompareReport, type ReviewRecord } from '../core/drift/compare.js';
import type { DriftThresholds } from '../core/drift/config.js';
import type { ReviewFields } from '../core/review.js';
import { DRIFT_STATUSES } from '../schemas/types.js';
import type { DriftlineError } from '../core/errors.js';
import { requestInvalid, type FieldProblem } from './http-errors.js';
import { errorResponses } from './schemas/common.js';

/** A review of either dataset: only text is required; `review_id` or `id` names it. */
const compareReviewSchema = (maxTextBytes: number) => ({
  type: 'object',
  required: ['text'],
  additionalProperties: true,
  properties: {
    review_id: { type: 'string' },
    id: { type: 'string' },
    // Characters here (a cheap first bound: never fewer than bytes); UTF-8 bytes in oversizedTexts.
    text: { type: 'string', maxLength: maxTextBytes },
    title: { type: ['string', 'null'], maxLength: maxTextBytes },
    product_id: { type: ['string', 'null'] },
    category: { type: ['string', 'null'] },
    rating: { type: ['integer', 'null'], minimum: 1, maximum: 5 },
    helpful_votes: { type: ['integer', 'null'], minimum: 0 },
    verified: { type: ['boolean', 'null'] },
  },
});

type CompareItem = ReviewFields & {
  review_id?: string;
  id?: string;
};

export interface CompareBody {
  reference: CompareItem[];
  current: CompareItem[];
  options?: { bins?: number; max_categories?: number };
}

const assessmentSchema = {
  type: 'object',
  properties: {
    metric: { type: 'string' },
    value: { type: 'number' },
    effect: { type: 'number' },
    p_value: { type: ['number', 'null'] },
    p_value_adjusted: { type: ['number', 'null'] },
    threshold_amber: { type: 'number' },
    threshold_red: { type: 'number' },
    status: { type: 'string', enum: DRIFT_STATUSES },
    insufficient: { type: 'boolean' },
    note: { type: ['string', 'null'] },
  },
} as const;

export function compareRouteSchema(maxRows: number, maxTextBytes: number): Record<string, unknown> {
  const dataset = { type: 'array', minItems: 1, maxItems: maxRows, items: compareReviewSchema(maxTextBytes) };
  return {
    tags: ['drift'],
    summary: 'Compare two inline datasets: per-feature drift metrics (PSI, KS, JS, Wasserstein, chi-square) and statuses',
    body: {
      type: 'object',
      required: ['reference', 'current'],
      additionalProperties: false,
      properties: {
        reference: dataset,
        current: dataset,
        options: {
          type: 'object',
          additionalProperties: false,
          properties: {
            bins: { type: 'integer', minimum: 2, maximum: 100, description: 'Equal-mass reference bins per numeric feature (default 10)' },
            max_categories: { type: 'integer', minimum: 1, maximum: 1000, description: 'Reference categories kept per categorical feature (default 50)' },
          },
        },
      },
    },
    response: {
      200: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: DRIFT_STATUSES },
          reference_count: { type: 'integer' },
          current_count: { type: 'integer' },
          settings: { type: 'object', additionalProperties: true },
          features: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                feature: { type: 'string' },
                kind: { type: 'string', enum: ['numeric', 'categorical'] },
                status: { type: 'string', enum: DRIFT_STATUSES },
                insufficient: { type: 'boolean' },
                drivers: { type: 'array', items: { type: 'string' } },
                reference_count: { type: 'integer' },
                current_count: { type: 'integer' },
                reference_missing: { type: 'integer' },
                current_missing: { type: 'integer' },
                metrics: { type: 'array', items: assessmentSchema },
              },
            },
          },
        },
      },
      ...errorResponses(400, 413, 429),
    },
  };
}

/**
 * The same text bound as validation (core/validation.ts, DRIFTLINE_MAX_TEXT_BYTES): texts and titles
 * over `maxTextBytes` UTF-8 bytes, as one REQUEST_INVALID naming each (TEXT_TOO_LONG), or undefined.
 */
export function oversizedTexts(body: CompareBody, maxTextBytes: number): DriftlineError | undefined {
  const problems: FieldProblem[] = [];
  for (const side of ['reference', 'current'] as const) {
    body[side].forEach((item, index) => {
      for (const field of ['text', 'title'] as const) {
        const value = item[field];
        if (typeof value !== 'string' || value.length * 3 <= maxTextBytes) continue; // at most 3 bytes per UTF-16 unit
        const bytes = Buffer.byteLength(value, 'utf8');
        if (bytes > maxTextBytes) problems.push({ field: `${side}.${index}.${field}`, reason: `is ${bytes} UTF-8 bytes, the limit is ${maxTextBytes}`, code: 'TEXT_TOO_LONG' });
      }
    });
  }
  return problems.length > 0 ? requestInvalid(problems, 'body') : undefined;
}

function toRecord(item: CompareItem, index: number): ReviewRecord {
  return {
    review_id: item.review_id ?? item.id ?? `#${index}`,
    text: item.text,
    title: item.title ?? null,
    product_id: item.product_id ?? null,
    category: item.category ?? null,
    rating: item.rating ?? null,
    helpful_votes: item.helpful_votes ?? null,
    verified: item.verified ?? null,
  };
}

function reportBody(report: CompareReport): Record<string, unknown> {
  return {
    status: report.status,
    reference_count: report.referenceCount,
    current_count: report.currentCount,
    settings: report.settings,
    features: report.features.map((feature) => ({
      feature: feature.feature,
      kind: feature.kind,
      status: feature.status,
      insufficient: feature.insufficient,
      drivers: feature.drivers,
      reference_count: feature.referenceCount,
      current_count: feature.currentCount,
      reference_missing: feature.referenceMissing,
      current_missing: feature.currentMissing,
      metrics: feature.metrics.map((m) => ({
        metric: m.metric,
        value: m.value,
        effect: m.effect,
        p_value: m.pValue,
        p_value_adjusted: m.pValueAdjusted,
        threshold_amber: m.thresholdAmber,
        threshold_red: m.thresholdRed,
        status: m.rawStatus,
        insufficient: m.insufficient,
        note: m.note,
      })),
    })),
  };
}

export function compareInline(body: CompareBody, thresholds: DriftThresholds): Record<string, unknown> {
  const report = compareDatasets(body.reference.map(toRecord), body.current.map(toRecord), {
    thresholds,
    ...(body.options?.bins === undefined ? {} : { bins: body.options.bins }),
    ...(body.options?.max_categories === undefined ? {} : { maxCategories: body.options.max_categories }),
  });
  return reportBody(report);
}
