/**
 * Training of one model version (see core/model/text-model.ts for the architecture).
 *
 * The embedding table is trained with sparse AdaGrad in plain JS (gradient of the loss with respect to
 * the pooled input comes from tfjs; wasm has no kernel for a dense embedding gradient, and a dense
 * update of a 3M-parameter table per step would dominate), the heads with Adam in tfjs. The wide part
 * (sparse TF-IDF softmax regression, trainer/wide.ts) is trained next to it and blended on validation rows.
 * Everything is seeded: same data + params -> same weights.
 *
 * One file on purpose (~400 lines): the epoch loop, its sparse step (token dropout, AdaGrad on the embedding
 * rows, Adam on the heads) and the head evaluation all work on one TrainingState; apart they would have to
 * export it. The wide part (trainer/wide.ts) and the outlier fit (trainer/outliers.ts) are separate files.
 */
import type { LayersModel, Tensor, Variable, layers } from '@tensorflow/tfjs';
import { type FeatureBatch, type FeaturizerConfig, NUMERIC_COUNT, createFeaturizerConfig, featurizeBatch, fitNumericScaling } from '../core/features/featurizer.js';
import { DriftlineError } from '../core/errors.js';
import { round7 } from '../core/model/outlier.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import { predictRows } from '../core/model/runtime.js';
import {
  type ModelBundle,
  createHeadModel,
  headInputDim,
  poolBatch,
  poolScale,
  type Pooling,
  type SentimentBlend,
} from '../core/model/text-model.js';
import { createWideScratch, wideProbabilities } from '../core/model/wide-scoring.js';
import type { Tf } from '../core/model/tf.js';
import { SENTIMENTS } from '../schemas/types.js';
import { type LabeledReview, sentimentLabel, splitByReviewId } from './data.js';
import { type CategoryBlendSummary, fitCategoryBlend } from './category-blend.js';
import { classificationReport } from './metrics.js';
import { fitOutlierModels, type OutlierTrainingParams } from './outliers.js';
import { documentFrequencies, foldTemperature, trainWide, tuneBlend } from './wide.js';

/** The training parameters; the outlier models' are declared with their fit (trainer/outliers.ts). */
export interface TrainParams extends OutlierTrainingParams {
  buckets: number;
  maxTokens: number;
  embeddingDim: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  headLearningRate: number;
  embeddingLearningRate: number;
  /** Class weight = (n / (3 n_c)) ^ power: 0 = unweighted, 1 = fully balanced. */
  classWeightPower: number;
  categoryLossWeight: number;
  /** 1 = sum / sqrt(n) pooling of the token embeddings, 0 = mean. */
  sqrtPooling: number;
  /** Share of token ids dropped (seeded) from each training row per step: regularises the embedding bag. */
  tokenDropout: number;
  /**
   * Embedding rows are trained only for buckets that occur in at least this many training reviews (like
   * TF-IDF's min_df): n-grams seen once can only be memorised. Untrained rows stay zero.
   */
  minBucketDf: number;
  /** Wide part: AdaGrad epochs (the best by validation macro-F1 is kept), learning rate, L2, min bucket df. */
  wideEpochs: number;
  wideLearningRate: number;
  wideL2: number;
  wideMinDf: number;
  /**
   * Categories with fewer training rows than this are merged into 'other'. 50: below that a class is
   * neither learnable nor measurable (the 20 % hold-out would score it on ~12 reviews, an F1 with a spread
   * of +-0.15); every category of the review data (the smallest, Appliances, has ~100 training rows) is a class.
   */
  categoryMinRows: number;
  /** Part of the training rows kept aside for early stopping and outlier calibration. */
  validationFraction: number;
  seed: number;
}

