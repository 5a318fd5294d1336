/**
 * POST /v1/predict — scores a batch (or one review) with the serving model.
 *
 * Checks run in two layers and are reported together, one entry per bad item and field:
 * the JSON schema (shapes and types, compiled at start-up) and core/validation.ts (the content rules
 * ingest and the scorer apply too). With `options.partial` the good items are scored and each bad one
 * is answered in place with its error; without it any bad item refuses the whole request (400).
 *
 * Model calls go through a coalescer (api/coalescer.ts): requests arriving together share one call.
 * The runtime is taken from the ModelService once per call, so a hot swap never mixes versions inside
 * a request and never fails it (the old runtime is disposed after in-flight calls).
 */
import { extractTraceContext, SpanKind, tracingEnabled, withSpan } from '../../core/tracing.js';
import { SENTIMENTS, type Sentiment } from '../../schemas/types.js';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { DriftlineError, toDriftlineError } from '../../core/errors.js';
import type { ModelRuntime, ModelService, Prediction } from '../../core/model/types.js';
import type { ReviewFields, ReviewInput } from '../../core/review.js';
import { hasReplacementCharacter } from '../../core/utf8.js';
import { validateReview } from '../../core/validation.js';
import { dedupeProblems, problemFromAjv, requestInvalid, type FieldProblem } from '../http-errors.js';
import { createScoreCoalescer, type ScoreCoalescer } from '../coalescer.js';
import type { ApiMetrics } from '../metrics.js';
import { predictRouteSchema } from '../schemas/predict.js';
import { createModelVersionCache, versionRefOf, type RuntimeLease } from '../model-cache.js';
import type { ModelRegistry } from '../../core/model/registry/index.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import type { VersionRef } from '../../core/model/version-ref.js';

export interface PredictPluginOptions {
  modelService: ModelService;
  /** Where versions named by `model_version` are loaded from. */
  registry: ModelRegistry;
  /** Versions besides the serving one kept loaded (DRIFTLINE_API_MODEL_CACHE). */
  modelCache: number;
  metrics: ApiMetrics;
  maxBatch: number;
  maxTextBytes: number;
}

/** A review item after schema validation (see predictReviewSchema). */
type PredictItem = ReviewFields & {
  id: string;
  ts?: string | number | null;
};

interface PredictBody {
  reviews: unknown[];
  options?: { sentences?: boolean; partial?: boolean };
  model_version?: VersionRef;
}

type ItemOutcome = { index: number; input: ReviewInput } | { index: number; error: DriftlineError };

const SPAN_ATTRIBUTES = { 'http.route': '/v1/predict' };
const SENTIMENT_INDEX: Readonly<Record<Sentiment, number>> = { negative: 0, neutral: 1, positive: 2 };

/** Most reviews per combined model call: large enough to amortize, small enough to keep one call short. */
const COALESCE_MAX_ROWS = 512;
/** A placeholder rating for validation only: the rating is optional when predicting (it is a label, not an input). */
const RATING_PLACEHOLDER = 3;
/** core/validation.ts names fields as stream records do; the API's items call them id and ts. */
const FIELD_NAMES: Record<string, string> = { review_id: 'id', event_time_ms: 'ts' };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The item as core/validation.ts reads a record: the fields it checks, named as stream records name them.
 * Written out field by field (no rest/spread: those copy every key through a slow generic path, per item).
 * An extra `event_time_ms` the client sent is passed on like any extra field, and a numeric `ts` replaces it.
 */
function toValidationRecord(item: PredictItem): Record<string, unknown> {
  const raw = item as PredictItem & { event_time_ms?: unknown; source?: unknown };
  const ts = raw.ts;
  const numericTs = typeof ts === 'number';
  return {
    review_id: raw.id,
    product_id: raw.product_id,
    category: raw.category,
    rating: raw.rating ?? RATING_PLACEHOLDER,
    title: raw.title,
    text: raw.text,
    event_time_ms: numericTs ? ts : raw.event_time_ms,
    ts: numericTs ? undefined : ts,
    helpful_votes: raw.helpful_votes,
    verified: raw.verified,
    source: raw.source,
  };
}

