/** Schemas of the model-registry, training-job and evaluation routes. */
import { SENTIMENTS, STAGES } from '../../schemas/types.js';
import { TRAIN_PARAM_NAMES } from '../../trainer/index.js';
import { bearerSecurity, errorResponses, labelledReviewSchema, versionRefSchema } from './common.js';

const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

/** A training base: a version reference or none (scratch). */
const baseVersionSchema = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', enum: ['latest', 'production', 'none'] },
  ],
} as const;

const versionSchema = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    stage: { type: 'string', enum: STAGES },
    created_at: { type: 'string' },
    metrics: { type: 'object', additionalProperties: true },
    params: { type: 'object', additionalProperties: true },
    data_fingerprint: { type: 'string' },
    previous_production: { type: ['integer', 'null'] },
    parent_model: { type: ['string', 'null'], description: 'Model name of the version this one was trained from (warm start); null: from scratch' },
    parent_version: { type: ['integer', 'null'], description: 'The version this one was trained from (warm start); null: from scratch or seeded' },
    stage_history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          action: { type: 'string' },
          from_stage: { type: ['string', 'null'] },
          to_stage: { type: 'string' },
          at_ms: { type: 'number' },
          actor: { type: 'string' },
          reason: { type: ['string', 'null'] },
          previous_production_version: { type: ['integer', 'null'] },
        },
      },
    },
  },
} as const;

export const modelSummarySchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    production_version: { type: ['integer', 'null'] },
    serving_version: { type: ['integer', 'null'], description: 'Version this API process serves (its model name only)' },
    versions: { type: 'array', items: versionSchema },
  },
} as const;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } },
} as const;

export const listModelsRouteSchema = {
  tags: ['models'],
  summary: 'Model versions, stages and metrics (public read)',
  response: { 200: { type: 'object', properties: { models: { type: 'array', items: modelSummarySchema } } }, ...errorResponses(500) },
} as const;

export const getModelRouteSchema = {
  tags: ['models'],
  summary: "One model's versions, stages and metrics (public read)",
  params: nameParams,
  response: { 200: modelSummarySchema, ...errorResponses(404) },
} as const;

const stageChangeResponse = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    version: { type: 'integer' },
    stage: { type: 'string' },
    change: {
      type: 'object',
      properties: {
        action: { type: 'string' },
        from_stage: { type: ['string', 'null'] },
        to_stage: { type: 'string' },
        previous_production_version: { type: ['integer', 'null'] },
        reason: { type: ['string', 'null'] },
        actor: { type: 'string' },
        time_ms: { type: 'number' },
      },
    },
    event_published: { type: 'boolean' },
  },
} as const;

export const promoteRouteSchema = {
  tags: ['models'],
  summary: 'Promote a version to production (refused if its held-out macro-F1 is worse than production, unless force); publishes a promotion event',
  security: bearerSecurity,
  params: nameParams,
  body: {
    type: 'object',
    required: ['version'],
    additionalProperties: false,
    properties: {
      version: { type: 'integer', minimum: 1 },
      force: { type: 'boolean', default: false, description: "Skips the registry's held-out check (never the shadow gate)." },
      reason: { type: 'string', maxLength: 500 },
      gate: { type: 'string', enum: ['shadow'], description: "shadow: promote only when the candidate's live shadow macro-F1 in window_summary beats production's by the margin on enough reviews (docs/models.md); else 409 PROMOTION_REFUSED naming the numbers." },
      gate_windows: { type: 'integer', minimum: 1, maximum: 10000, description: 'Default DRIFTLINE_SHADOW_GATE_WINDOWS.' },
      gate_min_reviews: { type: 'integer', minimum: 1, description: 'Default DRIFTLINE_SHADOW_GATE_MIN_REVIEWS.' },
      gate_margin: { type: 'number', minimum: 0, maximum: 1, description: 'Default DRIFTLINE_SHADOW_GATE_MARGIN.' },
    },
  },
  response: { 200: stageChangeResponse, ...errorResponses(400, 401, 404, 409, 503) },
} as const;

export const rollbackRouteSchema = {
  tags: ['models'],
  summary: 'Restore the previous production version; publishes a promotion event',
  security: bearerSecurity,
  params: nameParams,
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { reason: { type: 'string', maxLength: 500 } },
  },
  response: { 200: stageChangeResponse, ...errorResponses(401, 404, 409, 503) },
} as const;

