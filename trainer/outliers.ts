/**
 * Fitting of the outlier models on a trained trunk (scaling, autoencoder, isolation forest, k-means), of the
 * outlier score's text-anomaly part and of the k-NN shift index (see core/model/text-anomaly.ts and
 * core/model/knn.ts), and the calibration of all of them on validation rows that none of the fitted parts saw.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import { type FeatureBatch, type FeaturizerConfig, NUMERIC_COUNT } from '../core/features/featurizer.js';
import { fitKnnIndex } from '../core/model/knn.js';
import { fitEcdf, fitIsolationForest, fitKMeans, round7 } from '../core/model/outlier.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import { ModelForward } from '../core/model/runtime.js';
import { SIGNAL_COUNT, calibrateSignals, fitTextAnomalyTables, largestTailScore } from '../core/model/text-anomaly.js';
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type ModelBundle,
  type OutlierModel,
  type Pooling,
  type SentimentBlend,
  type WideModel,
  createAutoencoder,
  knownRows,
  outlierDim,
  outlierVectors,
  poolBatch,
} from '../core/model/text-model.js';
import type { Tf } from '../core/model/tf.js';
import type { ReviewInput } from '../core/review.js';
import { SENTIMENTS } from '../schemas/types.js';

export interface OutlierFitOptions {
  /** Training reviews sampled into the k-NN shift index, and the neighbours averaged. */
  shiftSampleSize: number;
  shiftNeighbours: number;
  seed: number;
}

/**
 * Adds the text-anomaly tables (fitted on `fitRows`' texts) and the k-NN index (a sample of `shiftVectors`,
 * rows of the representation the runtime's shift score uses) to the bundle, then calibrates on `valRows`:
 * per-signal median / 99th percentile, the ECDF of the largest tail score (the outlier score) and the ECDF
 * of the k-NN distance (the shift score).
 */
export function fitTextAnomalyAndShift(tf: Tf, bundle: ModelBundle, fitRows: readonly ReviewInput[], shiftVectors: Float32Array, valRows: readonly ReviewInput[], options: OutlierFitOptions): void {
  const dims = bundle.manifest.embeddingDim;
  const tables = fitTextAnomalyTables(fitRows.map((r) => r.text ?? ''));
  const outlier = bundle.outlier;
  outlier.textAnomaly = { ...tables, median: new Array<number>(SIGNAL_COUNT).fill(0), q99: new Array<number>(SIGNAL_COUNT).fill(1) };
  outlier.shiftKnn = fitKnnIndex(shiftVectors, dims, options.shiftSampleSize, options.shiftNeighbours, seededRandom(options.seed));
  const calibration = new ModelForward(tf, bundle).forward(valRows);
  const signals = calibration.signals!;
  Object.assign(outlier.textAnomaly, calibrateSignals(signals, valRows.length));
  outlier.combinedEcdf = fitEcdf(Array.from({ length: valRows.length }, (_, r) => largestTailScore(outlier.textAnomaly!, signals, r * SIGNAL_COUNT)));
  outlier.shiftEcdf = fitEcdf(calibration.shiftDistance);
}

/** The training parameters of the outlier models (part of trainer/train.ts TrainParams). */
export interface OutlierTrainingParams {
  embeddingDim: number;
  hidden: number;
  autoencoderEpochs: number;
  forestTrees: number;
  forestSampleSize: number;
  centroids: number;
  /** Training reviews in the k-NN shift index, and how many nearest of them the shift distance averages. */
  shiftSampleSize: number;
  shiftNeighbours: number;
  /** Rows used to fit the autoencoder / forest / k-means (a seeded sample of the training rows). */
  outlierFitRows: number;
  seed: number;
}

/** The trained trunk, heads and wide part the outlier models are fitted on. */
export interface TrainedCore {
  featurizer: FeaturizerConfig;
  embedding: Float32Array;
  head: LayersModel;
  wide: WideModel;
  blend: SentimentBlend;
  categories: string[];
  pooling: Pooling;
  params: OutlierTrainingParams;
}

/**
 * Outlier models on the trained trunk: scaling, autoencoder, isolation forest and k-means are fitted
 * on (a sample of) the training rows; their calibration ECDFs on the validation rows, which none of
 * them has seen, so live percentiles mean what they say.
 */
