/**
 * Is the teacher worth it for the category too? A class-balanced LR over the teacher's vectors, fitted on the version's
 * training rows (the teacher sample of them), against the stream model's category head and the TF-IDF + LR category
 * baseline (trainer/category-baseline.ts's recipe) trained on all the same training rows, all scored on the same
 * held-out rows and the version's own category classes (a category that is no class counts as 'other').
 */
import type { FeaturizerConfig } from '../../core/features/featurizer.js';
import { type AccurateCategoryHead, categoryHeadPrediction, streamCategoryLogits } from '../../core/model/accurate-runtime.js';
import { CATEGORY_WIDE_FILE, type CategoryWideModel, softmaxInPlace } from '../../core/model/category-wide.js';
import { ENCODER_DIM } from '../../core/model/sentence-encoder.js';
import type { Prediction } from '../../core/model/types.js';
import { DEFAULT_TFIDF_PARAMS, TfidfModel } from '../baseline-tfidf.js';
import type { LabeledReview } from '../data.js';
import { categoryClass } from '../evaluate.js';
import { type ClassificationReport, classificationReport, round4 } from '../metrics.js';
import { categoryWideLogitRows, trainCategoryWide } from '../category-wide.js';
import { applyLogOffsets, macroF1Of, tuneLogOffsets } from './log-offsets.js';
import { fitSoftmax, softmaxProbabilities } from './softmax-regression.js';

export const CATEGORY_MODELS = {
  tfidf: 'TF-IDF + LR category baseline',
  stream: 'stream model category head',
  teacher: 'teacher (bge-small CLS) + LR category head',
  teacherOffsets: 'teacher (bge-small CLS) + LR category head + log offsets',
  wide: 'wide category part (hashed word 1-2 TF-IDF softmax)',
  blend: 'teacher head x wide part (geometric blend) + log offsets',
  streamBlend: 'teacher head x stream category (geometric blend) + log offsets',
} as const;

export interface CategoryComparison {
  classes: string[];
  fitRows: number;
  tfidfFitRows: number;
  heldOutRows: number;
  models: Record<string, ClassificationReport>;
  /** With the wide part: the teacher head's weight in the blend and the best epoch, both chosen on validation rows. */
  wide?: { teacherWeight: number; bestEpoch: number; validationMacroF1: number };
  /** With the stream model's category distributions: the teacher head's weight in that blend, chosen on validation rows. */
  stream?: { teacherWeight: number; validationMacroF1: number };
  /** Which blend the returned head carries: the one with the better validation macro-F1 (none: the head with its offsets). */
  partner: 'wide' | 'stream' | 'none';
}

/** The accurate tier's category head: fitted on the rows whose category is scored, served by categoryHeadPrediction. */
export function fitCategoryHead(classes: readonly string[], fit: { rows: readonly LabeledReview[]; vectors: Float32Array }): AccurateCategoryHead {
  const train = scored(fit.rows, classes);
  const labelsByRow = new Int32Array(fit.rows.length);
  train.at.forEach((i, j) => (labelsByRow[i] = train.labels[j]!));
  const model = fitSoftmax(fit.vectors, ENCODER_DIM, train.at, labelsByRow, classes.length);
  return { classes: [...classes], weights: [...model.weights], bias: [...model.bias] };
}

/** Rows (and their positions) whose category is scored against `classes`. */
function scored(rows: readonly LabeledReview[], classes: readonly string[]): { at: number[]; labels: Int32Array } {
  const at = rows.flatMap((r, i) => (categoryClass(r.category, classes) >= 0 ? [i] : []));
  return { at, labels: Int32Array.from(at, (i) => categoryClass(rows[i]!.category, classes)) };
}

/** Row-major [rows x classes] probabilities of the head (no offsets) on rows `at` of `vectors`: the LR it was fitted as. */
function categoryProbabilities(head: AccurateCategoryHead, vectors: Float32Array, at: readonly number[]): Float32Array {
  const model = { dim: ENCODER_DIM, classes: head.classes.length, weights: Float32Array.from(head.weights), bias: Float32Array.from(head.bias) };
  return softmaxProbabilities(model, vectors, at);
}