function toInput(item: PredictItem, index: number, maxTextBytes: number): ItemOutcome {
  const result = validateReview(toValidationRecord(item), { maxTextBytes });
  if (!result.ok) {
    const field = FIELD_NAMES[result.error.field ?? ''] ?? result.error.field;
    // The message names the field as the item calls it (id, ts), like the error's field.
    const message = result.error.field && field ? result.error.message.replace(`${result.error.field}: `, `${field}: `) : result.error.message;
    return { index, error: new DriftlineError(result.error.code, message, { field }) };
  }
  const review = result.review;
  return {
    index,
    input: {
      review_id: item.id,
      text: review.text,
      title: review.title,
      product_id: review.product_id,
      category: review.category,
      rating: item.rating ?? null,
      event_time_ms: review.event_time_ms,
      helpful_votes: review.helpful_votes,
      verified: review.verified,
    },
  };
}

function problemOf(index: number, error: DriftlineError): FieldProblem {
  const field = error.field ?? '(item)';
  // core/validation.ts messages start with "<field>: "; the problem names the field already.
  const reason = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
  return { item: index, field, reason, code: error.code };
}

const NO_PROBLEMS: readonly FieldProblem[] = Object.freeze([]);
const NO_ITEM_ERRORS: ReadonlyMap<number, DriftlineError> = new Map();

function schemaProblems(request: FastifyRequest): readonly FieldProblem[] {
  const validation = (request.validationError as { validation?: ErrorObject[] } | undefined)?.validation;
  if (validation === undefined || validation.length === 0) return NO_PROBLEMS;
  return dedupeProblems(validation.map((error) => problemFromAjv(error, 'reviews')));
}

/** Where a request's scores come from: the serving model (through the coalescer) or a leased other version. */
interface Scorer {
  score(inputs: ReviewInput[], sentences: boolean): Promise<{ runtime: ModelRuntime; predictions: Prediction[] }>;
  runtime(): ModelRuntime;
}

function servingScorer(coalescer: ScoreCoalescer, modelService: ModelService): Scorer {
  return { score: (inputs, sentences) => coalescer.score(inputs, sentences), runtime: () => modelService.current() };
}

/** Another version: scored in slices of COALESCE_MAX_ROWS, with a turn of the event loop between them. */
function leasedScorer(lease: RuntimeLease): Scorer {
  return {
    async score(inputs, sentences) {
      const predictions: Prediction[] = [];
      for (let start = 0; start < inputs.length; start += COALESCE_MAX_ROWS) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        predictions.push(...(await lease.runtime.score(inputs.slice(start, start + COALESCE_MAX_ROWS), { sentences })));
      }
      return { runtime: lease.runtime, predictions };
    },
    runtime: () => lease.runtime,
  };
}

/** The item's error when the runtime answered fewer predictions than it was given (it answers one per input). */
function noPrediction(): DriftlineError {
  return new DriftlineError('MODEL_SCORING_FAILED', 'the model returned no prediction for this item');
}

/**
 * Scores through the scorer. In partial mode a failed call is retried record by record on the
 * same runtime, so one record the model cannot score fails alone (answered in place).
 */
async function scoreItems(
  scorer: Scorer,
  inputs: ReviewInput[],
  sentences: boolean,
  partial: boolean,
): Promise<{ runtime: ModelRuntime; results: Array<Prediction | DriftlineError> }> {
  if (inputs.length === 0) return { runtime: scorer.runtime(), results: [] };
  try {
    const { runtime, predictions } = await scorer.score(inputs, sentences);
    return { runtime, results: predictions };
  } catch (err) {
    const error = toDriftlineError(err, 'MODEL_SCORING_FAILED');
    if (!partial || inputs.length === 1 || error.code !== 'MODEL_SCORING_FAILED') throw error;
  }
  const runtime = scorer.runtime();
  const results: Array<Prediction | DriftlineError> = [];
  for (const input of inputs) {
    try {
      const [prediction] = await runtime.score([input], { sentences });
      results.push(prediction ?? noPrediction());
    } catch (one) {
      results.push(toDriftlineError(one, 'MODEL_SCORING_FAILED'));
    }
  }
  return { runtime, results };
}

