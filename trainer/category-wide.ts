/**
 * Training of the wide category part of both tiers (core/model/category-wide.ts): idf from the training rows (or the
 * stream model's wide part's), then a
 * class-balanced K-class softmax regression over their sparse TF-IDF rows with per-coordinate AdaGrad and iterate
 * averaging, as the stream model's wide sentiment part (trainer/wide.ts, whose 3-class loop is unrolled and whose weights
 * the golden predictions pin, so it is not generalised). The epoch with the best validation macro-F1 is kept.
 */
import { featurizeBatch, type FeaturizerConfig } from '../core/features/featurizer.js';
import { type CategoryWideModel, categoryWideLogits, softmaxInPlace } from '../core/model/category-wide.js';
import { createWideScratch } from '../core/model/wide-scoring.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import type { LabeledReview } from './data.js';
import { fitIdf, sparseRows } from './wide.js';
import { macroF1Of } from './teacher/log-offsets.js';

export interface CategoryWideParams {
  epochs: number;
  learningRate: number;
  l2: number;
  minDf: number;
  seed: number;
  /** A fixed idf (the stream model's wide sentiment part's, so serving reuses its TF-IDF row); else fitted on the fit rows. */
  idf?: Float32Array;
  /** Weights to start from (a warm start's parent part, same buckets and classes); else zeros. */
  start?: CategoryWideModel;
}

/**
 * The TF-IDF + LR baseline's settings (trainer/baseline-tfidf.ts DEFAULT_TFIDF_PARAMS: 6 epochs, rate 0.5, L2 1e-6, min df 2),
 * not tuned further: the point is the blend with the teacher head, whose weight is tuned on validation rows.
 */
export const DEFAULT_CATEGORY_WIDE: CategoryWideParams = { epochs: 6, learningRate: 0.5, l2: 1e-6, minDf: 2, seed: 42 };

/** AdaGrad's starting accumulator (see trainer/wide.ts INITIAL_ACCUMULATOR). */
const INITIAL_ACCUMULATOR = 0.1;

/** Row-major [rows x classes] probabilities of the model on every row of `reviews`: the softmax of its logits. */
export function categoryWideProbabilities(model: CategoryWideModel, reviews: readonly LabeledReview[], featurizer: FeaturizerConfig): Float32Array {
  const k = model.bias.length;
  const logits = categoryWideLogitRows(model, reviews, featurizer);
  for (let at = 0; at < logits.length; at += k) softmaxInPlace(logits, at, k);
  return Float32Array.from(logits);
}

/** Row-major [rows x classes] logits of the model on every row of `reviews` (the serving code's). */
export function categoryWideLogitRows(model: CategoryWideModel, reviews: readonly LabeledReview[], featurizer: FeaturizerConfig): Float64Array {
  const k = model.bias.length;
  const batch = featurizeBatch(reviews, featurizer);
  const scratch = createWideScratch(featurizer.buckets);
  const out = new Float64Array(batch.size * k);
  for (let r = 0; r < batch.size; r++) categoryWideLogits(batch, r, model, scratch, out, r * k);
  return out;
}

/**
 * Fits the model on the rows `fit` with labels `labels` (class index per row, -1 = not scored) and keeps the
 * epoch-averaged weights with the best macro-F1 on `val` (rows and labels the same way).
 */
export function trainCategoryWide(
  featurizer: FeaturizerConfig,
  classes: readonly string[],
  fit: { rows: readonly LabeledReview[]; labels: Int32Array },
  val: { rows: readonly LabeledReview[]; labels: Int32Array },
  params: CategoryWideParams = DEFAULT_CATEGORY_WIDE,
  log: (m: string) => void = () => {},
): { model: CategoryWideModel; bestEpoch: number } {
  const k = classes.length;
  const buckets = featurizer.buckets;
  const batch = featurizeBatch(fit.rows, featurizer);
  const idf = params.idf ?? fitIdf(batch, buckets, params.minDf);
  const rows = sparseRows(batch, idf);
  const trainAt = Array.from(fit.labels.keys()).filter((r) => fit.labels[r]! >= 0);
  const valAt = Array.from(val.labels.keys()).filter((r) => val.labels[r]! >= 0);
  const valRows = valAt.map((r) => val.rows[r]!);
  const valLabels = Int32Array.from(valAt, (r) => val.labels[r]!);
  // Balanced class weights: n / (k x n_c), as class_weight='balanced'.
  const counts = new Float64Array(k);
  for (const r of trainAt) counts[fit.labels[r]!]!++;
  const classWeights = Array.from(counts, (n) => (n > 0 ? trainAt.length / (k * n) : 0));

  const start = params.start && params.start.kernel.length === buckets * k && params.start.bias.length === k ? params.start : undefined;
  const kernel = start ? start.kernel.slice() : new Float32Array(buckets * k);
  const bias = start ? start.bias.slice() : new Float32Array(k);
  const accumulators = new Float32Array(buckets * k).fill(INITIAL_ACCUMULATOR);
  const biasAccumulators = new Float64Array(k).fill(INITIAL_ACCUMULATOR);
  const kernelSum = new Float64Array(kernel.length);
  const biasSum = new Float64Array(k);
  const z = new Float64Array(k);
  const random = seededRandom(params.seed);
  const lr = params.learningRate;
  let best: { f1: number; epoch: number; model: CategoryWideModel } | undefined;
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    for (const j of shuffledIndices(trainAt.length, random)) {
      const r = trainAt[j]!;
      const start = rows.offsets[r]!;
      const end = rows.offsets[r + 1]!;
      for (let c = 0; c < k; c++) z[c] = bias[c]!;
      for (let i = start; i < end; i++) {
        const base = rows.ids[i]! * k;
        const v = rows.values[i]!;
        for (let c = 0; c < k; c++) z[c]! += kernel[base + c]! * v;
      }
      softmaxInPlace(z, 0, k);
      const y = fit.labels[r]!;
      const weight = classWeights[y]!;
      for (let c = 0; c < k; c++) {
        const g = (z[c]! - (c === y ? 1 : 0)) * weight;
        biasAccumulators[c]! += g * g;
        bias[c]! -= (lr * g) / Math.sqrt(biasAccumulators[c]!);
        for (let i = start; i < end; i++) {
          const w = rows.ids[i]! * k + c;
          const grad = g * rows.values[i]! + params.l2 * kernel[w]!;
          const acc = (accumulators[w]! += grad * grad);
          kernel[w]! -= (lr * grad) / Math.sqrt(acc);
        }
      }
    }
    // Iterate averaging: the model after epoch e is the mean of epochs 1..e (see trainer/wide.ts).
    for (let i = 0; i < kernel.length; i++) kernelSum[i]! += kernel[i]!;
    for (let c = 0; c < k; c++) biasSum[c]! += bias[c]!;
    const averaged: CategoryWideModel = { idf, kernel: Float32Array.from(kernelSum, (x) => x / epoch), bias: Float32Array.from(biasSum, (x) => x / epoch) };
    const f1 = macroF1Of(valLabels, categoryWideProbabilities(averaged, valRows, featurizer), classes);
    log(`wide category part: epoch ${epoch}/${params.epochs}: validation macro-F1 ${f1.toFixed(4)}`);
    if (!best || f1 > best.f1) best = { f1, epoch, model: averaged };
  }
  return { model: best!.model, bestEpoch: best!.epoch };
}
