/**
 * Turns a finished training or evaluation into a run: its metrics (per-class precision/recall/F1 of both
 * heads, calibration), its pictures (confusion matrices, reliability diagram; SVG and PNG) and, for an
 * evaluation, the dataset's drift against the version's reference baseline. The jobs call one function
 * here and nothing else, so the job runner and the pipeline stay about jobs.
 */
import { basename, isAbsolute } from 'node:path';
import type { ReferenceBaseline } from '../../core/drift/baseline.js';
import { loadDriftThresholds, type DriftThresholds } from '../../core/drift/config.js';
import { toDriftlineError } from '../../core/errors.js';
import type { Prediction } from '../../core/model/types.js';
import { repoRelative } from '../../core/paths.js';
import { type LabeledReview, sentimentLabel } from '../data.js';
import type { EvaluationReport } from '../evaluate.js';
import type { ClassificationReport } from '../metrics.js';
import { calibrationReport } from './calibration.js';
import { datasetDriftReport } from './drift.js';
import { svgToPng } from './png.js';
import type { RunStore } from './store.js';
import { confusionMatrixSvg, reliabilitySvg } from './svg.js';
import type { ArtifactContent, RunInput, RunRecord } from './types.js';

/** Labelled rows, the model's predictions for them and the evaluation of those predictions. */
export interface ScoredSet {
  rows: readonly LabeledReview[];
  predictions: readonly Prediction[];
  report: EvaluationReport;
}

export interface RunModel {
  name: string;
  version: number;
  parentVersion: number | null;
}

export interface RunData {
  fingerprint: string;
  files: readonly string[];
}

export interface TrainRunInput {
  model: RunModel;
  params: Record<string, unknown>;
  data: RunData & { rows: number };
  /** The held-out part: what the run's quality numbers and pictures describe. */
  heldOut: ScoredSet;
  /** Further numbers of the job (outlier AUROC, baselines, timings). */
  metrics?: Record<string, unknown>;
}

export interface EvalRunInput {
  /** 'eval', or 'infer' for a batch inference job (scored the same way against the star ratings). */
  kind?: 'eval' | 'infer';
  model: RunModel;
  params?: Record<string, unknown>;
  data: RunData;
  evaluated: ScoredSet;
  /** The version's reference baseline: the dataset's drift report is against it (none without). */
  baseline: ReferenceBaseline | null;
  thresholds?: DriftThresholds;
  metrics?: Record<string, unknown>;
}

/** How a run names its data files: relative to the repository, else the file name only (no server paths). */
function fileLabel(path: string): string {
  const label = repoRelative(path);
  return isAbsolute(label) ? basename(label) : label;
}

function headSummary(report: ClassificationReport): Record<string, unknown> {
  return { rows: report.rows, accuracy: report.accuracy, macroF1: report.macroF1, classes: report.classes, perClass: report.perClass, confusion: report.confusion };
}

interface Quality {
  metrics: Record<string, unknown>;
  artifacts: ArtifactContent[];
  notes: string[];
}

/** A picture as SVG and, when the renderer loads, PNG. */
async function picture(stem: string, svg: string, description: string, notes: string[]): Promise<ArtifactContent[]> {
  const out: ArtifactContent[] = [{ name: `${stem}.svg`, content: svg, description: `${description} (SVG)` }];
  const png = await svgToPng(svg);
  if (png.ok) out.push({ name: `${stem}.png`, content: png.png, description: `${description} (PNG)` });
  else if (!notes.some((note) => note.startsWith('PNG pictures skipped'))) notes.push(`PNG pictures skipped: ${png.reason}`);
  return out;
}

