/**
 * Training of the wide part (see core/model/text-model.ts): idf from the training rows' bucket document
 * frequencies, a softmax regression over the sparse TF-IDF rows trained with per-coordinate AdaGrad
 * (seeded shuffles, iterate averaging over epochs), and the blend of its probabilities with the deep head's, tuned on validation rows.
 * The rows are built by `wideRow`, the runtime's own code: training and serving see the same vectors.
 */
import type { FeatureBatch } from '../core/features/featurizer.js';
import { round7 } from '../core/model/outlier.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import type { SentimentBlend, WideModel } from '../core/model/text-model.js';
import { blendSentiment, createWideScratch, softmax3, temperatureScale, wideBucket, wideProbabilities, wideRow } from '../core/model/wide-scoring.js';
import { SENTIMENTS } from '../schemas/types.js';
import { classificationReport } from './metrics.js';

/**
 * AdaGrad's starting accumulator: with ~0 the first update of every coordinate is a full-size signed
 * step (lr, whatever the gradient), which lets one-off n-grams memorise their review; 0.1 damps that.
 */
const INITIAL_ACCUMULATOR = 0.1;

/**
 * The starting accumulator of a warm start: the parent's accumulated squared gradients are not saved, and its
 * weights already fit; 1 keeps the first steps of a continued run small (lr x gradient) instead of damped full steps.
 */
const WARM_INITIAL_ACCUMULATOR = 1;

export interface WideParams {
  epochs: number;
  learningRate: number;
  l2: number;
  /** Buckets in fewer training reviews than this get idf 0 (ignored), like TF-IDF's min_df. */
  minDf: number;
  classWeights: number[];
  seed: number;
  /** Warm start: continue from these weights; with keepIdf, also from its idf (the vocabulary) instead of refitting it. */
  start?: { wide: WideModel; keepIdf: boolean };
}

/** Document frequency of every bucket: in how many rows of the batch it appears (once per row). */
export function documentFrequencies(batch: FeatureBatch, buckets: number): Uint32Array {
  const df = new Uint32Array(buckets);
  const lastRow = new Int32Array(buckets).fill(-1);
  for (let r = 0; r < batch.size; r++) {
    for (let i = batch.offsets[r]!; i < batch.offsets[r + 1]!; i++) {
      const id = batch.ids[i]!;
      if (lastRow[id] !== r) {
        lastRow[id] = r;
        df[id]!++;
      }
    }
  }
  return df;
}

/** idf = ln((1 + n) / (1 + df)) + 1 for buckets with df >= minDf, 0 otherwise. */
export function fitIdf(batch: FeatureBatch, buckets: number, minDf: number): Float32Array {
  const df = documentFrequencies(batch, buckets);
  const n = batch.size;
  return Float32Array.from(df, (d) => (d >= minDf && d > 0 ? Math.log((1 + n) / (1 + d)) + 1 : 0));
}

/** All rows of a batch as one CSR matrix of TF-IDF values. */
export interface SparseRows {
  offsets: Int32Array;
  ids: Int32Array;
  values: Float32Array;
}

export function sparseRows(batch: FeatureBatch, idf: Float32Array): SparseRows {
  const scratch = createWideScratch(idf.length);
  const offsets = new Int32Array(batch.size + 1);
  const ids = new Int32Array(batch.ids.length);
  const values = new Float32Array(batch.ids.length);
  for (let r = 0; r < batch.size; r++) {
    const n = wideRow(batch, r, idf, scratch);
    for (let k = 0; k < n; k++) ids[offsets[r]! + k] = wideBucket(scratch, k);
    values.set(scratch.values.subarray(0, n), offsets[r]);
    offsets[r + 1] = offsets[r]! + n;
  }
  return { offsets, ids, values };
}

export interface WideResult {
  wide: WideModel;
  bestEpoch: number;
  history: Array<{ epoch: number; loss: number; valMacroF1: number }>;
}

