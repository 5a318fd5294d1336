/**
 * Adds the accurate tier to a trained model version: a class-balanced LR head over the teacher's sentence vectors
 * (fitted on the version's training rows), blended with the version's own sentiment probabilities, with per-class
 * log offsets on the blend; the weight and the offsets maximise macro-F1 on the version's validation rows. Then it is
 * measured on the version's held-out rows beside the stream model and TF-IDF + LR (the recipe) trained on the
 * same training rows in the same run. The splits are the trainer's own (the version's salts, seed and fractions, from
 * its registry-record.json), so no validation or held-out review is ever fitted on, and no test row tunes anything.
 *
 * The teacher runs ~100 reviews/s on a quiet machine, so only a share of the rows is embedded: `teacherSample` of the
 * training rows (2,000 labelled rows already give most of the head's quality) and `evalSample` of the validation and
 * held-out rows (more rows there make the tuning and the measurement less noisy). Shares are by review-id hash.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MANIFEST_FILE } from '../../core/model/artifacts.js';
import { type FeaturizerConfig, parseFeaturizerConfig } from '../../core/features/featurizer.js';
import { ACCURATE_HEAD_FILE, ACCURATE_HEAD_FORMAT, type AccurateHead, type AccurateHeadLabels, AccurateRuntime, blendPrediction, categoryHeadPrediction, headProbabilities, type LoadedCategoryWide, streamCategoryLogits } from '../../core/model/accurate-runtime.js';
import { CATEGORY_WIDE_FILE, serializeCategoryWide } from '../../core/model/category-wide.js';
import { modelSettings } from '../../core/model/config.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { ENCODER_DIM, SentenceEncoder, encoderFiles } from '../../core/model/sentence-encoder.js';
import type { Prediction } from '../../core/model/types.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { DEFAULT_TFIDF_PARAMS, REFERENCE_TFIDF_PARAMS, TfidfModel } from '../baseline-tfidf.js';
import { type LabeledReview, loadLabeledJsonl, sentimentLabel, splitByReviewId } from '../data.js';
import { scoreAll } from '../evaluate.js';
import { type ClassificationReport, classificationReport, round1, round4 } from '../metrics.js';
import { type VersionSplit, versionSplit } from '../version-record.js';
import { teacherEmbeddings } from './embeddings.js';

export { type VersionSplit, versionSplit };
import type { SplitResult } from './evaluate.js';
import { applyLogOffsets, macroF1Of, tuneLogOffsets } from './log-offsets.js';
import { DEFAULT_SOFTMAX, argmaxRows, fitSoftmax } from './softmax-regression.js';
import { CATEGORY_MODELS, type CategoryComparison, categoryMacroF1, compareCategoryHeads } from './category-head.js';
import { categoryWideLogitRows } from '../category-wide.js';
import { sampleRows } from './splits.js';

export interface AttachOptions {
  /** Used only when the version has no registry-record.json with its training params. */
  holdout: number;
  validationFraction: number;
  seed: number;
  /** Share of the training rows embedded to fit the head. */
  teacherSample: number;
  /** Share of the validation and held-out rows embedded (tuning and measurement). */
  evalSample: number;
  log: (m: string) => void;
}

export interface AccurateReport {
  split: VersionSplit;
  teacherSample: number;
  evalSample: number;
  rows: { fit: number; tfidfFit: number; validation: number; heldOut: number };
  blendWeight: number;
  logOffsets: number[];
  /**
   * Which sentiment head is served: the three-sentiment head or the star-rating head (folded into sentiments), the one
   * whose blend (weight and offsets tuned for each) has the better validation macro-F1.
   */
  headChoice: { served: AccurateHeadLabels; validationMacroF1: Record<AccurateHeadLabels, number> };
  /** Macro-F1 on the validation rows the weight and offsets were tuned on (optimistic by construction). */
  validationMacroF1: Record<string, number>;
  /** Held-out rows: every model of this run, per class. */
  heldOut: SplitResult;
  /**
   * The category on the held-out rows: the teacher category head against the stream model's and TF-IDF + LR's;
   * the head goes into head.json only when its macro-F1 on the validation rows beats the stream model's.
   */
  category: CategoryComparison & { served: 'teacher head' | 'stream model'; validationMacroF1: { stream: number; teacher: number } };
  /** The served path (encoder run live through AccurateRuntime) against the cached vectors on a few held-out rows. */
  runtimeCheck: { rows: number; sameSentiment: number; sameCategory: number; maxProbabilityDifference: number };
  stream: ClassificationReport;
  accurate: ClassificationReport;
}