export const DEFAULT_TRAIN_PARAMS: TrainParams = {
  buckets: 1 << 16,
  maxTokens: 256,
  embeddingDim: 16,
  hidden: 48,
  epochs: 6,
  batchSize: 128,
  headLearningRate: 0.001,
  embeddingLearningRate: 0.02,
  classWeightPower: 0.5,
  categoryLossWeight: 0.3,
  sqrtPooling: 1,
  tokenDropout: 0.3,
  minBucketDf: 1,
  wideEpochs: 10,
  wideLearningRate: 0.2,
  wideL2: 1e-6,
  wideMinDf: 2,
  categoryMinRows: 50,
  validationFraction: 0.1,
  autoencoderEpochs: 12,
  forestTrees: 50,
  forestSampleSize: 256,
  centroids: 16,
  shiftSampleSize: 128,
  shiftNeighbours: 5,
  outlierFitRows: 12_000,
  seed: 42,
};

export interface EpochLog {
  epoch: number;
  loss: number;
  valMacroF1: number;
  valAccuracy: number;
  rowsPerSecond: number;
  seconds: number;
}

export interface TrainResult {
  bundle: ModelBundle;
  history: EpochLog[];
  bestEpoch: number;
  wide: { bestEpoch: number; history: Array<{ epoch: number; loss: number; valMacroF1: number }>; blend: SentimentBlend; deepTemperature: number; wideTemperature: number; valMacroF1Deep: number; valMacroF1Blended: number };
  /** The category head's blend with the wide category part (trainer/category-blend.ts), when it beat the head alone on validation. */
  categoryBlend?: CategoryBlendSummary;
  timings: Record<string, number>;
  trainRows: number;
  validationRows: number;
}

type Progress = (line: string) => void;

/** The training rows' split into fit and validation rows (early stopping, blend tuning, calibrations); deterministic by review id. */
export function validationSplit<T extends { review_id: string }>(rows: readonly T[], params: Pick<TrainParams, 'validationFraction' | 'seed'>): { rest: T[]; held: T[] } {
  return splitByReviewId(rows, params.validationFraction, params.seed ^ 0x7a11);
}

/**
 * A warm start: training continues from a registered version's weights instead of random ones. The parent's
 * hashing space and architecture (buckets, token cap, embedding width, hidden units, pooling) are kept, so its
 * embedding rows, head and wide weights stay meaningful. Unless `rebuildVocabulary`, its numeric scaling,
 * category classes and wide idf (the vocabulary) are kept too; with it they are refitted on the new rows and
 * the category layer keeps the columns of the classes that survive (new classes start from fresh weights).
 */
export interface WarmStart {
  parent: ModelBundle;
  rebuildVocabulary: boolean;
}

/** Parameters that fix the shape of the weights: a warm start takes them from its parent. */
export const ARCHITECTURE_PARAMS = ['buckets', 'maxTokens', 'embeddingDim', 'hidden', 'sqrtPooling'] as const satisfies ReadonlyArray<keyof TrainParams>;

/** The architecture parameters a bundle was trained with (read from its manifest and featurizer). */
export function architectureOf(bundle: ModelBundle): Pick<TrainParams, (typeof ARCHITECTURE_PARAMS)[number]> {
  return {
    buckets: bundle.featurizer.buckets,
    maxTokens: bundle.featurizer.maxTokens,
    embeddingDim: bundle.manifest.embeddingDim,
    hidden: bundle.manifest.hidden,
    sqrtPooling: bundle.manifest.pooling === 'sqrt' ? 1 : 0,
  };
}

/**
 * AdaGrad's starting accumulator of a warm-started embedding. From zero, the first update of every coordinate
 * is a full signed step (lr) whatever the gradient: right for random weights, but it would shake a trained
 * table apart in the first epoch. 0.1 (as the wide part uses) makes the first steps proportional to the gradient.
 */
const WARM_EMBEDDING_ACCUMULATOR = 0.1;