/**
 * The head's per-class log offsets, tuned for macro-F1 on the validation rows (trainer/teacher/log-offsets.ts). The
 * balanced head still gives the shared-topic pairs (All_Beauty / Luxury_Beauty, Appliances / Kitchen_and_Housewares)
 * to the larger class; the offsets move those boundaries without refitting.
 */
export function tuneCategoryOffsets(head: AccurateCategoryHead, val: { rows: readonly LabeledReview[]; vectors: Float32Array }): number[] {
  const held = scored(val.rows, head.classes);
  return tuneLogOffsets(held.labels, categoryProbabilities(head, val.vectors, held.at), head.classes);
}

/**
 * Fits the teacher category head on `fit` and scores it, the stream model and TF-IDF + LR on `test`. With `val`, the
 * head's log offsets are tuned on those rows; the returned head carries them and both heads are reported.
 */
export function compareCategoryHeads(
  classes: readonly string[],
  fit: { rows: readonly LabeledReview[]; vectors: Float32Array },
  tfidfFit: readonly LabeledReview[],
  test: { rows: readonly LabeledReview[]; vectors: Float32Array; stream: readonly Prediction[] },
  val?: { rows: readonly LabeledReview[]; vectors: Float32Array; stream?: readonly Prediction[] },
  wideOptions?: { featurizer: FeaturizerConfig; log?: (m: string) => void },
): { comparison: CategoryComparison; head: AccurateCategoryHead; wideModel?: CategoryWideModel } {
  const k = classes.length;
  const held = scored(test.rows, classes);
  const plain = fitCategoryHead(classes, fit);
  const predictWith = (h: AccurateCategoryHead) => Int32Array.from(held.at, (i) => classes.indexOf(categoryHeadPrediction(h, test.vectors, i).category));
  const teacher = predictWith(plain);
  const offsetHead = val ? { ...plain, logOffsets: tuneCategoryOffsets(plain, val) } : plain;
  const wide = val && wideOptions ? blendWithWide(plain, fit, val, test, wideOptions) : undefined;
  const stream = val?.stream ? blendWithStream(plain, { ...val, stream: val.stream }, test, wideOptions?.log) : undefined;
  const partner = stream && (!wide || stream.summary.validationMacroF1 > wide.summary.validationMacroF1) ? 'stream' : wide ? 'wide' : 'none';
  const head = partner === 'stream' ? stream!.head : partner === 'wide' ? wide!.head : offsetHead;

  const tfidfRows = tfidfFit.filter((r) => categoryClass(r.category, classes) >= 0);
  const tfidfLabels = Int32Array.from(tfidfRows, (r) => categoryClass(r.category, classes));
  const tfidf = TfidfModel.train(tfidfRows, { ...DEFAULT_TFIDF_PARAMS, classWeightPower: 1 }, 256, { labels: tfidfLabels, classCount: k });
  const tfidfPredicted = tfidf.predict(held.at.map((i) => test.rows[i]!));

  // The stream head never predicts outside its classes; a null category counts as a miss.
  const streamPredicted = Int32Array.from(held.at, (i, j) => {
    const c = classes.indexOf(test.stream[i]!.category ?? '');
    return c >= 0 ? c : (held.labels[j]! + 1) % k;
  });
  const comparison = {
    classes: [...classes],
    fitRows: scored(fit.rows, classes).at.length,
    tfidfFitRows: tfidfRows.length,
    heldOutRows: held.at.length,
    models: {
      [CATEGORY_MODELS.tfidf]: classificationReport(held.labels, tfidfPredicted, classes),
      [CATEGORY_MODELS.stream]: classificationReport(held.labels, streamPredicted, classes),
      [CATEGORY_MODELS.teacher]: classificationReport(held.labels, teacher, classes),
      ...(val ? { [CATEGORY_MODELS.teacherOffsets]: classificationReport(held.labels, predictWith(offsetHead), classes) } : {}),
      ...(wide ? { [CATEGORY_MODELS.wide]: classificationReport(held.labels, wide.wideAlone, classes), [CATEGORY_MODELS.blend]: classificationReport(held.labels, wide.served, classes) } : {}),
      ...(stream ? { [CATEGORY_MODELS.streamBlend]: classificationReport(held.labels, stream.served, classes) } : {}),
    },
    ...(wide ? { wide: wide.summary } : {}),
    ...(stream ? { stream: stream.summary } : {}),
    partner,
  } satisfies CategoryComparison;
  return { comparison, head, ...(wide && partner === 'wide' ? { wideModel: wide.model } : {}) };
}