export const MODEL_NAMES = {
  tfidf: 'TF-IDF + LR (word 1-2 + char 2-5, balanced)',
  tfidfWords: "TF-IDF + LR (word 1-2, sqrt-balanced: the training report's)",
  stream: 'stream model (this version)',
  teacher: 'teacher (bge-small CLS) + LR head',
  teacherStars: 'teacher + LR head over star ratings (folded)',
  accurate: 'accurate tier: head blended with the stream model',
} as const;
const TUNED = ' + log offsets';
const VALIDATION_SALT_XOR = 0x7a11;
const RUNTIME_CHECK_ROWS = 64;

/**
 * Teacher vectors of `rows`, from two cache entries: the `teacherSample` share of the whole file (the same entry
 * `embed-cli --sample` and `evaluate-cli --sample` fill) and the needed rows outside it.
 */
async function vectorsOf(rows: readonly LabeledReview[], all: readonly LabeledReview[], teacherSample: number, log: (m: string) => void): Promise<Float32Array> {
  const sampled = sampleRows(all, teacherSample);
  const inSample = new Set(sampled.map((r) => r.review_id));
  const extra = rows.filter((r) => !inSample.has(r.review_id));
  const sources: Array<[readonly LabeledReview[], Float32Array]> = [[sampled, await teacherEmbeddings(sampled, log)]];
  if (extra.length > 0) sources.push([extra, await teacherEmbeddings(extra, log)]);
  const where = new Map<string, Float32Array>();
  for (const [source, vectors] of sources) source.forEach((r, i) => where.set(r.review_id, vectors.subarray(i * ENCODER_DIM, (i + 1) * ENCODER_DIM)));
  const out = new Float32Array(rows.length * ENCODER_DIM);
  rows.forEach((r, i) => out.set(where.get(r.review_id)!, i * ENCODER_DIM));
  return out;
}

function probabilitiesOf(predictions: readonly Prediction[]): Float32Array {
  return Float32Array.from(predictions.flatMap((p) => SENTIMENTS.map((s) => p.probabilities[s])));
}

/** Row-major [rows x 3] head probabilities of every row of `vectors`. */
function headRows(head: AccurateHead, vectors: Float32Array): number[][] {
  return Array.from({ length: vectors.length / ENCODER_DIM }, (_, r) => headProbabilities(head, vectors, r));
}

function served(head: AccurateHead, stream: readonly Prediction[], heads: readonly number[][], rows: readonly LabeledReview[]): Prediction[] {
  const disagreement = modelSettings.load().disagreementProbability;
  return stream.map((p, r) => blendPrediction(head, p, heads[r]!, rows[r]!.rating, disagreement));
}

/**
 * The blend weight (0..1 by 0.05) and log offsets with the best validation macro-F1: for each weight the offsets
 * are tuned (trainer/teacher/log-offsets.ts), and the best pair wins (ties keep the smaller weight).
 */
export function tuneWeightAndOffsets(head: AccurateHead, actual: Int32Array, stream: readonly Prediction[], heads: readonly number[][], rows: readonly LabeledReview[]): { blendWeight: number; logOffsets: number[]; macroF1: number } {
  let best = { blendWeight: 0, logOffsets: [0, 0, 0], macroF1: -1 };
  for (let k = 0; k <= 20; k++) {
    const blendWeight = k / 20;
    const probs = probabilitiesOf(served({ ...head, blendWeight, logOffsets: [0, 0, 0] }, stream, heads, rows));
    const logOffsets = tuneLogOffsets(actual, probs, SENTIMENTS);
    const macroF1 = macroF1Of(actual, applyLogOffsets(probs, logOffsets), SENTIMENTS);
    if (macroF1 > best.macroF1 + 1e-9) best = { blendWeight, logOffsets, macroF1 };
  }
  return best;
}