/** Categories kept as classes: frequent ones (most frequent first), plus 'other' if anything was merged. */
export function chooseCategories(rows: readonly LabeledReview[], minRows: number): string[] {
  const counts = new Map<string, number>();
  for (const r of rows) if (r.category) counts.set(r.category, (counts.get(r.category) ?? 0) + 1);
  const kept = [...counts.entries()].filter(([, n]) => n >= minRows).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c);
  if (kept.length === 0) return [];
  return kept.length < counts.size ? [...kept, 'other'] : kept;
}

function categoryIndex(category: string | null | undefined, categories: string[]): number {
  if (!category || categories.length === 0) return -1;
  const i = categories.indexOf(category);
  return i >= 0 ? i : categories.indexOf('other');
}

export function classWeights(labels: Int32Array, power: number): number[] {
  const counts = [0, 0, 0];
  for (const y of labels) counts[y]!++;
  return counts.map((c) => (c === 0 ? 0 : (labels.length / (3 * c)) ** power));
}

interface Labeled {
  batch: FeatureBatch;
  sentiment: Int32Array;
  category: Int32Array;
}

function labelled(rows: readonly LabeledReview[], featurizer: FeaturizerConfig, categories: string[]): Labeled {
  return {
    batch: featurizeBatch(rows, featurizer),
    sentiment: Int32Array.from(rows, (r) => sentimentLabel(r.rating)),
    category: Int32Array.from(rows, (r) => categoryIndex(r.category, categories)),
  };
}