/**
 * The teacher head blended with the stream model's whole category distribution (its head blended with its own wide
 * category part; the predictions must carry categoryProbabilities): the head's weight (0..1 by 0.05) and the log offsets
 * for the best validation macro-F1, ties keeping the larger head weight; undefined when the head alone does best.
 * The held-out predictions go through categoryHeadPrediction, the served code.
 */
function blendWithStream(
  plain: AccurateCategoryHead,
  val: { rows: readonly LabeledReview[]; vectors: Float32Array; stream: readonly Prediction[] },
  test: { rows: readonly LabeledReview[]; vectors: Float32Array; stream: readonly Prediction[] },
  log?: (m: string) => void,
): { head: AccurateCategoryHead; served: Int32Array; summary: NonNullable<CategoryComparison['stream']> } | undefined {
  if (![...val.stream, ...test.stream].every((p) => p.categoryProbabilities)) return undefined;
  const { classes } = plain;
  const k = classes.length;
  const heldVal = scored(val.rows, classes);
  const heldTest = scored(test.rows, classes);
  const streamVal = streamCategoryLogits(heldVal.at.map((i) => val.stream[i]!), k);
  const headVal = headLogProbabilities(plain, val.vectors, heldVal.at);
  const best = tuneTeacherWeight(headVal, streamVal, heldVal.labels, classes);
  log?.(`accurate tier: category head x stream category: teacher weight ${best.teacherWeight} (validation macro-F1 ${best.macroF1.toFixed(4)})`);
  if (best.teacherWeight === 1) return undefined;
  const head: AccurateCategoryHead = { ...plain, logOffsets: best.logOffsets, stream: { teacherWeight: best.teacherWeight } };
  const streamTest = streamCategoryLogits(heldTest.at.map((i) => test.stream[i]!), k);
  return {
    head,
    served: Int32Array.from(heldTest.at, (i, j) => classes.indexOf(categoryHeadPrediction(head, test.vectors, i, streamTest, j * k).category)),
    summary: { teacherWeight: best.teacherWeight, validationMacroF1: round4(best.macroF1) },
  };
}

/** Log-probabilities of the plain head on rows `at` of `vectors`: its logits up to a per-row constant. */
function headLogProbabilities(head: AccurateCategoryHead, vectors: Float32Array, at: readonly number[]): Float64Array {
  return Float64Array.from(categoryProbabilities(head, vectors, at), (p) => Math.log(Math.max(p, 1e-12)));
}

/**
 * The teacher head's weight (1 down to 0 by 0.05) in the geometric blend with a partner's logits, with the log offsets
 * tuned for it, that gives the best validation macro-F1; ties keep the larger head weight (1 = the partner adds nothing).
 */
function tuneTeacherWeight(head: Float64Array, partner: Float64Array, labels: Int32Array, classes: readonly string[]): { teacherWeight: number; logOffsets: number[]; macroF1: number } {
  let best = { teacherWeight: 1, logOffsets: [] as number[], macroF1: -1 };
  for (let step = 20; step >= 0; step--) {
    const teacherWeight = step / 20;
    const probs = geometricBlend(head, partner, teacherWeight, classes.length);
    const logOffsets = tuneLogOffsets(labels, probs, classes);
    const macroF1 = macroF1Of(labels, applyLogOffsets(probs, logOffsets), classes);
    if (macroF1 > best.macroF1 + 1e-9) best = { teacherWeight, logOffsets, macroF1 };
  }
  return best;
}

/** softmax(w x a + (1 - w) x b) per row: the geometric blend of two distributions given by their logits. */
function geometricBlend(a: Float64Array, b: Float64Array, w: number, k: number): Float32Array {
  const mixed = Float64Array.from(a, (x, i) => w * x + (1 - w) * b[i]!);
  for (let at = 0; at < mixed.length; at += k) softmaxInPlace(mixed, at, k);
  return Float32Array.from(mixed);
}

