/** Schemas of the run routes (training and evaluation runs, trainer/runs/). */
import { ARTIFACT_NAME, RUN_ID, RUN_KINDS } from '../../trainer/index.js';
import { errorResponses } from './common.js';

export const RUNS_MAX_LIMIT = 200;

const artifactSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    content_type: { type: 'string' },
    bytes: { type: 'integer' },
    description: { type: 'string' },
    url: { type: 'string', description: 'GET it for the file' },
  },
} as const;

export const runSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: '<kind>_<UTC timestamp>, e.g. train_20261206T201736123Z' },
    kind: { type: 'string', enum: RUN_KINDS },
    created_at: { type: 'string' },
    model: {
      type: 'object',
      properties: { name: { type: 'string' }, version: { type: ['integer', 'null'] }, parent_version: { type: ['integer', 'null'] } },
    },
    params: { type: 'object', additionalProperties: true },
    data: {
      type: 'object',
      properties: { fingerprint: { type: 'string' }, rows: { type: 'integer' }, files: { type: 'array', items: { type: 'string' } } },
    },
    metrics: { type: 'object', additionalProperties: true, description: 'accuracy, macroF1, per-class precision/recall/F1 of both heads (heads), calibration (ece, brier), drift (eval runs)' },
    artifacts: { type: 'array', items: artifactSchema },
    notes: { type: 'array', items: { type: 'string' } },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: RUN_ID.source } } } as const;

export const listRunsRouteSchema = {
  tags: ['runs'],
  summary: 'Training and evaluation runs, newest first (public read)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      kind: { type: 'string', enum: RUN_KINDS },
      limit: { type: 'integer', minimum: 1, maximum: RUNS_MAX_LIMIT, default: 50 },
      offset: { type: 'integer', minimum: 0, default: 0 },
    },
  },
  response: {
    200: { type: 'object', properties: { runs: { type: 'array', items: runSchema }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } } },
    ...errorResponses(400, 500),
  },
} as const;

export const getRunRouteSchema = {
  tags: ['runs'],
  summary: 'One run: params, metrics, data fingerprint, model and parent version, artifacts (public read)',
  params: idParams,
  response: { 200: runSchema, ...errorResponses(400, 404) },
} as const;

export const getRunArtifactRouteSchema = {
  tags: ['runs'],
  summary: "A run's artifact: image/svg+xml, image/png or application/json (public read)",
  params: {
    type: 'object',
    required: ['id', 'name'],
    properties: { id: { type: 'string', pattern: RUN_ID.source }, name: { type: 'string', pattern: ARTIFACT_NAME.source } },
  },
  response: { ...errorResponses(400, 404) },
} as const;
