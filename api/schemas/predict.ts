/** Request/response schemas of POST /v1/predict. */
import { SENTIMENTS } from '../../schemas/types.js';
import { errorResponses, modelRefSchema, probabilitiesSchema, versionRefSchema } from './common.js';

/**
 * One review to score. Only types and shapes are checked here; content rules (empty or too long text,
 * bad encoding, impossible timestamps) are core/validation.ts's, shared with ingest and the scorer.
 * Unknown extra fields are ignored.
 */
export const predictReviewSchema = {
  type: 'object',
  required: ['id', 'text'],
  additionalProperties: true,
  properties: {
    id: { type: 'string', minLength: 1, description: 'Client id of the review; the answer is keyed by it' },
    text: { type: 'string' },
    title: { type: ['string', 'null'] },
    product_id: { type: ['string', 'null'] },
    category: { type: ['string', 'null'] },
    rating: { type: ['number', 'null'], minimum: 1, maximum: 5, description: 'Star rating, an integer 1-5 (4.5 is FIELD_RANGE, as in ingest and the scorer); only used for rating_text_disagreement, never as model input' },
    helpful_votes: { type: ['number', 'null'], minimum: 0, description: 'An integer; 2.5 is FIELD_RANGE, as in ingest and the scorer' },
    verified: { type: ['boolean', 'null'] },
    ts: { type: ['string', 'integer', 'null'], description: 'Event time: ISO-8601 string or epoch milliseconds' },
  },
} as const;

export const predictOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sentences: { type: 'boolean', default: false, description: 'Also score each sentence' },
    partial: { type: 'boolean', default: false, description: 'Answer the valid items and return each bad one with its error in place (else 400 for the whole batch)' },
  },
} as const;

export const predictBodySchema = {
  type: 'object',
  description: 'Either `reviews` (a batch) or `review` (one review; answered as `prediction`).',
  additionalProperties: false,
  properties: {
    reviews: { type: 'array', minItems: 1, items: predictReviewSchema },
    review: predictReviewSchema,
    options: predictOptionsSchema,
    model_version: {
      ...versionRefSchema,
      description:
        'Version that scores: a number, latest or production (default: the serving production version). Other versions than the serving one are loaded on first use and kept in a small LRU (DRIFTLINE_API_MODEL_CACHE); the answer\'s `model` says which version scored',
    },
  },
  oneOf: [{ required: ['reviews'] }, { required: ['review'] }],
} as const;

const sentenceSchema = {
  type: 'object',
  properties: { text: { type: 'string' }, sentiment: { type: 'string', enum: SENTIMENTS }, probabilities: probabilitiesSchema },
} as const;

export const predictionSchema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: ['string', 'null'] },
    sentiment: { type: 'string', enum: SENTIMENTS },
    probabilities: probabilitiesSchema,
    confidence: { type: 'number' },
    category: { type: ['string', 'null'] },
    category_confidence: { type: ['number', 'null'] },
    outlier_score: { type: 'number' },
    outlier_flag: { type: 'boolean' },
    shift_score: { type: 'number' },
    rating_text_disagreement: { type: 'boolean' },
    model: modelRefSchema,
    sentences: { type: 'array', items: sentenceSchema },
    error: {
      type: 'object',
      description: 'Present instead of the scores when the item was refused (options.partial)',
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
} as const;

export const predictRouteSchema = {
  tags: ['predict'],
  summary: 'Score reviews: sentiment, category, outlier and shift scores',
  body: predictBodySchema,
  response: {
    200: {
      type: 'object',
      properties: {
        model: modelRefSchema,
        predictions: { type: 'array', items: predictionSchema },
        prediction: predictionSchema,
        refused: { type: 'integer', description: 'Items refused (options.partial)' },
      },
    },
    ...errorResponses(400, 404, 413, 500, 503),
  },
} as const;
