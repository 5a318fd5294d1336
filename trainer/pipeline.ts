/**
 * A whole training job: data -> deterministic hold-out split -> train -> evaluate on the held-out
 * part (model, TF-IDF baseline, injected-anomaly AUROC) -> reference baseline from the held-out rows
 * (their predictions and their measured quality, plus the sentiment calibration fitted on the validation
 * rows for the label-free performance estimate) -> register in the registry (stage 'staging') -> optionally promote.
 * Used by `driftline train` and by the API's training jobs.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { type ReferenceBaseline, buildReferenceBaseline } from '../core/drift/baseline.js';
import { withSegmentBaselines } from '../core/drift/segments.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { writeModelArtifacts } from '../core/model/artifacts.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import { createModelRuntime } from '../core/model/runtime.js';
import { loadTf } from '../core/model/tf.js';
import type { ModelRuntime, Prediction } from '../core/model/types.js';
import { evaluateTfidf } from './baseline-tfidf.js';
import { type CategoryBaseline, evaluateCategoryTfidf } from './category-baseline.js';
import { type LabeledReview, loadLabeledJsonl, splitByReviewId } from './data.js';
import { attachSentenceModel, type SentenceReport } from './sentences.js';
import { type EvaluationReport, type OutlierEvaluation, evaluateOutliers, evaluatePredictions, monitoredInput, scoreAll } from './evaluate.js';
import type { ClassificationReport } from './metrics.js';
import { type BaseModelRequest, type ResolvedBase, loadParent, resolveBaseModel, warmStartParams } from './base-model.js';
import type { CategoryBlendSummary } from './category-blend.js';
import { type EpochLog, type TrainParams, type TrainResult, trainModel, validationSplit } from './train.js';
import { type CalibrationReport, checkCalibration, fitVersionCalibration } from './calibration.js';
import { recordSafely, recordTrainingRun } from './runs/record.js';
import { openRunStore, runsDirFor, type RunStore } from './runs/store.js';

/** Salt of the hold-out split: fixed, so every training run holds out the same reviews. */
export const HOLDOUT_SALT = 0x401d0;

export interface TrainJobOptions {
  registry: ModelRegistry;
  name: string;
  files?: string[];
  rows?: LabeledReview[];
  /** Parameters asked for: they win over the base model's (architecture excepted, see warmStartParams). */
  params?: Partial<TrainParams>;
  /** Parameters used where neither the request nor the base model sets one (e.g. the CLI's settings). */
  paramDefaults?: Partial<TrainParams>;
  /** The model to continue from (default: the production version of `name`; `none`: from scratch). */
  base?: BaseModelRequest;
  holdout?: number;
  promote?: boolean;
  compareBaseline?: boolean;
  actor?: string;
  reportPath?: string;
  progress?: (line: string) => void;
  /** Coarse phase reports (for API job progress). */
  onPhase?: (phase: string, fraction: number) => void;
  /** Where the job is recorded as a run (default: trainer/runs/store.ts runsDirFor the registry; null: not recorded). */
  runs?: RunStore | null;
  /**
   * Further evaluations of the trained candidate before it is registered (e.g. the retrain policy's comparison
   * with production): kept as metrics.comparison in the version's record, its run and the report.
   */
  compare?: (candidate: ModelRuntime) => Promise<Record<string, unknown>>;
  /**
   * Which held-out rows build the drift reference baseline (default: all). The retrain policy keeps the recent
   * ones: the candidate's reference should be the traffic it is going to serve.
   */
  baselineRows?: (row: LabeledReview) => boolean;
}

export interface TrainingReport {
  name: string;
  version: number;
  stage: string;
  promoted: boolean;
  promotionRefused: string | null;
  backend: string;
  /** What the run started from: the parent version (warm start) or scratch, and why. */
  base: ResolvedBase;
  data: { files: string[]; fingerprint: string; rows: number; trainRows: number; validationRows: number; heldOutRows: number };
  params: TrainParams;
  history: EpochLog[];
  bestEpoch: number;
  /** The wide part: per-epoch validation macro-F1, the kept epoch and the blend tuned on validation rows. */
  wide: TrainResult['wide'];
  /** The category head's blend with the wide category part, or null when the head alone did best on validation. */
  categoryBlend: CategoryBlendSummary | null;
  heldOut: EvaluationReport;
  tfidfBaseline: { report: ClassificationReport; features: number; seconds: number } | null;
  /** TF-IDF + LR on the category label, same split and classes as the model's category head. */
  categoryTfidfBaseline: CategoryBaseline | null;
  outliers: OutlierEvaluation;
  /** Sentiment calibration for the label-free estimate: fitted on the validation rows, checked on the held-out rows. */
  calibration: CalibrationReport;
  /** The sentence model (options.sentences) and the review model on the same held-out sentences. */
  sentences: SentenceReport;
  timings: Record<string, number>;
  /** The job's run (trainer/runs/), null when it was not recorded. */
  runId: string | null;
  /** Why the run could not be recorded (the version is registered regardless). */
  runError: string | null;
  /** What options.compare answered (null without it). */
  comparison: Record<string, unknown> | null;
}

