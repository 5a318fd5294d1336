/**
 * POST /v1/drift/compare: two datasets in (inline, or a JSONL file inside the data roots each), per-feature drift metrics out, computed by
 * core/drift/compare.ts (the same metrics, thresholds and status rules as the live windows).
 * No model and no ClickHouse are involved: it answers "would this data drift from that data?".
 */
import { compareDatasets, type CompareReport, type ReviewRecord } from '../core/drift/compare.js';
import type { DriftThresholds } from '../core/drift/config.js';
import type { ReviewFields } from '../core/review.js';
import { DRIFT_STATUSES } from '../schemas/types.js';
import { createInterface } from 'node:readline';
import { DriftlineError } from '../core/errors.js';
import { openDataFile } from '../core/paths.js';
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

/** The request as sent: each dataset inline or by location (core/data-location.ts). */
export interface CompareRequest {
  reference?: CompareItem[];
  current?: CompareItem[];
  reference_location?: string;
  current_location?: string;
  options?: CompareBody['options'];
}

export const COMPARE_SIDES = ['reference', 'current'] as const;

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const int = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);

/**
 * A dataset file (JSONL, `.gz` gunzipped) as compare items: a line needs a text; other fields of the wrong type
 * are taken as missing, as inline items with unknown extra fields are taken as they are. A line that is not a JSON
 * object with a text is REQUEST_INVALID naming the location and line; more than `maxRows` is BATCH_TOO_LARGE.
 */
export async function readCompareItems(path: string, location: string, field: string, maxRows: number): Promise<CompareItem[]> {
  const items: CompareItem[] = [];
  const lines = createInterface({ input: openDataFile(path), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    if (!record || typeof record.text !== 'string') {
      lines.close();
      throw new DriftlineError('REQUEST_INVALID', `${field} ${JSON.stringify(location)} line ${lineNo}: not a JSON object with a text`, { field });
    }
    if (items.length === maxRows) {
      lines.close();
      throw new DriftlineError('BATCH_TOO_LARGE', `${field} ${JSON.stringify(location)} holds more than ${maxRows} reviews (DRIFTLINE_API_MAX_COMPARE_ROWS)`, { field, details: { limit: maxRows } });
    }
    items.push({
      ...(str(record.review_id) === null ? {} : { review_id: str(record.review_id)! }),
      text: record.text,
      title: str(record.title),
      product_id: str(record.product_id),
      category: str(record.category),
      rating: int(record.rating),
      helpful_votes: int(record.helpful_votes),
      verified: typeof record.verified === 'boolean' ? record.verified : null,
    });
  }
  if (items.length === 0) throw new DriftlineError('REQUEST_INVALID', `${field} ${JSON.stringify(location)} holds no reviews`, { field });
  return items;
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
  const location = {
    type: 'string',
    minLength: 1,
    maxLength: 1024,
    description: 'A JSONL file (.jsonl or .jsonl.gz) inside the data roots (DRIFTLINE_DATA_ROOTS), e.g. data/sample/reviews-sample.jsonl',
  };
  return {
    tags: ['drift'],
    summary: 'Compare two datasets (inline, or by location): per-feature drift metrics (PSI, KS, JS, Wasserstein, chi-square) and statuses',
    body: {
      type: 'object',
      additionalProperties: false,
      allOf: [
        { oneOf: [{ required: ['reference'] }, { required: ['reference_location'] }] },
        { oneOf: [{ required: ['current'] }, { required: ['current_location'] }] },
      ],
      properties: {
        reference: dataset,
        current: dataset,
        reference_location: location,
        current_location: location,
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
      ...errorResponses(400, 403, 404, 413, 429),
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