/** The version's fit / validation / held-out rows, the embedded shares of them and their teacher vectors. */
export interface VersionRows {
  split: VersionSplit;
  fit: LabeledReview[];
  val: LabeledReview[];
  held: LabeledReview[];
  fitRows: LabeledReview[];
  valRows: LabeledReview[];
  testRows: LabeledReview[];
  vectors: { fit: Float32Array; val: Float32Array; test: Float32Array };
}

export async function versionRows(versionDir: string, dataFiles: string[], options: AttachOptions): Promise<VersionRows> {
  const split = await versionSplit(versionDir, options);
  const data = await loadLabeledJsonl(dataFiles);
  const { rest: train, held } = splitByReviewId(data.rows, split.holdout, split.holdoutSalt);
  const { rest: fit, held: val } = splitByReviewId(train, split.validationFraction, split.seed ^ VALIDATION_SALT_XOR);
  const fitRows = sampleRows(fit, options.teacherSample);
  const valRows = sampleRows(val, options.evalSample);
  const testRows = sampleRows(held, options.evalSample);
  options.log(`teacher vectors of ${fitRows.length} fit (${options.teacherSample} of ${fit.length}), ${valRows.length} validation and ${testRows.length} held-out rows (${options.evalSample} of ${val.length} / ${held.length})`);
  const everything = await vectorsOf([...fitRows, ...valRows, ...testRows], data.rows, options.teacherSample, options.log);
  const slice = (from: number, count: number) => everything.subarray(from * ENCODER_DIM, (from + count) * ENCODER_DIM);
  const vectors = { fit: slice(0, fitRows.length), val: slice(fitRows.length, valRows.length), test: slice(fitRows.length + valRows.length, testRows.length) };
  return { split, fit, val, held, fitRows, valRows, testRows, vectors };
}