async function quality(set: ScoredSet, model: RunModel, what: string): Promise<Quality> {
  const notes: string[] = [];
  const labels = Int32Array.from(set.rows, (row) => sentimentLabel(row.rating));
  const calibration = calibrationReport(set.predictions, labels);
  const { sentiment, category } = set.report;
  const heads = { sentiment: headSummary(sentiment), category: category ? headSummary(category) : null };
  const metrics: Record<string, unknown> = {
    rows: set.report.rows,
    accuracy: sentiment.accuracy,
    macroF1: sentiment.macroF1,
    categoryAccuracy: category?.accuracy ?? null,
    categoryMacroF1: category?.macroF1 ?? null,
    ece: calibration.ece,
    brier: calibration.brier,
    meanConfidence: set.report.meanConfidence,
    outlierRate: set.report.outlierRate,
    ratingTextDisagreementRate: set.report.disagreementRate,
  };
  const label = `${model.name} v${model.version}, ${what}, n=${set.report.rows}`;
  const artifacts: ArtifactContent[] = [
    { name: 'metrics.json', content: `${JSON.stringify({ ...heads, calibration }, null, 2)}\n`, description: 'Per-class precision/recall/F1 and confusion of sentiment and category; calibration bins' },
    ...(await picture('confusion-sentiment', confusionMatrixSvg({ title: `Sentiment confusion: ${label}`, classes: sentiment.classes, matrix: sentiment.confusion }), 'Sentiment confusion matrix', notes)),
  ];
  if (category && category.rows > 0) {
    artifacts.push(...(await picture('confusion-category', confusionMatrixSvg({ title: `Category confusion: ${label}`, classes: category.classes, matrix: category.confusion }), 'Category confusion matrix', notes)));
  }
  artifacts.push(...(await picture('calibration-sentiment', reliabilitySvg({ title: `Sentiment calibration: ${label}`, calibration }), 'Sentiment reliability diagram', notes)));
  return { metrics: { ...metrics, heads }, artifacts, notes };
}

export async function recordTrainingRun(store: RunStore, input: TrainRunInput): Promise<RunRecord> {
  const measured = await quality(input.heldOut, input.model, 'held out');
  const run: RunInput = {
    kind: 'train',
    model: input.model,
    params: input.params,
    data: { fingerprint: input.data.fingerprint, rows: input.data.rows, files: input.data.files.map(fileLabel) },
    metrics: { ...measured.metrics, ...input.metrics },
    notes: measured.notes,
  };
  return store.create(run, measured.artifacts);
}

export async function recordEvaluationRun(store: RunStore, input: EvalRunInput): Promise<RunRecord> {
  const kind = input.kind ?? 'eval';
  const measured = await quality(input.evaluated, input.model, kind === 'eval' ? 'evaluated' : 'batch inference');
  const artifacts = [...measured.artifacts];
  const metrics: Record<string, unknown> = { ...measured.metrics, ...input.metrics };
  if (input.baseline) {
    const drift = datasetDriftReport(input.baseline, input.evaluated.rows, input.evaluated.predictions, input.thresholds ?? loadDriftThresholds());
    metrics.drift = { status: drift.status, drifted: drift.drifted };
    artifacts.push({ name: 'drift-report.json', content: `${JSON.stringify(drift, null, 2)}\n`, description: "The dataset against the version's reference baseline (live drift metrics and thresholds)" });
  } else {
    measured.notes.push('no drift report: the version has no reference baseline');
  }
  const run: RunInput = {
    kind,
    model: input.model,
    params: input.params ?? {},
    data: { fingerprint: input.data.fingerprint, rows: input.evaluated.rows.length, files: input.data.files.map(fileLabel) },
    metrics,
    notes: measured.notes,
  };
  return store.create(run, artifacts);
}

/**
 * For the jobs' hooks: the job's own result (a registered version, an evaluation) stands even when its run
 * cannot be written (a full disk), so the failure is reported through `warn` and the run id is null.
 */
export async function recordSafely(record: () => Promise<RunRecord>, warn: (message: string) => void): Promise<RunRecord | null> {
  try {
    return await record();
  } catch (err) {
    warn(runNotRecorded(err));
    return null;
  }
}

function runNotRecorded(err: unknown): string {
  const error = toDriftlineError(err);
  return `run not recorded: ${error.code}: ${error.message}`;
}