function predictionBody(id: string, prediction: Prediction, model: { name: string; version: number }, sentences: boolean): Record<string, unknown> {
  return {
    id,
    sentiment: prediction.sentiment,
    probabilities: prediction.probabilities,
    confidence: prediction.confidence,
    category: prediction.category,
    category_confidence: prediction.categoryConfidence,
    outlier_score: prediction.outlierScore,
    outlier_flag: prediction.outlierFlag,
    shift_score: prediction.shiftScore,
    rating_text_disagreement: prediction.ratingTextDisagreement,
    model,
    sentences: sentences ? prediction.sentences : undefined,
  };
}

function itemErrorBody(id: unknown, error: DriftlineError): Record<string, unknown> {
  return {
    id: typeof id === 'string' ? id : null,
    error: { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) },
  };
}

/** The first schema problem of each bad item, as that item's error. */
function itemErrors(problems: readonly FieldProblem[]): ReadonlyMap<number, DriftlineError> {
  if (problems.length === 0) return NO_ITEM_ERRORS;
  const bad = new Map<number, DriftlineError>();
  for (const problem of problems) {
    if (problem.item !== undefined && !bad.has(problem.item)) {
      bad.set(problem.item, new DriftlineError(problem.code, `${problem.field}: ${problem.reason}`, { field: problem.field }));
    }
  }
  return bad;
}

/** Each item either becomes a model input or gets its error: schema, duplicate id, content rules. */
function checkItems(reviews: unknown[], schemaErrors: ReadonlyMap<number, DriftlineError>, maxTextBytes: number): ItemOutcome[] {
  const seenIds = new Set<string>();
  return reviews.map((raw, index): ItemOutcome => {
    const schemaError = schemaErrors.get(index);
    if (schemaError) return { index, error: schemaError };
    const item = raw as PredictItem;
    if (seenIds.has(item.id)) {
      return { index, error: new DriftlineError('DUPLICATE_REVIEW', `id ${JSON.stringify(item.id)} appears more than once in the batch`, { field: 'id' }) };
    }
    const outcome = toInput(item, index, maxTextBytes);
    // Like ingest, an id counts as taken only by an item that is accepted: [{id a, empty text}, {id a, valid}]
    // answers the first TEXT_EMPTY and scores the second.
    if ('input' in outcome) seenIds.add(item.id);
    return outcome;
  });
}