/** Trains heads + embedding; returns the best epoch's weights (by validation macro-F1). */
export async function trainModel(tf: Tf, rows: readonly LabeledReview[], params: TrainParams, progress: Progress = () => {}, warm?: WarmStart): Promise<TrainResult> {
  const started = performance.now();
  if (!Number.isInteger(params.embeddingDim) || params.embeddingDim < 4 || params.embeddingDim % 4 !== 0) {
    throw new DriftlineError('TRAINING_FAILED', `embeddingDim must be a positive multiple of 4, got ${params.embeddingDim}`);
  }
  const { rest: fitRows, held: valRows } = validationSplit(rows, params);
  if (fitRows.length < 50 || valRows.length < 10) {
    throw new DriftlineError('TRAINING_FAILED', `too few rows to train: ${fitRows.length} training, ${valRows.length} validation`);
  }
  if (warm) checkWarmArchitecture(warm.parent, params);
  const featurizer = warm && !warm.rebuildVocabulary ? warm.parent.featurizer : fitNumericScaling(createFeaturizerConfig(featurizerOptions(params, warm)), fitRows);
  const categories = warm && !warm.rebuildVocabulary ? [...warm.parent.manifest.categories] : chooseCategories(fitRows, params.categoryMinRows);
  const fit = labelled(fitRows, featurizer, categories);
  const val = labelled(valRows, featurizer, categories);
  const featurizeSeconds = (performance.now() - started) / 1000;

  const dim = params.embeddingDim;
  const embedding = warm ? warm.parent.embedding.slice() : new Float32Array(params.buckets * dim);
  const head = createHeadModel(tf, dim, params.hidden, categories.length, params.seed);
  if (warm) {
    copyHeadWeights(tf, warm.parent, head, categories);
    progress(`warm start: embedding, head and wide weights from the parent (${warm.rebuildVocabulary ? 'vocabulary rebuilt' : 'same featurizer and vocabulary'})`);
  }
  const state: TrainingState = {
    tf,
    head,
    embedding,
    accumulators: new Float32Array(params.buckets * dim).fill(warm ? WARM_EMBEDDING_ACCUMULATOR : 0),
    optimizer: tf.train.adam(params.headLearningRate),
    weights: classWeights(fit.sentiment, params.classWeightPower),
    categoryCount: Math.max(categories.length, 1),
    params,
    random: seededRandom(params.seed + 7),
    trainable: trainableBuckets(fit.batch, params.buckets, params.minBucketDf),
  };
  const random = seededRandom(params.seed);
  const history: EpochLog[] = [];
  let best: { f1: number; epoch: number; embedding: Float32Array; head: Tensor[] } | undefined;
  const trainStart = performance.now();
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    const t0 = performance.now();
    const order = shuffledIndices(fit.batch.size, random);
    let lossSum = 0;
    let batches = 0;
    for (let start = 0; start < order.length; start += params.batchSize) {
      lossSum += trainStep(state, fit, order.subarray(start, start + params.batchSize));
      batches++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const report = evaluateHeads(tf, head, embedding, dim, poolingOf(params), val);
    const log: EpochLog = { epoch, loss: round7(lossSum / batches), valMacroF1: report.macroF1, valAccuracy: report.accuracy, rowsPerSecond: Math.round(fit.batch.size / seconds), seconds: round7(seconds) };
    history.push(log);
    progress(`epoch ${epoch}/${params.epochs}  loss ${log.loss.toFixed(4)}  val macro-F1 ${log.valMacroF1.toFixed(4)}  val acc ${log.valAccuracy.toFixed(4)}  ${log.rowsPerSecond} rows/s`);
    if (!best || report.macroF1 > best.f1) {
      best?.head.forEach((t) => t.dispose());
      best = { f1: report.macroF1, epoch, embedding: embedding.slice(), head: head.getWeights().map((w) => w.clone()) };
    }
  }
  state.optimizer.dispose();
  embedding.set(best!.embedding);
  head.setWeights(best!.head);
  best!.head.forEach((t) => t.dispose());
  progress(`best epoch ${best!.epoch} (val macro-F1 ${best!.f1.toFixed(4)})`);
  const wideStart = performance.now();
  const wide = trainWide(fit, val, params.buckets, {
    epochs: params.wideEpochs,
    learningRate: params.wideLearningRate,
    l2: params.wideL2,
    minDf: params.wideMinDf,
    classWeights: state.weights,
    seed: params.seed + 11,
    ...(warm ? { start: { wide: warm.parent.wide, keepIdf: !warm.rebuildVocabulary } } : {}),
  });
  progress(`wide part: best epoch ${wide.bestEpoch}, val macro-F1 ${wide.history.map((h) => h.valMacroF1.toFixed(4)).join(' ')} (${((performance.now() - wideStart) / 1000).toFixed(1)} s)`);
  const [deepVal] = predictRows(tf, head, poolBatch(val.batch, embedding, dim, poolingOf(params), null).headInput, val.batch.size, headInputDim(dim));
  const tuned = tuneBlend(deepVal, wideProbabilities(val.batch, wide.wide, createWideScratch(params.buckets)), val.sentiment, warm?.parent.manifest.blend);
  foldTemperature(wide.wide.kernel, wide.wide.bias, tuned.wideTemperature);
  foldSentimentTemperature(tf, head, tuned.deepTemperature);
  progress(
    `blend tuned on validation: temperatures deep ${tuned.deepTemperature} wide ${tuned.wideTemperature} (folded into the weights), ${JSON.stringify(tuned.blend)} (val macro-F1 deep ${tuned.before.toFixed(4)} -> blended ${tuned.after.toFixed(4)})`,
  );
  const trainSeconds = (performance.now() - trainStart) / 1000;

  const outlierStart = performance.now();
  const core = { featurizer, embedding, head, wide: wide.wide, blend: tuned.blend, categories, pooling: poolingOf(params), params };
  const bundle = await fitOutlierModels(tf, core, fit.batch, fitRows, valRows, progress);
  const outlierSeconds = (performance.now() - outlierStart) / 1000;
  // A warm start on the parent's vocabulary continues from the parent's wide category part, as the head and the wide sentiment part do.
  const category = fitCategoryBlend(tf, bundle, fitRows, valRows, progress, warm && !warm.rebuildVocabulary ? warm.parent.categoryWide : undefined);
  if (category) {
    bundle.categoryWide = category.categoryWide;
    bundle.manifest.categoryBlend = category.categoryBlend;
  }
  return {
    bundle,
    history,
    bestEpoch: best!.epoch,
    ...(category ? { categoryBlend: category.summary } : {}),
    wide: { bestEpoch: wide.bestEpoch, history: wide.history, blend: tuned.blend, deepTemperature: tuned.deepTemperature, wideTemperature: tuned.wideTemperature, valMacroF1Deep: tuned.before, valMacroF1Blended: tuned.after },
    timings: { featurizeSeconds: round7(featurizeSeconds), trainSeconds: round7(trainSeconds), outlierSeconds: round7(outlierSeconds), totalSeconds: round7((performance.now() - started) / 1000) },
    trainRows: fitRows.length,
    validationRows: valRows.length,
  };
}

