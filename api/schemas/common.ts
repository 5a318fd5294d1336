/**
 * JSON Schemas shared by several routes. They are plain objects: Fastify compiles each route's
 * schemas once when the app becomes ready (validation with ajv, serialization with
 * fast-json-stringify) and @fastify/swagger publishes them at GET /openapi.json.
 */
import { ERROR_CODE_LIST } from '../../core/errors.js';
import { SENTIMENTS } from '../../schemas/types.js';

/** Every error answer: `{ code, message, ... }`; `errors` lists each bad item/field of a request. */
export const errorSchema = {
  type: 'object',
  description: 'Error answer. `code` is one of core/errors.ts; the HTTP status follows from it.',
  required: ['code', 'message'],
  additionalProperties: true,
  properties: {
    code: { type: 'string', enum: ERROR_CODE_LIST },
    message: { type: 'string' },
    retriable: { type: 'boolean' },
    request_id: { type: 'string' },
    field: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          item: { type: 'integer', description: 'Index of the bad item in the batch' },
          field: { type: 'string' },
          reason: { type: 'string' },
          code: { type: 'string' },
        },
      },
    },
  },
} as const;

/** Error answers of the given statuses, for route `response` sections (documentation + serialization). */
export function errorResponses(...statuses: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorSchema]));
}

export const probabilitiesSchema = {
  type: 'object',
  required: [...SENTIMENTS],
  properties: Object.fromEntries(SENTIMENTS.map((s) => [s, { type: 'number' }])),
} as const;

export const modelRefSchema = {
  type: 'object',
  required: ['name', 'version'],
  properties: { name: { type: 'string' }, version: { type: 'integer' } },
} as const;

/** A labelled review as the trainer and evaluator read it (the dataset JSONL shape). */
export const labelledReviewSchema = {
  type: 'object',
  required: ['review_id', 'text', 'rating'],
  additionalProperties: true,
  properties: {
    review_id: { type: 'string', minLength: 1 },
    text: { type: 'string' },
    rating: { type: 'integer', minimum: 1, maximum: 5 },
    title: { type: ['string', 'null'] },
    product_id: { type: ['string', 'null'] },
    category: { type: ['string', 'null'] },
    helpful_votes: { type: ['integer', 'null'], minimum: 0 },
    verified: { type: ['boolean', 'null'] },
    ts: { type: ['string', 'null'] },
  },
} as const;

/** A model version by number or by name (core/model/version-ref.ts). */
export const versionRefSchema = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', enum: ['latest', 'production'] },
  ],
} as const;

export const bearerSecurity = [{ bearerAuth: [] }];