/** Trains the wide part; keeps the (epoch-averaged, see below) weights with the best validation macro-F1. */
export function trainWide(fit: { batch: FeatureBatch; sentiment: Int32Array }, val: { batch: FeatureBatch; sentiment: Int32Array }, buckets: number, params: WideParams): WideResult {
  const start = params.start;
  const idf = start?.keepIdf ? start.wide.idf.slice() : fitIdf(fit.batch, buckets, params.minDf);
  const rows = sparseRows(fit.batch, idf);
  const wide: WideModel = { idf, kernel: start ? start.wide.kernel.slice() : new Float32Array(buckets * 3), bias: start ? start.wide.bias.slice() : new Float32Array(3) };
  const initialAccumulator = start ? WARM_INITIAL_ACCUMULATOR : INITIAL_ACCUMULATOR;
  const accumulators = new Float32Array(buckets * 3).fill(initialAccumulator);
  const biasAccumulators = new Float64Array(3).fill(initialAccumulator);
  const random = seededRandom(params.seed);
  const probs = new Float64Array(3);
  const history: WideResult['history'] = [];
  let best: { f1: number; epoch: number; kernel: Float32Array; bias: Float32Array } | undefined;
  const { kernel, bias } = wide;
  const lr = params.learningRate;
  // Running sums of the end-of-epoch weights: the model evaluated (and kept) after epoch e is the mean
  // of epochs 1..e, which smooths AdaGrad's late, noisy steps on rare n-grams (iterate averaging).
  const kernelSum = new Float64Array(kernel.length);
  const biasSum = new Float64Array(3);
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    let lossSum = 0;
    for (const r of shuffledIndices(fit.batch.size, random)) {
      const start = rows.offsets[r]!;
      const end = rows.offsets[r + 1]!;
      let z0 = bias[0]!;
      let z1 = bias[1]!;
      let z2 = bias[2]!;
      for (let k = start; k < end; k++) {
        const base = rows.ids[k]! * 3;
        const v = rows.values[k]!;
        z0 += kernel[base]! * v;
        z1 += kernel[base + 1]! * v;
        z2 += kernel[base + 2]! * v;
      }
      softmax3(z0, z1, z2, probs, 0);
      const y = fit.sentiment[r]!;
      const weight = params.classWeights[y]!;
      lossSum -= weight * Math.log(Math.max(probs[y]!, 1e-12));
      for (let c = 0; c < 3; c++) {
        const g = (probs[c]! - (y === c ? 1 : 0)) * weight;
        biasAccumulators[c]! += g * g;
        bias[c]! -= (lr * g) / Math.sqrt(biasAccumulators[c]!);
        for (let k = start; k < end; k++) {
          const w = rows.ids[k]! * 3 + c;
          const grad = g * rows.values[k]! + params.l2 * kernel[w]!;
          const acc = (accumulators[w]! += grad * grad);
          kernel[w]! -= (lr * grad) / Math.sqrt(acc);
        }
      }
    }
    for (let i = 0; i < kernel.length; i++) kernelSum[i]! += kernel[i]!;
    for (let c = 0; c < 3; c++) biasSum[c]! += bias[c]!;
    const averaged: WideModel = { idf, kernel: Float32Array.from(kernelSum, (x) => x / epoch), bias: Float32Array.from(biasSum, (x) => x / epoch) };
    const f1 = macroF1(wideProbabilities(val.batch, averaged, createWideScratch(buckets)), val.sentiment, [0, 0, 0]);
    history.push({ epoch, loss: round7(lossSum / Math.max(fit.batch.size, 1)), valMacroF1: f1 });
    if (!best || f1 > best.f1) best = { f1, epoch, kernel: averaged.kernel, bias: averaged.bias };
  }
  kernel.set(best!.kernel);
  bias.set(best!.bias);
  return { wide, bestEpoch: best!.epoch, history };
}

/** Macro-F1 of argmax(log p + offsets). */
function macroF1(probs: Float32Array, labels: Int32Array, offsets: number[]): number {
  const n = labels.length;
  const predicted = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    let bestScore = Math.log(Math.max(probs[r * 3]!, 1e-12)) + offsets[0]!;
    for (let c = 1; c < 3; c++) {
      const score = Math.log(Math.max(probs[r * 3 + c]!, 1e-12)) + offsets[c]!;
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    predicted[r] = best;
  }
  return classificationReport(labels, predicted, SENTIMENTS).macroF1;
}

/** Mean negative log-likelihood of the labels (smooth: a steadier criterion than macro-F1 on a few thousand rows). */
function logLoss(probs: Float32Array, labels: Int32Array): number {
  let sum = 0;
  for (let r = 0; r < labels.length; r++) sum -= Math.log(Math.max(probs[r * 3 + labels[r]!]!, 1e-12));
  return sum / Math.max(labels.length, 1);
}

/**
 * Relative log-loss gap still counted as a tie when a warm start keeps its parent's choice (temperature 1, i.e. the
 * parent's folded one, and the parent's wide weight): on a small validation set the minimum moves with the noise.
 */
const WARM_LOSS_TOLERANCE = 0.01;