function checkWarmArchitecture(parent: ModelBundle, params: TrainParams): void {
  const parentShape = architectureOf(parent);
  const different = ARCHITECTURE_PARAMS.filter((key) => parentShape[key] !== params[key]);
  if (different.length > 0) {
    throw new DriftlineError('TRAINING_FAILED', `a warm start keeps the parent's architecture; ${different.map((k) => `${k} ${params[k]} != parent's ${parentShape[k]}`).join(', ')}`);
  }
}

/** The featurizer of a scratch run, or the parent's hashing (with fresh statistics) when the vocabulary is rebuilt. */
function featurizerOptions(params: TrainParams, warm: WarmStart | undefined): { buckets: number; maxTokens: number; hashSeed: number; bigrams?: boolean } {
  if (!warm) return { buckets: params.buckets, maxTokens: params.maxTokens, hashSeed: 0x5eed };
  const { buckets, maxTokens, hashSeed, bigrams } = warm.parent.featurizer;
  return { buckets, maxTokens, hashSeed, bigrams };
}

/**
 * The parent's trunk and sentiment layers as they are, and its category layer column by column for the classes
 * both lists share (a class new to `categories` keeps its fresh initialisation). The sentiment layer carries the
 * parent's folded temperature: a rescaling training simply continues from (the new one is folded in afterwards).
 */
function copyHeadWeights(tf: Tf, parent: ModelBundle, head: LayersModel, categories: string[]): void {
  for (const name of ['trunk', 'sentiment']) head.getLayer(name).setWeights(parent.head.getLayer(name).getWeights());
  const [parentKernel, parentBias] = denseWeights(parent.head.getLayer('category'));
  const layer = head.getLayer('category');
  const [kernel, bias] = denseWeights(layer);
  const k = kernel.dataSync().slice() as Float32Array;
  const b = bias.dataSync().slice() as Float32Array;
  const pk = parentKernel.dataSync();
  const pb = parentBias.dataSync();
  const parentCount = parentBias.shape[0];
  const count = bias.shape[0];
  const rows = kernel.shape[0];
  categories.forEach((category, column) => {
    const from = parent.manifest.categories.indexOf(category);
    if (from < 0 || from >= parentCount || column >= count) return;
    for (let r = 0; r < rows; r++) k[r * count + column] = pk[r * parentCount + from]!;
    b[column] = pb[from]!;
  });
  const kernelT = tf.tensor(k, kernel.shape);
  const biasT = tf.tensor(b, bias.shape);
  layer.setWeights([kernelT, biasT]);
  kernelT.dispose();
  biasT.dispose();
}

interface TrainingState {
  tf: Tf;
  head: LayersModel;
  embedding: Float32Array;
  accumulators: Float32Array;
  optimizer: ReturnType<Tf['train']['adam']>;
  weights: number[];
  categoryCount: number;
  params: TrainParams;
  /** Token dropout's generator (seeded, separate from the shuffle). */
  random: () => number;
  /** 1 for embedding rows that may be trained (bucket document frequency >= minBucketDf). */
  trainable: Uint8Array;
}

/** Buckets present in at least `minDf` rows of the batch. */
function trainableBuckets(batch: FeatureBatch, buckets: number, minDf: number): Uint8Array {
  return Uint8Array.from(documentFrequencies(batch, buckets), (n) => (n >= minDf ? 1 : 0));
}

let stepCounter = 0;

function poolingOf(params: TrainParams): Pooling {
  return params.sqrtPooling ? 'sqrt' : 'mean';
}

/** One mini-batch: tfjs gives the head gradients and d(loss)/d(pooled input); the embedding update is sparse. */
function trainStep(s: TrainingState, data: Labeled, rows: Int32Array): number {
  const { tf, params } = s;
  const dim = params.embeddingDim;
  const n = rows.length;
  const width = headInputDim(dim);
  const sub = dropTokens(data.batch, rows, params.tokenDropout, s.random);
  const pooled = poolBatch(sub, s.embedding, dim, poolingOf(params), null);
  const sentimentOneHot = new Float32Array(n * 3);
  const categoryOneHot = new Float32Array(n * s.categoryCount);
  const rowWeight = new Float32Array(n);
  const categoryMask = new Float32Array(n);
  let weightSum = 0;
  for (let i = 0; i < n; i++) {
    const y = data.sentiment[rows[i]!]!;
    sentimentOneHot[i * 3 + y] = 1;
    rowWeight[i] = s.weights[y]!;
    weightSum += s.weights[y]!;
    const c = data.category[rows[i]!]!;
    if (c >= 0) {
      categoryOneHot[i * s.categoryCount + c] = 1;
      categoryMask[i] = 1;
    }
  }
  const headVariables = s.head.trainableWeights.map((w) => w.read() as Variable);
  const input = tf.variable(tf.tensor2d(pooled.headInput, [n, width]), true, `pooled_input_${++stepCounter}`);
  let lossValue = 0;
  let inputGradient: Float32Array;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const [sentimentProbs, categoryProbs] = s.head.apply(input, { training: true }) as [Tensor, Tensor];
      const eps = 1e-7;
      const sentimentCe = tf.neg(tf.sum(tf.mul(tf.tensor2d(sentimentOneHot, [n, 3]), tf.log(tf.add(sentimentProbs, eps))), 1));
      const sentimentLoss = tf.div(tf.sum(tf.mul(sentimentCe, tf.tensor1d(rowWeight))), weightSum);
      const categoryCe = tf.neg(tf.sum(tf.mul(tf.tensor2d(categoryOneHot, [n, s.categoryCount]), tf.log(tf.add(categoryProbs, eps))), 1));
      const categoryLoss = tf.div(tf.sum(tf.mul(categoryCe, tf.tensor1d(categoryMask))), Math.max(1, categoryMask.reduce((a, b) => a + b, 0)));
      return tf.add(sentimentLoss, tf.mul(categoryLoss, params.categoryLossWeight)) as ReturnType<typeof tf.scalar>;
    }, [...headVariables, input]);
    lossValue = value.dataSync()[0]!;
    inputGradient = grads[input.name]!.dataSync() as Float32Array;
    const headGrads: Record<string, Tensor> = {};
    for (const v of headVariables) headGrads[v.name] = grads[v.name]!;
    s.optimizer.applyGradients(headGrads as Parameters<typeof s.optimizer.applyGradients>[0]);
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  } finally {
    input.dispose();
  }
  sparseAdagrad(s, sub, inputGradient, width);
  return lossValue;
}