/**
 * Fits the wide category part on the fit rows, then picks the teacher head's weight (0..1 by 0.05) and the blend's log
 * offsets for the best validation macro-F1 (ties keep the larger head weight); weight 1 means the wide part is not
 * worth serving. The held-out predictions go through categoryHeadPrediction, the served code.
 */
function blendWithWide(
  plain: AccurateCategoryHead,
  fit: { rows: readonly LabeledReview[] },
  val: { rows: readonly LabeledReview[]; vectors: Float32Array },
  test: { rows: readonly LabeledReview[]; vectors: Float32Array },
  options: { featurizer: FeaturizerConfig; log?: (m: string) => void },
): { head: AccurateCategoryHead; model: CategoryWideModel; wideAlone: Int32Array; served: Int32Array; summary: NonNullable<CategoryComparison['wide']> } | undefined {
  const { classes } = plain;
  const k = classes.length;
  const labelsOf = (rows: readonly LabeledReview[]) => Int32Array.from(rows, (r) => categoryClass(r.category, classes));
  const trained = trainCategoryWide(options.featurizer, classes, { rows: fit.rows, labels: labelsOf(fit.rows) }, { rows: val.rows, labels: labelsOf(val.rows) }, undefined, options.log);
  const heldVal = scored(val.rows, classes);
  const heldTest = scored(test.rows, classes);
  const wideVal = categoryWideLogitRows(trained.model, heldVal.at.map((i) => val.rows[i]!), options.featurizer);
  const headVal = headLogProbabilities(plain, val.vectors, heldVal.at);
  const best = tuneTeacherWeight(headVal, wideVal, heldVal.labels, classes);
  options.log?.(`accurate tier: category head x wide part: teacher weight ${best.teacherWeight} (validation macro-F1 ${best.macroF1.toFixed(4)}, wide part's best epoch ${trained.bestEpoch})`);
  if (best.teacherWeight === 1) return undefined;
  const head: AccurateCategoryHead = { ...plain, logOffsets: best.logOffsets, wide: { file: CATEGORY_WIDE_FILE, teacherWeight: best.teacherWeight } };
  const wideTest = categoryWideLogitRows(trained.model, heldTest.at.map((i) => test.rows[i]!), options.featurizer);
  const argmax = (row: Float64Array, at: number) => {
    let c = 0;
    for (let j = 1; j < k; j++) if (row[at + j]! > row[at + c]!) c = j;
    return c;
  };
  return {
    head,
    model: trained.model,
    wideAlone: Int32Array.from(heldTest.at, (_, j) => argmax(wideTest, j * k)),
    served: Int32Array.from(heldTest.at, (i, j) => classes.indexOf(categoryHeadPrediction(head, test.vectors, i, wideTest, j * k).category)),
    summary: { teacherWeight: best.teacherWeight, bestEpoch: trained.bestEpoch, validationMacroF1: round4(best.macroF1) },
  };
}

/** Macro-F1 of `predict(i)` on the rows whose category is scored (a null or unknown prediction is a miss). */
export function categoryMacroF1(classes: readonly string[], rows: readonly LabeledReview[], predict: (row: number) => string | null): number {
  const held = scored(rows, classes);
  const predicted = Int32Array.from(held.at, (i, j) => {
    const c = classes.indexOf(predict(i) ?? '');
    return c >= 0 ? c : (held.labels[j]! + 1) % classes.length;
  });
  return classificationReport(held.labels, predicted, classes).macroF1;
}

/** A markdown table: one row per class, F1 of each model, macro-F1 last. */
export function categoryTable(comparison: CategoryComparison): string {
  const names = Object.keys(comparison.models);
  const lines = [`| class (held-out rows) | ${names.join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`];
  for (const c of comparison.classes) {
    const support = comparison.models[names[0]!]!.perClass[c]!.support;
    lines.push(`| ${c} (${support}) | ${names.map((n) => comparison.models[n]!.perClass[c]!.f1.toFixed(3)).join(' | ')} |`);
  }
  lines.push(`| **macro-F1** (${comparison.heldOutRows}) | ${names.map((n) => `**${comparison.models[n]!.macroF1.toFixed(3)}**`).join(' | ')} |`);
  return lines.join('\n');
}
