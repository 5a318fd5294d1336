/**
 * What the admin routes ask of the trainer: evaluation of a model version on labelled reviews
 * (POST /v1/evaluate) and the training executor behind the job runner (POST /v1/train).
 * Labels and metrics are the trainer's own (trainer/evaluate.ts: label = sentiment of the star rating),
 * so the API reports exactly what `driftline evaluate` and the registry's held-out metrics report.
 */
import { DriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelRegistry } from '../core/model/registry.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import type { ModelRuntime, ModelService } from '../core/model/types.js';
import { userPath } from '../core/paths.js';
import { runTrainingJob } from '../trainer/pipeline.js';
import { DEFAULT_TRAIN_PARAMS, type TrainParams } from '../trainer/train.js';
import type { LabeledReview } from '../trainer/data.js';
import { evaluatePredictions, scoreAll } from '../trainer/evaluate.js';
import type { TrainExecutor } from './jobs.js';

/** A labelled review as POST /v1/evaluate and /v1/train take it (the dataset JSONL shape). */
export interface LabelledReview {
  review_id: string;
  text: string;
  rating: number;
  title?: string | null;
  product_id?: string | null;
  category?: string | null;
  helpful_votes?: number | null;
  verified?: boolean | null;
  ts?: string | null;
}

export interface EvaluateOptions {
  registry: ModelRegistry;
  modelService: ModelService;
  name: string;
  /** Default: the serving version (for the served model) or the registry's production version. */
  version: number | undefined;
}

function toLabelled(review: LabelledReview): LabeledReview {
  const ms = typeof review.ts === 'string' ? Date.parse(review.ts) : Number.NaN;
  return {
    review_id: review.review_id,
    text: review.text,
    title: review.title ?? null,
    product_id: review.product_id ?? null,
    category: review.category ?? null,
    rating: review.rating,
    helpful_votes: review.helpful_votes ?? null,
    verified: review.verified ?? null,
    event_time_ms: Number.isFinite(ms) ? ms : null,
    source: null,
  };
}

/** The runtime to evaluate, and whether it was loaded just for this (then it is disposed afterwards). */
async function runtimeFor(options: EvaluateOptions): Promise<{ runtime: ModelRuntime; owned: boolean }> {
  const { registry, modelService, name } = options;
  const serving = name === modelService.modelName && modelService.isReady() ? modelService.current() : undefined;
  if (serving && (options.version === undefined || options.version === serving.version)) return { runtime: serving, owned: false };
  const version = options.version ?? (await registry.productionVersion(name));
  if (version === null) throw new DriftlineError('MODEL_NOT_FOUND', `Model ${name} has no production version; pass a version`, { field: 'version' });
  await registry.get(name, version);
  return { runtime: await loadModelRuntime(registry.versionDir(name, version), { name, version }), owned: true };
}

export async function evaluateReviews(reviews: LabelledReview[], options: EvaluateOptions): Promise<Record<string, unknown>> {
  const { runtime, owned } = await runtimeFor(options);
  try {
    const rows = reviews.map(toLabelled);
    const report = evaluatePredictions(rows, await scoreAll(runtime, rows), []);
    const sentiment = report.sentiment;
    return {
      model: { name: runtime.name, version: runtime.version },
      rows: report.rows,
      accuracy: sentiment.accuracy,
      macro_f1: sentiment.macroF1,
      labels: sentiment.classes,
      per_class: sentiment.perClass,
      confusion_matrix: sentiment.confusion,
      mean_confidence: report.meanConfidence,
      outlier_rate: report.outlierRate,
      rating_text_disagreement_rate: report.disagreementRate,
    };
  } finally {
    if (owned) runtime.dispose();
  }
}

export interface TrainerExecutorOptions {
  registry: ModelRegistry;
  modelName: string;
  logger: Logger;
}

/** Trainer parameters a request may set: exactly the keys of DEFAULT_TRAIN_PARAMS (all numbers). */
export const TRAIN_PARAM_NAMES = Object.keys(DEFAULT_TRAIN_PARAMS) as Array<keyof TrainParams>;

function trainParamsOf(source: Record<string, unknown>): Partial<TrainParams> {
  const out: Partial<TrainParams> = {};
  for (const name of TRAIN_PARAM_NAMES) {
    const value = source[name];
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
  }
  return out;
}

/**
 * Runs trainer/pipeline.ts runTrainingJob for the served model name: same split, evaluation,
 * baseline and registration as `driftline train`; the new version lands in staging (and is
 * promoted only when asked). The TF-IDF comparison is skipped: it is a report for humans, and this
 * process also serves predictions. Training cannot be interrupted half-way: on shutdown the job is
 * marked cancelled once the grace period is over.
 */
export function trainerExecutor(options: TrainerExecutorOptions): TrainExecutor {
  const { registry, modelName, logger } = options;
  return async (request, report) => {
    const base = request.baseVersion === undefined ? {} : trainParamsOf((await registry.get(modelName, request.baseVersion)).params);
    const result = await runTrainingJob({
      registry,
      name: modelName,
      ...(request.datasetPath === undefined ? {} : { files: [userPath(request.datasetPath)] }),
      ...(request.reviews === undefined ? {} : { rows: (request.reviews as unknown as LabelledReview[]).map(toLabelled) }),
      params: { ...base, ...trainParamsOf(request.params ?? {}) },
      promote: request.promote === true,
      compareBaseline: false,
      actor: request.actor,
      progress: (line) => logger.debug({ part: 'training' }, line),
      onPhase: (phase, fraction) => report({ phase, fraction }),
    });
    return {
      version: result.version,
      stage: result.stage,
      metrics: {
        accuracy: result.heldOut.sentiment.accuracy,
        macroF1: result.heldOut.sentiment.macroF1,
        heldOutRows: result.data.heldOutRows,
        trainRows: result.data.trainRows,
        outlierAuroc: result.outliers.auroc,
        ...(result.promotionRefused ? { promotionRefused: result.promotionRefused } : {}),
      },
    };
  };
}