/**
 * The mini-batch as its own FeatureBatch (rows 0..n-1), each token id kept with probability 1 - rate.
 * A row keeps at least one id when it had any, so no text is reduced to nothing.
 */
function dropTokens(batch: FeatureBatch, rows: Int32Array, rate: number, random: () => number): FeatureBatch {
  const offsets = new Int32Array(rows.length + 1);
  const kept: number[] = [];
  const numericScaled = new Float32Array(rows.length * NUMERIC_COUNT);
  const numericRaw = new Float64Array(rows.length * NUMERIC_COUNT);
  rows.forEach((r, i) => {
    const start = batch.offsets[r]!;
    const end = batch.offsets[r + 1]!;
    const before = kept.length;
    for (let t = start; t < end; t++) if (rate <= 0 || random() >= rate) kept.push(batch.ids[t]!);
    if (kept.length === before && end > start) kept.push(batch.ids[start + Math.floor(random() * (end - start))]!);
    offsets[i + 1] = kept.length;
    numericScaled.set(batch.numericScaled.subarray(r * NUMERIC_COUNT, (r + 1) * NUMERIC_COUNT), i * NUMERIC_COUNT);
    numericRaw.set(batch.numericRaw.subarray(r * NUMERIC_COUNT, (r + 1) * NUMERIC_COUNT), i * NUMERIC_COUNT);
  });
  return { size: rows.length, ids: Int32Array.from(kept), offsets, numericRaw, numericScaled };
}