export async function fitOutlierModels(
  tf: Tf,
  core: TrainedCore,
  fitBatch: FeatureBatch,
  fitRows: readonly ReviewInput[],
  valRows: readonly ReviewInput[],
  progress: (line: string) => void,
): Promise<ModelBundle> {
  const { params, embedding } = core;
  const dim = params.embeddingDim;
  const zDim = outlierDim(dim);
  const known = knownRows(embedding, dim);
  const sample = shuffledIndices(fitBatch.size, seededRandom(params.seed + 1)).subarray(0, Math.min(params.outlierFitRows, fitBatch.size));
  const pooled = poolBatch(fitBatch, embedding, dim, core.pooling, known, sample);
  const scaling = outlierScaling(pooled.headInput, pooled.knownRatio, sample.length, dim);
  const vectors = outlierVectors(pooled, sample.length, dim, scaling);

  const autoencoder = createAutoencoder(tf, zDim, params.seed + 100);
  autoencoder.compile({ optimizer: tf.train.adam(0.003), loss: 'meanSquaredError' });
  const x = tf.tensor2d(vectors, [sample.length, zDim]);
  const history = await autoencoder.fit(x, x, { epochs: params.autoencoderEpochs, batchSize: 256, shuffle: false, verbose: 0 });
  x.dispose();
  progress(`autoencoder: final reconstruction MSE ${Number(history.history.loss?.at(-1)).toFixed(4)}`);

  const forest = fitIsolationForest(vectors, zDim, { trees: params.forestTrees, sampleSize: params.forestSampleSize, seed: params.seed + 200 });
  const embeddingPart = new Float32Array(sample.length * dim);
  for (let r = 0; r < sample.length; r++) embeddingPart.set(vectors.subarray(r * zDim, r * zDim + dim), r * dim);
  const centroids = fitKMeans(embeddingPart, dim, params.centroids, params.seed + 300);

  const placeholder = { points: [0] };
  const outlier: OutlierModel = { ...scaling, forest, centroids, autoencoderEcdf: placeholder, forestEcdf: placeholder, combinedEcdf: placeholder, shiftEcdf: placeholder };
  const bundle: ModelBundle = {
    manifest: { format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, embeddingDim: dim, pooling: core.pooling, hidden: params.hidden, sentimentClasses: [...SENTIMENTS], categories: core.categories, blend: core.blend, createdAtMs: Date.now() },
    featurizer: core.featurizer,
    embedding,
    head: core.head,
    wide: core.wide,
    autoencoder,
    outlier,
  };
  const calibration = new ModelForward(tf, bundle).forward(valRows);
  outlier.autoencoderEcdf = fitEcdf(calibration.autoencoderError);
  outlier.forestEcdf = fitEcdf(calibration.forestScore);
  // The outlier score (text anomalies + both detectors) and the k-NN shift score, calibrated on the same rows.
  fitTextAnomalyAndShift(tf, bundle, fitRows, embeddingPart, valRows, { shiftSampleSize: params.shiftSampleSize, shiftNeighbours: params.shiftNeighbours, seed: params.seed + 400 });
  progress(`outlier: text-anomaly tables and a ${params.shiftSampleSize}-review k-NN shift index fitted, calibrated on ${valRows.length} validation reviews`);
  return bundle;
}

function outlierScaling(headInput: Float32Array, knownRatio: Float32Array, n: number, dim: number) {
  const width = dim + NUMERIC_COUNT;
  const mean = new Array<number>(dim).fill(0);
  const sq = new Array<number>(dim).fill(0);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < dim; d++) {
      const v = headInput[r * width + d]!;
      mean[d]! += v;
      sq[d]! += v * v;
    }
  }
  const std = (s: number, m: number) => Math.max(Math.sqrt(Math.max(s / n - m * m, 0)), 1e-4);
  let km = 0;
  let ks = 0;
  for (let r = 0; r < n; r++) {
    km += knownRatio[r]!;
    ks += knownRatio[r]! * knownRatio[r]!;
  }
  km /= n;
  return {
    embeddingMean: mean.map((m) => round7(m / n)),
    embeddingStd: sq.map((s, d) => round7(std(s, mean[d]! / n))),
    knownMean: round7(km),
    knownStd: round7(std(ks, km)),
  };
}