export async function attachAccurateTier(versionDir: string, dataFiles: string[], options: AttachOptions): Promise<AccurateReport> {
  const { log } = options;
  const { split, fit, fitRows, valRows, testRows, vectors } = await versionRows(versionDir, dataFiles, options);

  let t0 = performance.now();
  const candidates = { sentiment: fitHead('sentiment', fitRows, vectors.fit), stars: fitHead('stars', fitRows, vectors.fit) };
  const headRowsOf = (h: AccurateHead) => ({ val: headRows(h, vectors.val), test: headRows(h, vectors.test) });
  const candidateRows = { sentiment: headRowsOf(candidates.sentiment), stars: headRowsOf(candidates.stars) };
  const headSeconds = (performance.now() - t0) / 1000;

  const stream = await loadModelRuntime(versionDir, { name: 'candidate', version: 0 });
  let accurate: AccurateRuntime | null = null;
  try {
    t0 = performance.now();
    // With the whole category distributions: the category head may blend with them (category-head.ts blendWithStream).
    const streamVal = await scoreAll(stream, valRows, { categoryProbabilities: true });
    const streamTest = await scoreAll(stream, testRows, { categoryProbabilities: true });
    const streamSeconds = (performance.now() - t0) / 1000;
    const valActual = Int32Array.from(valRows, (r) => sentimentLabel(r.rating));
    const testActual = Int32Array.from(testRows, (r) => sentimentLabel(r.rating));

    const tunedBy = {
      sentiment: tuneWeightAndOffsets(candidates.sentiment, valActual, streamVal, candidateRows.sentiment.val, valRows),
      stars: tuneWeightAndOffsets(candidates.stars, valActual, streamVal, candidateRows.stars.val, valRows),
    };
    // The star head must do strictly better on validation to replace the plain one.
    const servedLabels: AccurateHeadLabels = tunedBy.stars.macroF1 > tunedBy.sentiment.macroF1 + 1e-9 ? 'stars' : 'sentiment';
    const tuned = tunedBy[servedLabels];
    const head = candidates[servedLabels];
    const heads = candidateRows[servedLabels];
    head.blendWeight = tuned.blendWeight;
    head.logOffsets = tuned.logOffsets;
    const headChoice = { served: servedLabels, validationMacroF1: { sentiment: round4(tunedBy.sentiment.macroF1), stars: round4(tunedBy.stars.macroF1) } };
    log(`accurate tier: ${servedLabels} head (validation macro-F1 of the tuned blends: sentiment head ${headChoice.validationMacroF1.sentiment}, star head ${headChoice.validationMacroF1.stars}), blend weight ${head.blendWeight}, log offsets [${head.logOffsets.join(', ')}]`);

    t0 = performance.now();
    const tfidf = TfidfModel.train(fit, REFERENCE_TFIDF_PARAMS);
    const tfidfVal = tfidf.predictProbabilities(valRows);
    const tfidfTest = tfidf.predictProbabilities(testRows);
    const tfidfSeconds = (performance.now() - t0) / 1000;
    log(`accurate tier: TF-IDF + LR trained on ${fit.length} rows in ${tfidfSeconds.toFixed(0)} s`);
    // The training report's baseline recipe too: on this data it is the stronger of the two.
    t0 = performance.now();
    const tfidfWords = TfidfModel.train(fit, DEFAULT_TFIDF_PARAMS);
    const tfidfWordsProbs = { val: tfidfWords.predictProbabilities(valRows), test: tfidfWords.predictProbabilities(testRows), seconds: (performance.now() - t0) / 1000 };

    // Every model's validation and held-out probabilities; "+ log offsets" variants are tuned on validation only.
    const unblended = { ...head, logOffsets: [0, 0, 0] };
    const probs: Record<string, { val: Float32Array; test: Float32Array; seconds: number; blendWeight?: number }> = {
      [MODEL_NAMES.tfidf]: { val: tfidfVal, test: tfidfTest, seconds: tfidfSeconds },
      [MODEL_NAMES.tfidfWords]: tfidfWordsProbs,
      [MODEL_NAMES.stream]: { val: probabilitiesOf(streamVal), test: probabilitiesOf(streamTest), seconds: streamSeconds },
      [MODEL_NAMES.teacher]: { val: Float32Array.from(candidateRows.sentiment.val.flat()), test: Float32Array.from(candidateRows.sentiment.test.flat()), seconds: headSeconds },
      [MODEL_NAMES.teacherStars]: { val: Float32Array.from(candidateRows.stars.val.flat()), test: Float32Array.from(candidateRows.stars.test.flat()), seconds: headSeconds },
      [MODEL_NAMES.accurate]: {
        val: probabilitiesOf(served(unblended, streamVal, heads.val, valRows)),
        test: probabilitiesOf(served(unblended, streamTest, heads.test, testRows)),
        seconds: headSeconds + streamSeconds,
        blendWeight: head.blendWeight,
      },
    };
    const heldOut: SplitResult = { split: `${versionDir} held-out`, trainRows: fit.length, testRows: testRows.length, models: {} };
    const validationMacroF1: Record<string, number> = {};
    for (const [name, p] of Object.entries(probs)) {
      heldOut.models[name] = { ...classificationReport(testActual, argmaxRows(p.test, 3), SENTIMENTS), blendWeight: p.blendWeight, seconds: round1(p.seconds) };
      validationMacroF1[name] = macroF1Of(valActual, p.val, SENTIMENTS);
      if (name === MODEL_NAMES.accurate) continue; // its offsets are tuned jointly with the weight, below
      const offsets = tuneLogOffsets(valActual, p.val, SENTIMENTS);
      heldOut.models[name + TUNED] = { ...classificationReport(testActual, argmaxRows(applyLogOffsets(p.test, offsets), 3), SENTIMENTS), logOffsets: offsets, seconds: round1(p.seconds) };
      validationMacroF1[name + TUNED] = macroF1Of(valActual, applyLogOffsets(p.val, offsets), SENTIMENTS);
    }
    // The served model: blendPrediction with the head file's weight and offsets (what AccurateRuntime returns).
    const servedTest = served(head, streamTest, heads.test, testRows);
    heldOut.models[MODEL_NAMES.accurate + TUNED] = {
      ...classificationReport(testActual, Int32Array.from(servedTest, (p) => SENTIMENTS.indexOf(p.sentiment)), SENTIMENTS),
      blendWeight: head.blendWeight,
      logOffsets: head.logOffsets,
      seconds: round1(headSeconds + streamSeconds),
    };
    validationMacroF1[MODEL_NAMES.accurate + TUNED] = tuned.macroF1;

    const featurizer = parseFeaturizerConfig(JSON.parse(await readFile(join(versionDir, 'featurizer.json'), 'utf8')));
    const category = await categoryHead(versionDir, { rows: fitRows, vectors: vectors.fit }, fit, { rows: testRows, vectors: vectors.test, stream: streamTest }, { rows: valRows, vectors: vectors.val, stream: streamVal }, featurizer, log);
    if (category.served === 'teacher head') head.category = category.head;
    const models = category.comparison.models;
    log(
      `accurate tier: category macro-F1 stream ${models[CATEGORY_MODELS.stream]!.macroF1}, TF-IDF + LR ${models[CATEGORY_MODELS.tfidf]!.macroF1}, teacher head ${models[CATEGORY_MODELS.teacher]!.macroF1} (with log offsets ${models[CATEGORY_MODELS.teacherOffsets]?.macroF1}; blended with the wide part ${models[CATEGORY_MODELS.blend]?.macroF1 ?? '-'}, with the stream category ${models[CATEGORY_MODELS.streamBlend]?.macroF1 ?? '-'}; blend partner: ${category.comparison.partner}): serving the ${category.served}'s`,
    );
    const categoryWide: LoadedCategoryWide | undefined = head.category?.wide && category.wideModel ? { model: category.wideModel, featurizer } : undefined;

    const files = encoderFiles();
    accurate = new AccurateRuntime(stream, await SentenceEncoder.open(files.model, files.tokenizer), { ...head }, categoryWide);
    const categoryHeadOf = head.category;
    const k = categoryHeadOf?.classes.length ?? 0;
    const partnerTest = categoryHeadOf?.stream ? streamCategoryLogits(streamTest, k) : categoryWide ? categoryWideLogitRows(categoryWide.model, testRows, featurizer) : undefined;
    const expected = categoryHeadOf ? servedTest.map((p, i) => ({ ...p, ...categoryHeadPrediction(categoryHeadOf, vectors.test, i, partnerTest, i * k) })) : servedTest;
    const runtimeCheck = await checkServedPath(accurate, expected, testRows);
    log(`accurate tier: live encoder vs cached vectors on ${runtimeCheck.rows} held-out rows: ${runtimeCheck.sameSentiment} same sentiment, ${runtimeCheck.sameCategory} same category, max probability difference ${runtimeCheck.maxProbabilityDifference}`);

    const path = join(versionDir, ACCURATE_HEAD_FILE);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(head)}\n`);
    // The wide part goes beside the head only when the head names it; a stale one from an earlier attach goes away.
    const widePath = join(dirname(path), CATEGORY_WIDE_FILE);
    if (categoryWide) await writeFile(widePath, serializeCategoryWide(categoryWide.model));
    else await rm(widePath, { force: true });
    const streamReport = heldOut.models[MODEL_NAMES.stream]!;
    const accurateReport = heldOut.models[MODEL_NAMES.accurate + TUNED]!;
    log(`accurate tier: held-out macro-F1 stream ${streamReport.macroF1} -> accurate ${accurateReport.macroF1} (TF-IDF + LR ${heldOut.models[MODEL_NAMES.tfidf]!.macroF1} / ${heldOut.models[MODEL_NAMES.tfidfWords]!.macroF1})`);
    return {
      split,
      teacherSample: options.teacherSample,
      evalSample: options.evalSample,
      rows: { fit: fitRows.length, tfidfFit: fit.length, validation: valRows.length, heldOut: testRows.length },
      blendWeight: head.blendWeight,
      logOffsets: head.logOffsets,
      headChoice,
      validationMacroF1,
      heldOut,
      category: { ...category.comparison, served: category.served, validationMacroF1: category.validationMacroF1 },
      runtimeCheck,
      stream: streamReport,
      accurate: accurateReport,
    };
  } finally {
    // The accurate runtime owns the stream model once it exists.
    if (accurate) accurate.dispose();
    else stream.dispose();
  }
}

/** The category comparison on the version's classes, and whether the teacher head is worth serving (decided on validation rows). */
async function categoryHead(
  versionDir: string,
  fit: Parameters<typeof compareCategoryHeads>[1],
  tfidfFit: readonly LabeledReview[],
  test: Parameters<typeof compareCategoryHeads>[3],
  val: Parameters<typeof compareCategoryHeads>[3],
  featurizer: FeaturizerConfig,
  log: (m: string) => void,
): Promise<ReturnType<typeof compareCategoryHeads> & { served: 'teacher head' | 'stream model'; validationMacroF1: { stream: number; teacher: number } }> {
  const { categories } = JSON.parse(await readFile(join(versionDir, MANIFEST_FILE), 'utf8')) as { categories: string[] };
  const result = compareCategoryHeads(categories, fit, tfidfFit, test, val, { featurizer, log });
  const k = categories.length;
  const partnerVal = result.head.stream ? streamCategoryLogits(val.stream, k) : result.wideModel ? categoryWideLogitRows(result.wideModel, val.rows, featurizer) : undefined;
  const validationMacroF1 = {
    stream: categoryMacroF1(categories, val.rows, (i) => val.stream[i]!.category),
    teacher: categoryMacroF1(categories, val.rows, (i) => categoryHeadPrediction(result.head, val.vectors, i, partnerVal, i * k).category),
  };
  return { ...result, served: validationMacroF1.teacher > validationMacroF1.stream ? 'teacher head' : 'stream model', validationMacroF1 };
}

/** Scores a few held-out rows through the real runtime (encoder run live) and compares with the cached-vector path. */
async function checkServedPath(accurate: AccurateRuntime, expected: readonly Prediction[], rows: readonly LabeledReview[]): Promise<AccurateReport['runtimeCheck']> {
  const n = Math.min(RUNTIME_CHECK_ROWS, rows.length);
  const live = await accurate.score(rows.slice(0, n));
  let sameSentiment = 0;
  let sameCategory = 0;
  let maxProbabilityDifference = 0;
  live.forEach((p, i) => {
    if (p.sentiment === expected[i]!.sentiment) sameSentiment++;
    if (p.category === expected[i]!.category) sameCategory++;
    for (const s of SENTIMENTS) maxProbabilityDifference = Math.max(maxProbabilityDifference, Math.abs(p.probabilities[s] - expected[i]!.probabilities[s]));
  });
  return { rows: n, sameSentiment, sameCategory, maxProbabilityDifference: Math.round(maxProbabilityDifference * 1e6) / 1e6 };
}

/** The star head's fit: unbalanced (see fitHead). */
export const STAR_HEAD_SOFTMAX = { ...DEFAULT_SOFTMAX, balanced: false };

/**
 * A sentiment head over the teacher vectors of `rows`, before its blend is tuned. The three-sentiment head is class
 * balanced (as the baselines). The star head is not: its folded probabilities go through the same tuned log
 * offsets, which correct the class prior, and unbalanced it scored higher on validation (measured 2026-12-07:
 * blend 0.7591 against 0.7515 balanced; docs/models.md).
 */
export function fitHead(labels: AccurateHeadLabels, rows: readonly LabeledReview[], vectors: Float32Array): AccurateHead {
  const stars = labels === 'stars';
  const y = Int32Array.from(rows, (r) => (stars ? r.rating - 1 : sentimentLabel(r.rating)));
  const model = fitSoftmax(vectors, ENCODER_DIM, rows.map((_, i) => i), y, stars ? 5 : 3, stars ? STAR_HEAD_SOFTMAX : DEFAULT_SOFTMAX);
  return {
    format: ACCURATE_HEAD_FORMAT,
    encoder: { name: 'bge-small-en-v1.5-q', dim: ENCODER_DIM },
    ...(stars ? { labels } : {}),
    weights: [...model.weights],
    bias: [...model.bias],
    blendWeight: 1,
    logOffsets: [0, 0, 0],
  };
}