/** d(loss)/d(row of id) = d(loss)/d(pooled) * poolScale for each occurrence; AdaGrad per element. */
function sparseAdagrad(s: TrainingState, batch: FeatureBatch, inputGradient: Float32Array, width: number): void {
  const dim = s.params.embeddingDim;
  const lr = s.params.embeddingLearningRate;
  const { embedding, accumulators } = s;
  for (let i = 0; i < batch.size; i++) {
    const start = batch.offsets[i]!;
    const end = batch.offsets[i + 1]!;
    const scale = poolScale(end - start, poolingOf(s.params));
    if (scale === 0) continue;
    const g = i * width;
    for (let t = start; t < end; t++) {
      if (s.trainable[batch.ids[t]!] === 0) continue;
      const base = batch.ids[t]! * dim;
      for (let d = 0; d < dim; d++) {
        const grad = inputGradient[g + d]! * scale;
        if (grad === 0) continue;
        const acc = (accumulators[base + d]! += grad * grad);
        embedding[base + d]! -= (lr * grad) / (Math.sqrt(acc) + 1e-8);
      }
    }
  }
}

/** A Dense layer's kernel and bias (the head's layers are built with a bias: core/model/text-model.ts). */
function denseWeights(layer: layers.Layer): [Tensor, Tensor] {
  const [kernel, bias] = layer.getWeights();
  if (!kernel || !bias) throw new DriftlineError('TRAINING_FAILED', `layer ${layer.name} has no kernel and bias`);
  return [kernel, bias];
}

/** Calibration folded into the head: the sentiment layer's kernel and bias divided by T (softmax(z / T)). */
function foldSentimentTemperature(tf: Tf, head: LayersModel, temperature: number): void {
  const layer = head.getLayer('sentiment');
  const [kernel, bias] = denseWeights(layer);
  const k = kernel.dataSync().slice() as Float32Array;
  const b = bias.dataSync().slice() as Float32Array;
  foldTemperature(k, b, temperature);
  const kernelT = tf.tensor(k, kernel.shape);
  const biasT = tf.tensor(b, bias.shape);
  layer.setWeights([kernelT, biasT]);
  kernelT.dispose();
  biasT.dispose();
}

function evaluateHeads(tf: Tf, head: LayersModel, embedding: Float32Array, dim: number, pooling: Pooling, data: Labeled) {
  const pooled = poolBatch(data.batch, embedding, dim, pooling, null);
  const [probs] = predictRows(tf, head, pooled.headInput, data.batch.size, headInputDim(dim));
  const predicted = new Int32Array(data.batch.size);
  for (let r = 0; r < data.batch.size; r++) {
    let bestClass = 0;
    for (let c = 1; c < 3; c++) if (probs[r * 3 + c]! > probs[r * 3 + bestClass]!) bestClass = c;
    predicted[r] = bestClass;
  }
  return classificationReport(data.sentiment, predicted, SENTIMENTS);
}
