/**
 * What the admin routes ask of the trainer: evaluation of a model version on labelled reviews
 * (POST /v1/evaluate) and the training executor behind the job runner (POST /v1/train).
 * Labels and metrics are the trainer's own (trainer/evaluate.ts: label = sentiment of the star rating),
 * so the API reports exactly what `driftline evaluate` and the registry's held-out metrics report.
 */
import { DriftlineError, ERROR_CODES, toDriftlineError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { promotionEvent } from '../core/model/promotions.js';
import { changeOf } from '../core/model/registry/index.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { resolveVersionRef } from '../core/model/version-ref.js';
import type { ModelRuntime } from '../core/model/types.js';
import { userPath } from '../core/paths.js';
import { DEFAULT_TRAIN_PARAMS, type TrainParams } from './train.js';
import type { ResolvedBase } from './base-model.js';
import type { LabeledReview, LabeledReviewRecord } from '../core/review.js';
import { evaluatePredictions, scoreAll } from './evaluate.js';
import type { TrainWorkerInput, TrainWorkerMessage } from './train-worker.js';
import { startWorkerEntry } from '../core/worker-thread.js';
import { recordEvaluation } from './runs/hooks.js';
import type { BaseView, EvaluateOptions, JobProgress, TrainerExecutorOptions, TrainExecutor } from './types.js';

export function baseView(base: ResolvedBase): BaseView {
  return { model: base.model, requested: base.requested, parent_version: base.parentVersion, rebuild_vocabulary: base.rebuildVocabulary, note: base.note };
}

function toLabelled(review: LabeledReviewRecord): LabeledReview {
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
  if (serving && options.version === undefined) return { runtime: serving, owned: false };
  const version = await resolveVersionRef(registry, name, options.version ?? 'production');
  if (serving && version === serving.version) return { runtime: serving, owned: false };
  return { runtime: await loadModelRuntime(await registry.localVersionDir(name, version), { name, version }), owned: true };
}

export async function evaluateReviews(reviews: LabeledReviewRecord[], options: EvaluateOptions): Promise<Record<string, unknown>> {
  return evaluateRows(reviews.map(toLabelled), options);
}

/** Evaluates rows already read as LabeledReview (e.g. from a dataset location). */
export async function evaluateRows(rows: LabeledReview[], options: EvaluateOptions): Promise<Record<string, unknown>> {
  const { runtime, owned } = await runtimeFor(options);
  try {
    const predictions = await scoreAll(runtime, rows);
    const report = evaluatePredictions(rows, predictions, []);
    const sentiment = report.sentiment;
    const run = options.runs ? await recordEvaluation(options.runs.store, { registry: options.registry, name: runtime.name, version: runtime.version, rows, predictions, warn: options.runs.warn }) : null;
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
      run_id: run?.id ?? null,
    };
  } finally {
    if (owned) runtime.dispose();
  }
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

type Done = Extract<TrainWorkerMessage, { type: 'done' }>;

/** Runs one training in a worker; aborting terminates it unless it is already registering. */
function trainInWorker(input: TrainWorkerInput, report: (progress: JobProgress) => void, signal: AbortSignal, logger: Logger): Promise<Done> {
  return new Promise<Done>((resolve, reject) => {
    const worker = startWorkerEntry(import.meta.url, 'train-worker', input);
    let phase = 'starting';
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      // Stopping inside the registry's write could leave its lock behind; that last step is short.
      if (phase === 'registering') return;
      settle(() => reject(new DriftlineError('SHUTTING_DOWN', 'The training job was stopped because the API shut down.')));
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort);
    worker.on('message', (message: TrainWorkerMessage) => {
      if (message.type === 'phase') {
        phase = message.phase;
        report({ phase: message.phase, fraction: message.fraction });
      } else if (message.type === 'log') {
        logger.debug({ part: 'training' }, message.line);
      } else if (message.type === 'done') {
        settle(() => resolve(message));
      } else {
        const code = (message.code in ERROR_CODES ? message.code : 'TRAINING_FAILED') as ErrorCode;
        settle(() => reject(new DriftlineError(code, message.message)));
      }
    });
    worker.on('error', (err) => settle(() => reject(toDriftlineError(err, 'TRAINING_FAILED'))));
    worker.on('exit', (code) => settle(() => reject(new DriftlineError('TRAINING_FAILED', `the training worker exited (code ${code}) without a result`))));
  });
}

/** The new version's stage changes (register), as the events publishingRegistry would have sent. */
async function publishRegistration(options: TrainerExecutorOptions, version: number): Promise<void> {
  if (!options.publish) return;
  const record = await options.registry.get(options.modelName, version);
  for (const entry of record.stage_history) {
    const change = changeOf(record, entry);
    try {
      await options.publish(promotionEvent(change));
    } catch (err) {
      // The version is registered either way; serving processes only act on production changes.
      options.logger.warn({ err: toDriftlineError(err).toJSON(), version }, 'registration event not published');
    }
  }
}

/**
 * Runs trainer/pipeline.ts runTrainingJob (same split, evaluation, baseline and registration as
 * `driftline train`) for the served model name on a worker thread, so predictions are not slowed.
 * The new version lands in staging; with `promote` it is then promoted from the main thread through
 * the (publishing) registry, unless its held-out macro-F1 is worse than production's.
 */
export function trainerExecutor(options: TrainerExecutorOptions): TrainExecutor {
  const { registry, modelName, logger } = options;
  return async (request, report, signal) => {
    const done = await trainInWorker(
      {
        registryRoot: registry.root,
        modelName,
        ...(request.datasetPath === undefined ? {} : { files: [userPath(request.datasetPath)] }),
        ...(request.reviews === undefined ? {} : { rows: (request.reviews as unknown as LabeledReviewRecord[]).map(toLabelled) }),
        params: trainParamsOf(request.params ?? {}),
        base: {
          ...(request.baseVersion === undefined ? {} : { version: request.baseVersion }),
          ...(request.baseModel === undefined ? {} : { model: request.baseModel }),
          rebuildVocabulary: request.rebuildVocabulary === true,
        },
        actor: request.actor,
      },
      report,
      signal,
      logger,
    );
    await publishRegistration(options, done.version);
    if (done.runError) logger.warn({ version: done.version }, done.runError);
    const metrics: Record<string, unknown> = { ...done.metrics };
    let stage = done.stage;
    if (request.promote) {
      report({ phase: 'promoting', fraction: 0.99 });
      try {
        await registry.promote(modelName, done.version, { actor: request.actor, reason: `trained by API job; held-out macro-F1 ${String(done.metrics.macroF1)}` });
        stage = 'production';
      } catch (err) {
        const error = toDriftlineError(err);
        if (error.code !== 'PROMOTION_REFUSED') throw error;
        metrics.promotionRefused = error.message;
      }
    }
    return { version: done.version, stage, metrics, base: baseView(done.base), run_id: done.runId };
  };
}