export function trainRouteSchema(maxRows: number): Record<string, unknown> {
  return {
    tags: ['jobs'],
    summary: 'Start a training job (in this process, one at a time); poll GET /v1/jobs/{id}',
    security: bearerSecurity,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dataset_path: { type: 'string', minLength: 1, description: 'JSONL/CSV file readable by the API process' },
        reviews: { type: 'array', minItems: 1, maxItems: maxRows, items: labelledReviewSchema },
        base_version: {
          ...baseVersionSchema,
          description: 'Version to continue training from (warm start: its weights, featurizer and vocabulary): a number, latest, production (default; from scratch when there is none yet) or none (from scratch)',
        },
        base_model: { type: 'string', pattern: MODEL_NAME_PATTERN, description: 'Model name of base_version (default: the served model)' },
        rebuild_vocabulary: { type: 'boolean', default: false, description: "Refit numeric scaling, category classes and the wide idf on the new data instead of keeping the base model's" },
        params: {
          type: 'object',
          additionalProperties: false,
          description: "Trainer parameters (trainer/train.ts TrainParams); unset ones come from the base version, then the defaults. A warm start keeps the base's buckets, maxTokens, embeddingDim, hidden and sqrtPooling",
          properties: Object.fromEntries(TRAIN_PARAM_NAMES.map((name) => [name, { type: 'number' }])),
        },
        promote: { type: 'boolean', default: false, description: 'Promote the new version if its held-out macro-F1 is not worse than production' },
      },
      oneOf: [{ required: ['dataset_path'] }, { required: ['reviews'] }],
    },
    response: { 202: jobSchema, ...errorResponses(400, 401, 404, 413, 503) },
  };
}

export const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
    progress: { type: 'object', properties: { phase: { type: 'string' }, fraction: { type: 'number' }, message: { type: 'string' } } },
    created_at: { type: 'string' },
    started_at: { type: ['string', 'null'] },
    finished_at: { type: ['string', 'null'] },
    result: {
      type: ['object', 'null'],
      properties: {
        version: { type: 'integer' },
        stage: { type: 'string' },
        metrics: { type: 'object', additionalProperties: true },
        run_id: { type: ['string', 'null'] },
        base: {
          type: 'object',
          description: 'What the version was trained from',
          properties: {
            model: { type: 'string' },
            requested: { type: ['integer', 'string'] },
            parent_version: { type: ['integer', 'null'] },
            rebuild_vocabulary: { type: 'boolean' },
            note: { type: ['string', 'null'], description: 'Why it was trained from scratch although no scratch run was asked for' },
          },
        },
      },
    },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    request: {
      type: 'object',
      properties: {
        dataset_path: { type: ['string', 'null'] },
        reviews: { type: ['integer', 'null'] },
        base_version: { type: ['integer', 'string', 'null'] },
        base_model: { type: ['string', 'null'] },
        rebuild_vocabulary: { type: 'boolean' },
        params: { type: ['object', 'null'], additionalProperties: true },
        promote: { type: 'boolean' },
      },
    },
  },
} as const;

export const getJobRouteSchema = {
  tags: ['jobs'],
  summary: 'Status, progress, resulting version or error of a training job',
  security: bearerSecurity,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } },
  response: { 200: jobSchema, ...errorResponses(401, 404) },
} as const;

export const listJobsRouteSchema = {
  tags: ['jobs'],
  summary: 'Training jobs this process remembers',
  security: bearerSecurity,
  response: { 200: { type: 'object', properties: { jobs: { type: 'array', items: jobSchema } } }, ...errorResponses(401) },
} as const;

const classMetrics = {
  type: 'object',
  properties: { precision: { type: 'number' }, recall: { type: 'number' }, f1: { type: 'number' }, support: { type: 'integer' } },
} as const;

export function evaluateRouteSchema(maxRows: number): Record<string, unknown> {
  return {
    tags: ['models'],
    summary: 'Evaluate a model version (default: the serving one) on labelled reviews (label = sentiment of the star rating)',
    security: bearerSecurity,
    body: {
      type: 'object',
      additionalProperties: false,
      properties: {
        reviews: { type: 'array', minItems: 1, maxItems: maxRows, items: labelledReviewSchema },
        dataset_location: {
          type: 'string',
          minLength: 1,
          maxLength: 1024,
          description: 'A labelled JSONL file (.jsonl or .jsonl.gz) inside the data roots (DRIFTLINE_DATA_ROOTS), e.g. data/sample/reviews-sample.jsonl, or an s3:// object under an s3:// root',
        },
        name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
        version: { ...versionRefSchema, description: 'A number, latest or production (default: the serving version)' },
      },
      oneOf: [{ required: ['reviews'] }, { required: ['dataset_location'] }],
    },
    response: {
      200: {
        type: 'object',
        properties: {
          model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'integer' } } },
          rows: { type: 'integer' },
          dataset: {
            type: 'object',
            description: 'Present when the rows were read from dataset_location',
            properties: { location: { type: 'string' }, rows: { type: 'integer' }, fingerprint: { type: 'string' } },
          },
          accuracy: { type: 'number' },
          macro_f1: { type: 'number' },
          labels: { type: 'array', items: { type: 'string', enum: SENTIMENTS } },
          per_class: { type: 'object', properties: Object.fromEntries(SENTIMENTS.map((s) => [s, classMetrics])) },
          mean_confidence: { type: 'number' },
          outlier_rate: { type: 'number' },
          rating_text_disagreement_rate: { type: 'number' },
          run_id: { type: ['string', 'null'], description: 'The evaluation run (GET /v1/runs/{id}), null when it could not be recorded' },
          confusion_matrix: {
            type: 'array',
            description: 'rows = true label, columns = predicted label, both in `labels` order',
            items: { type: 'array', items: { type: 'integer' } },
          },
        },
      },
      ...errorResponses(400, 401, 403, 404, 413),
    },
  };
}