export async function runTrainingJob(options: TrainJobOptions): Promise<TrainingReport> {
  const log = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const phase = options.onPhase ?? (() => {});
  const started = performance.now();
  const base = await resolveBaseModel(options.registry, options.name, options.base);
  phase('loading data', 0);
  const loaded = options.rows ? { rows: options.rows, fingerprint: fingerprintRows(options.rows), files: [] as string[] } : await loadLabeledJsonl(options.files ?? []);
  const holdout = options.holdout ?? 0.2;
  const { rest: train, held } = splitByReviewId(loaded.rows, holdout, HOLDOUT_SALT);
  if (train.length < 100 || held.length < 20) throw new DriftlineError('TRAINING_FAILED', `too few reviews: ${train.length} to train, ${held.length} held out (need 100 / 20)`);
  log(`data: ${loaded.rows.length} reviews (${train.length} train, ${held.length} held out), fingerprint ${loaded.fingerprint.slice(0, 16)}`);

  const { tf, backend } = await loadTf();
  const parent = await loadParent(tf, options.registry, base);
  let trained: TrainResult;
  let params: TrainParams;
  try {
    params = warmStartParams(options.params ?? {}, options.paramDefaults ?? {}, parent);
    log(parent ? `base: ${base.model} v${base.parentVersion} (warm start)` : `base: none, from scratch${base.note ? ` (${base.note})` : ''}`);
    phase('training', 0.1);
    trained = await trainModel(tf, train, params, log, parent ? { parent: parent.bundle, rebuildVocabulary: base.rebuildVocabulary } : undefined);
  } finally {
    parent?.bundle.head.dispose();
    parent?.bundle.autoencoder.dispose();
  }
  const runtime = createModelRuntime(tf, backend, trained.bundle, { name: options.name, version: 0 });
  try {
    phase('evaluating', 0.7);
    const evalStart = performance.now();
    const heldPredictions = await scoreAll(runtime, held);
    const heldOut = evaluatePredictions(held, heldPredictions, trained.bundle.manifest.categories);
    const outliers = await evaluateOutliers(runtime, held, heldPredictions);
    const fitted = await fitVersionCalibration(runtime, validationSplit(train, params).held, trained.bundle.manifest.blend.logOffsets);
    const calibration: CalibrationReport = { fitted, heldOut: checkCalibration(fitted, held, heldPredictions) };
    log(
      `calibration: temperature ${fitted.temperature} fitted on ${fitted.rows} validation reviews; held-out top-label ECE ${calibration.heldOut.eceServed.toFixed(4)} served -> ${calibration.heldOut.eceCalibrated.toFixed(4)} calibrated; ` +
        `CBPE accuracy ${calibration.heldOut.estimatedAccuracyCalibrated.toFixed(4)} vs realized ${calibration.heldOut.accuracy.toFixed(4)}`,
    );
    const evaluateSeconds = (performance.now() - evalStart) / 1000;
    const tfidfBaseline = options.compareBaseline === false ? null : evaluateTfidf(train, held);
    const categoryBaseline = options.compareBaseline === false ? null : evaluateCategoryTfidf(train, held, trained.bundle.manifest.categories);
    printComparison(log, heldOut, tfidfBaseline?.report ?? null, outliers, categoryBaseline?.report ?? null);
    const sentences = attachSentenceModel(tf, trained.bundle, train, held);
    log(`sentence model: held-out sentences macro-F1 ${pct(sentences.sentenceModel.macroF1)} (review model on the same sentences ${pct(sentences.reviewModel.macroF1)}; ${sentences.sentences} sentences, labels inherited from their review)`);

    phase('baseline', 0.85);
    const keep = options.baselineRows ? held.map(options.baselineRows) : null;
    const reference = keep
      ? (() => {
          const rows = held.filter((_, i) => keep[i]);
          const predictions = heldPredictions.filter((_, i) => keep[i]);
          return heldOutBaseline(options.name, rows, predictions, evaluatePredictions(rows, predictions, trained.bundle.manifest.categories));
        })()
      : heldOutBaseline(options.name, held, heldPredictions, heldOut);
    const baseline: ReferenceBaseline = { ...reference, sentimentCalibration: fitted };
    const timings = { ...trained.timings, evaluateSeconds: round3(evaluateSeconds), tfidfSeconds: round3((tfidfBaseline?.seconds ?? 0) + (categoryBaseline?.seconds ?? 0)), totalSeconds: round3((performance.now() - started) / 1000) };
    const metrics = {
      accuracy: heldOut.sentiment.accuracy,
      macroF1: heldOut.sentiment.macroF1,
      perClass: heldOut.sentiment.perClass,
      confusion: heldOut.sentiment.confusion,
      perSource: Object.fromEntries(Object.entries(heldOut.perSource).map(([k, v]) => [k, { rows: v.rows, accuracy: v.accuracy, macroF1: v.macroF1 }])),
      categoryAccuracy: heldOut.category?.accuracy ?? null,
      // The promotion gate compares category macro-F1 and holds every class to a floor (core/model/promotion-gate.ts).
      categoryMacroF1: heldOut.category?.macroF1 ?? null,
      categoryPerClass: heldOut.category?.perClass ?? null,
      categoryTfidfBaseline: categoryBaseline ? { accuracy: categoryBaseline.report.accuracy, macroF1: categoryBaseline.report.macroF1 } : null,
      outlierAuroc: outliers.auroc,
      outlierAurocPerKind: outliers.perKind,
      sentenceMacroF1: sentences.sentenceModel.macroF1,
      tfidfBaseline: tfidfBaseline ? { accuracy: tfidfBaseline.report.accuracy, macroF1: tfidfBaseline.report.macroF1 } : null,
      heldOutRows: held.length,
      bestEpoch: trained.bestEpoch,
      sentimentBlend: trained.wide.blend,
    };

    const comparison = options.compare ? await options.compare(runtime) : null;
    if (comparison) Object.assign(metrics, { comparison });
    phase('registering', 0.95);
    const registered = await options.registry.register({
      name: options.name,
      writeArtifacts: (dir) => writeModelArtifacts(trained.bundle, dir),
      metrics,
      baseline,
      featurizer: trained.bundle.featurizer,
      dataFingerprint: loaded.fingerprint,
      params: { ...params, holdout, holdoutSalt: HOLDOUT_SALT },
      timings,
      parent: base.parentVersion === null ? null : { model: base.model, version: base.parentVersion },
      ...(options.actor ? { actor: options.actor } : {}),
      reason: 'trained',
    });
    log(`registered ${options.name} v${registered.version} (staging) in ${options.registry.root}`);
    let stage = 'staging';
    let promotionRefused: string | null = null;
    if (options.promote) {
      try {
        await options.registry.promote(options.name, registered.version, { actor: options.actor ?? 'trainer', reason: `trained; held-out macro-F1 ${metrics.macroF1}` });
        stage = 'production';
        log(`promoted ${options.name} v${registered.version} to production`);
      } catch (err) {
        const e = toDriftlineError(err);
        if (e.code !== 'PROMOTION_REFUSED') throw e;
        promotionRefused = e.message;
        log(`promotion refused: ${e.message}`);
      }
    }
    const report: TrainingReport = {
      name: options.name,
      version: registered.version,
      stage,
      promoted: stage === 'production',
      promotionRefused,
      backend,
      base,
      data: { files: loaded.files, fingerprint: loaded.fingerprint, rows: loaded.rows.length, trainRows: trained.trainRows, validationRows: trained.validationRows, heldOutRows: held.length },
      params,
      history: trained.history,
      bestEpoch: trained.bestEpoch,
      wide: trained.wide,
      categoryBlend: trained.categoryBlend ?? null,
      heldOut,
      tfidfBaseline,
      categoryTfidfBaseline: categoryBaseline,
      outliers,
      calibration,
      sentences,
      timings,
      runId: null,
      runError: null,
      comparison,
    };
    const runs = options.runs === undefined ? openRunStore(runsDirFor(options.registry.root)) : options.runs;
    if (runs) {
      const model = { name: options.name, version: registered.version, parentVersion: base.parentVersion };
      const extra = { ...(comparison ? { comparison } : {}), outlierAuroc: outliers.auroc, tfidfBaseline: metrics.tfidfBaseline, categoryTfidfBaseline: metrics.categoryTfidfBaseline, bestEpoch: trained.bestEpoch, stage, timings };
      const run = await recordSafely(() => recordTrainingRun(runs, { model, params: { ...params, holdout }, data: report.data, heldOut: { rows: held, predictions: heldPredictions, report: heldOut }, metrics: extra }), (message) => {
        report.runError = message;
        log(message);
      });
      report.runId = run?.id ?? null;
      if (run) log(`run ${run.id} recorded in ${runs.dir}${run.notes.map((note) => `; ${note}`).join('')}`);
    }
    await options.registry.recordRun(options.name, { kind: 'train', version: registered.version, metrics, timings, history: trained.history, data: report.data });
    if (options.reportPath) await writeFile(options.reportPath, `${JSON.stringify(report, null, 2)}\n`);
    phase('done', 1);
    return report;
  } finally {
    runtime.dispose();
  }
}