export const predictPlugin: FastifyPluginAsync<PredictPluginOptions> = async (app, options) => {
  const { modelService, metrics, maxBatch } = options;
  const singleReviewRequests = new WeakSet<FastifyRequest>();
  const coalescer = createScoreCoalescer(modelService, { maxRows: COALESCE_MAX_ROWS });
  const versions = createModelVersionCache({ registry: options.registry, modelService, capacity: options.modelCache, load: loadModelRuntime });
  app.addHook('onClose', async () => versions.close());

  const serving = servingScorer(coalescer, modelService);
  /** The `model` of answers, one object per runtime (the service hands out one view per loaded version). */
  const modelRefs = new WeakMap<ModelRuntime, { name: string; version: number }>();
  const modelRefOf = (runtime: ModelRuntime): { name: string; version: number } => {
    let ref = modelRefs.get(runtime);
    if (ref === undefined) modelRefs.set(runtime, (ref = { name: runtime.name, version: runtime.version }));
    return ref;
  };

  async function predict(request: FastifyRequest): Promise<Record<string, unknown>> {
    const single = singleReviewRequests.has(request);
    const problems = schemaProblems(request);
    const body = request.body as PredictBody;
    const bodyOptions = isRecord(body) && isRecord(body.options) ? body.options : undefined;
    const partial = !single && bodyOptions?.partial === true;
    const sentences = bodyOptions?.sentences === true;
    // Problems outside the items (envelope, options) leave nothing to answer in place.
    if (problems.some((problem) => problem.item === undefined)) throw requestInvalid([...problems]);

    const badItems = itemErrors(problems);
    const reviews = body.reviews;
    const outcomes = checkItems(reviews, badItems, options.maxTextBytes);

    // One pass: the accepted items' inputs in order, the refused ones apart (usually none).
    const inputs: ReviewInput[] = [];
    const acceptedAt: number[] = [];
    let refused: Array<{ index: number; error: DriftlineError }> | undefined;
    for (const outcome of outcomes) {
      if ('input' in outcome) {
        inputs.push(outcome.input);
        acceptedAt.push(outcome.index);
      } else {
        (refused ??= []).push(outcome);
        metrics.predictionItemErrors.inc({ code: outcome.error.code });
      }
    }
    if (refused !== undefined && !partial) {
      const all = dedupeProblems([...problems, ...refused.filter((o) => !badItems.has(o.index)).map((o) => problemOf(o.index, o.error))]);
      throw requestInvalid(all, single ? 'review' : 'batch');
    }

    // No version asked for: the serving one, without a trip through the version cache.
    const ref = isRecord(body) ? versionRefOf(body.model_version) : undefined;
    const lease = ref === undefined ? undefined : await versions.acquire(ref);
    let scoredWith: Awaited<ReturnType<typeof scoreItems>>;
    try {
      scoredWith = await scoreItems(lease ? leasedScorer(lease) : serving, inputs, sentences, partial);
    } finally {
      lease?.release();
    }
    const { runtime, results: scored } = scoredWith;
    const model = modelRefOf(runtime);

    const answers: Array<Record<string, unknown>> = new Array(reviews.length);
    let refusedCount = 0;
    if (refused !== undefined) {
      for (const outcome of refused) {
        const raw = reviews[outcome.index];
        answers[outcome.index] = itemErrorBody(isRecord(raw) ? raw.id : null, outcome.error);
      }
      refusedCount = refused.length;
    }
    // Per sentiment, in SENTIMENTS order.
    const perClass = [0, 0, 0];
    let withReplacementChar = 0;
    for (let k = 0; k < inputs.length; k++) {
      const input = inputs[k]!;
      const result = scored[k] ?? noPrediction();
      if (result instanceof DriftlineError) {
        metrics.predictionItemErrors.inc({ code: result.code });
        answers[acceptedAt[k]!] = itemErrorBody(input.review_id, result);
        refusedCount++;
        continue;
      }
      perClass[SENTIMENT_INDEX[result.sentiment]]!++;
      if (hasReplacementCharacter(input.text) || hasReplacementCharacter(input.title)) withReplacementChar++;
      answers[acceptedAt[k]!] = predictionBody(input.review_id, result, model, sentences);
    }
    for (let c = 0; c < SENTIMENTS.length; c++) {
      const count = perClass[c]!;
      if (count > 0) metrics.predictions.inc(metrics.versionSeries.note(metrics.predictions, model.version, { sentiment: SENTIMENTS[c]!, model_version: String(model.version) }), count);
    }
    if (withReplacementChar > 0) metrics.replacementChar.inc(withReplacementChar);

    if (single) return { model, prediction: answers[0] };
    return { model, predictions: answers, refused: refusedCount };
  }

  app.post('/v1/predict', {
    schema: predictRouteSchema,
    // Validation errors reach the handler, which decides between 400 and a partial answer.
    attachValidation: true,
    preValidation: async (request) => {
      const body = request.body;
      if (!isRecord(body)) return;
      if (body.review !== undefined && body.reviews === undefined) {
        body.reviews = [body.review];
        delete body.review;
        singleReviewRequests.add(request);
      }
      // Counted before schema validation: a huge batch is refused without checking every item.
      if (Array.isArray(body.reviews) && body.reviews.length > maxBatch) {
        throw new DriftlineError('BATCH_TOO_LARGE', `The batch has ${body.reviews.length} reviews; the limit is ${maxBatch} (DRIFTLINE_API_MAX_BATCH).`, {
          details: { limit: maxBatch, received: body.reviews.length },
        });
      }
    },
    // A SERVER span per request when tracing is on, continuing the caller's W3C traceparent when it sends one;
    // when it is off, no span closure or options object is made per request.
    handler: (request) =>
      tracingEnabled() ? withSpan('api.predict', () => predict(request), SPAN_ATTRIBUTES, { parent: extractTraceContext(request.headers), kind: SpanKind.SERVER }) : predict(request),
  });
};