/** The temperature (0.3 .. 3) that minimises the validation log loss of p^(1/T), renormalised (warm: 1 unless clearly worse). */
function fitTemperature(probs: Float32Array, labels: Int32Array, warm = false): number {
  const unscaled = logLoss(probs, labels);
  let best = { temperature: 1, loss: unscaled };
  for (let t = 0.3; t <= 3 + 1e-9; t += 0.05) {
    const scaled = probs.slice();
    temperatureScale(scaled, round7(t));
    const loss = logLoss(scaled, labels);
    if (loss < best.loss - 1e-9) best = { temperature: round7(t), loss };
  }
  return warm && unscaled <= best.loss * (1 + WARM_LOSS_TOLERANCE) ? 1 : best.temperature;
}

/** Largest gap to the best validation macro-F1 still counted as a tie (~ its standard error on a few thousand rows). */
const F1_TOLERANCE = 0.01;

/**
 * Tuned on the validation rows, each step on a smooth criterion where one exists:
 *  1. a temperature per model (log loss): the deep head is over-confident after a few epochs, the
 *     linear model is not, and blending uncalibrated probabilities would let the deep one dominate
 *     (the caller folds them into the weights, see foldTemperature);
 *  2. the wide weight (0 .. 1 by 0.1) minimising the blend's log loss;
 *  3. log offsets for negative and neutral (positive fixed at 0) for macro-F1 (a prior correction:
 *     class imbalance makes argmax under-predict the rare classes). Macro-F1 on a few hundred
 *     minority rows is noisy, so the smallest offsets within F1_TOLERANCE of the best are taken.
 * A warm start passes its parent's blend: then each step keeps the parent's choice (temperature 1 on the
 * parent-calibrated models, its wide weight, the offsets nearest its own) unless validation clearly prefers another.
 */
export interface TunedBlend {
  blend: SentimentBlend;
  /** To be folded into the models (sentiment layer / wide kernel divided by them) before serving. */
  deepTemperature: number;
  wideTemperature: number;
  before: number;
  after: number;
}

export function tuneBlend(deep: Float32Array, wide: Float32Array, labels: Int32Array, parent?: SentimentBlend): TunedBlend {
  const before = macroF1(deep, labels, [0, 0, 0]);
  const deepTemperature = fitTemperature(deep, labels, parent !== undefined);
  const wideTemperature = fitTemperature(wide, labels, parent !== undefined);
  const deepCalibrated = deep.slice();
  temperatureScale(deepCalibrated, deepTemperature);
  const wideCalibrated = wide.slice();
  temperatureScale(wideCalibrated, wideTemperature);
  const mix = (wideWeight: number) => {
    const mixed = deepCalibrated.slice();
    blendSentiment(mixed, wideCalibrated, { wideWeight, logOffsets: [0, 0, 0] });
    return mixed;
  };
  let weight = { wideWeight: 0, loss: logLoss(mix(0), labels) };
  for (let step = 1; step <= 10; step++) {
    const loss = logLoss(mix(step / 10), labels);
    if (loss < weight.loss - 1e-9) weight = { wideWeight: step / 10, loss };
  }
  if (parent) {
    const kept = logLoss(mix(parent.wideWeight), labels);
    if (kept <= weight.loss * (1 + WARM_LOSS_TOLERANCE)) weight = { wideWeight: parent.wideWeight, loss: kept };
  }
  const mixed = mix(weight.wideWeight);
  const grid: Array<{ offsets: number[]; f1: number; size: number }> = [];
  for (let neg = -1.5; neg <= 1.5 + 1e-9; neg += 0.25) {
    for (let neu = -1.5; neu <= 2.5 + 1e-9; neu += 0.25) {
      const offsets = [round7(neg), round7(neu), 0];
      // Ties go to the smallest correction, or for a warm start to the one closest to the parent's.
      const origin = parent?.logOffsets ?? [0, 0, 0];
      grid.push({ offsets, f1: macroF1(mixed, labels, offsets), size: Math.abs(neg - origin[0]!) + Math.abs(neu - origin[1]!) });
    }
  }
  const top = Math.max(...grid.map((g) => g.f1));
  const chosen = grid.filter((g) => g.f1 >= top - F1_TOLERANCE).sort((a, b) => a.size - b.size || b.f1 - a.f1)[0]!;
  return { blend: { wideWeight: weight.wideWeight, logOffsets: chosen.offsets }, deepTemperature, wideTemperature, before, after: chosen.f1 };
}

/** Divides a softmax layer's kernel and bias by T in place: its output becomes softmax(z / T). */
export function foldTemperature(kernel: Float32Array, bias: Float32Array, temperature: number): void {
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= temperature;
  for (let i = 0; i < bias.length; i++) bias[i]! /= temperature;
}