/**
 * The drift reference: what the model does on reviews it never saw. Live windows are compared with it,
 * so both the quality numbers (accuracy, macro-F1, confidence, outlier rate) and the histograms come
 * from the held-out rows: on the training rows the model is more accurate and more confident than it
 * can ever be on live traffic (normal traffic would read as a quality drop), and the outlier/shift
 * scores are calibrated on unseen rows, so only unseen rows give their reference distribution.
 */
export function heldOutBaseline(name: string, held: readonly LabeledReview[], predictions: readonly Prediction[], quality: EvaluationReport): ReferenceBaseline {
  const inputs = held.map((row, i) => monitoredInput(row, predictions[i]!));
  const global = buildReferenceBaseline(inputs, {
    modelName: name,
    modelVersion: 0,
    reference: { accuracy: quality.sentiment.accuracy, macroF1: quality.sentiment.macroF1, meanConfidence: quality.meanConfidence, outlierRate: quality.outlierRate },
  });
  // Each category's own reference too: a category that is simply unlike the average is not drift.
  return withSegmentBaselines(global, inputs);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Inline data (API jobs) has no file: the fingerprint is the sha256 of the rows' JSON. */
function fingerprintRows(rows: readonly LabeledReview[]): string {
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex');
}

function pct(x: number): string {
  return x.toFixed(4);
}

export function printComparison(log: (line: string) => void, model: EvaluationReport, tfidf: ClassificationReport | null, outliers: OutlierEvaluation | null, categoryTfidf: ClassificationReport | null = null): void {
  log('held-out evaluation                 model      tfidf+LR');
  log(`  accuracy                          ${pct(model.sentiment.accuracy)}     ${tfidf ? pct(tfidf.accuracy) : '-'}`);
  log(`  macro-F1                          ${pct(model.sentiment.macroF1)}     ${tfidf ? pct(tfidf.macroF1) : '-'}`);
  for (const cls of model.sentiment.classes) {
    const m = model.sentiment.perClass[cls]!;
    const t = tfidf?.perClass[cls];
    log(`  F1 ${cls.padEnd(30)} ${pct(m.f1)}     ${t ? pct(t.f1) : '-'}   (P ${pct(m.precision)} R ${pct(m.recall)} n=${m.support})`);
  }
  log(`  confusion (rows actual neg/neu/pos): ${JSON.stringify(model.sentiment.confusion)}`);
  for (const [family, r] of Object.entries(model.perSource)) log(`  source ${family.padEnd(28)} acc ${pct(r.accuracy)}  macro-F1 ${pct(r.macroF1)}  n=${r.rows}`);
  if (model.category) {
    log(`category                            model      tfidf+LR   (n=${model.category.rows})`);
    log(`  accuracy                          ${pct(model.category.accuracy)}     ${categoryTfidf ? pct(categoryTfidf.accuracy) : '-'}`);
    log(`  macro-F1                          ${pct(model.category.macroF1)}     ${categoryTfidf ? pct(categoryTfidf.macroF1) : '-'}`);
    for (const cls of model.category.classes) {
      const m = model.category.perClass[cls]!;
      const t = categoryTfidf?.perClass[cls];
      log(`  F1 ${cls.padEnd(30)} ${pct(m.f1)}     ${t ? pct(t.f1) : '-'}   (P ${pct(m.precision)} R ${pct(m.recall)} n=${m.support})`);
    }
  }
  if (outliers) {
    log(`  outlier AUROC (injected)          ${pct(outliers.auroc)}  ${JSON.stringify(outliers.perKind)}`);
    log(`  outlier flagged: real ${pct(outliers.normalFlagRate)}, injected per kind ${JSON.stringify(outliers.perKindFlagRate)}`);
  }
}
