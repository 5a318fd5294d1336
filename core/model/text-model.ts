/**
 * The model family, shared by the trainer and the runtime.
 *
 *  trunk:  hashed token ids -> embedding bag (mean of the ids' rows, computed in plain JS: a sparse
 *          gather is ~50x faster than tfjs' dense Embedding + masked pooling on wasm, and wasm has no
 *          gradient kernel for Gather) ++ scaled numeric features
 *  head:   tfjs layers model: dense(hidden, relu) -> sentiment softmax(3) and category softmax(C)
 *  outlier vector: standardised pooled embedding ++ scaled numeric features ++ known-token ratio,
 *          scored by a tfjs autoencoder (reconstruction error) and an isolation forest.
 * The embedding table is zero-initialised: rows of hashes never seen in training stay exactly zero,
 * which is what makes gibberish and foreign-language text stand out (known-token ratio).
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { FeatureBatch, FeaturizerConfig } from '../features/featurizer.js';
import { NUMERIC_COUNT } from '../features/featurizer.js';
import type { Centroids, Ecdf, IsolationForest } from './outlier.js';
import type { Tf } from './tf.js';

export const MODEL_FORMAT = 'driftline-model';
export const MODEL_FORMAT_VERSION = 1;

/** How the bag of token embeddings is reduced: mean (sum / n) or sum / sqrt(n). */
export type Pooling = 'mean' | 'sqrt';

/** The factor the token-embedding sum of a text with `count` tokens is multiplied by. */
export function poolScale(count: number, pooling: Pooling): number {
  if (count <= 0) return 0;
  return pooling === 'sqrt' ? 1 / Math.sqrt(count) : 1 / count;
}

export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  embeddingDim: number;
  pooling: Pooling;
  hidden: number;
  sentimentClasses: string[];
  /** Category head classes (empty when the data had no categories). */
  categories: string[];
  createdAtMs: number;
}

export interface OutlierModel {
  /** Per-dimension mean/std of the pooled embedding (standardisation inside the outlier vector). */
  embeddingMean: number[];
  embeddingStd: number[];
  knownMean: number;
  knownStd: number;
  forest: IsolationForest;
  autoencoderEcdf: Ecdf;
  forestEcdf: Ecdf;
  /** Calibrates max(autoencoder percentile, forest percentile) into the final outlier score. */
  combinedEcdf: Ecdf;
  centroids: Centroids;
  shiftEcdf: Ecdf;
}

/** Everything one model version consists of, in memory. */
export interface ModelBundle {
  manifest: ModelManifest;
  featurizer: FeaturizerConfig;
  /** buckets x embeddingDim, row-major (zero-initialised: rows never trained stay exactly zero). */
  embedding: Float32Array;
  head: LayersModel;
  autoencoder: LayersModel;
  outlier: OutlierModel;
}

export function headInputDim(embeddingDim: number): number {
  return embeddingDim + NUMERIC_COUNT;
}

/** Outlier vector: embedding dims, numeric features, known-token ratio. */
export function outlierDim(embeddingDim: number): number {
  return embeddingDim + NUMERIC_COUNT + 1;
}

export function createHeadModel(tf: Tf, embeddingDim: number, hidden: number, categoryCount: number, seed: number): LayersModel {
  const input = tf.input({ shape: [headInputDim(embeddingDim)], name: 'features' });
  const trunk = tf.layers
    .dense({ units: hidden, activation: 'relu', name: 'trunk', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(input);
  const sentiment = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'sentiment', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(trunk);
  const category = tf.layers
    .dense({ units: Math.max(categoryCount, 1), activation: 'softmax', name: 'category', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) })
    .apply(trunk);
  return tf.model({ inputs: input, outputs: [sentiment, category] as ReturnType<typeof tf.input>[], name: 'text_head' });
}

export function createAutoencoder(tf: Tf, dims: number, seed: number): LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const model = tf.sequential({ name: 'outlier_autoencoder' });
  model.add(tf.layers.dense({ inputShape: [dims], units: 24, activation: 'relu', kernelInitializer: init(0) }));
  model.add(tf.layers.dense({ units: 6, activation: 'linear', kernelInitializer: init(1) }));
  model.add(tf.layers.dense({ units: 24, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.dense({ units: dims, activation: 'linear', kernelInitializer: init(3) }));
  return model;
}

/** Rows of the embedding table that were ever trained (zero-initialised, so: any non-zero entry). */
export function knownRows(embedding: Float32Array, dim: number): Uint8Array {
  const rows = embedding.length / dim;
  const known = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dim; d++) {
      if (embedding[r * dim + d] !== 0) {
        known[r] = 1;
        break;
      }
    }
  }
  return known;
}

export interface PooledBatch {
  /** size x headInputDim: mean embedding ++ scaled numeric features. */
  headInput: Float32Array;
  /** Per row: fraction of its token ids with a trained embedding row (0 when it has no tokens). */
  knownRatio: Float32Array;
}

/**
 * Embedding bag (sum over the row's ids, scaled by poolScale) concatenated with the scaled numeric features.
 * `rows` selects (and orders) rows of the batch; the trainer uses it for mini-batches.
 */
export function poolBatch(batch: FeatureBatch, embedding: Float32Array, dim: number, pooling: Pooling, known: Uint8Array | null, rows?: ArrayLike<number>): PooledBatch {
  const width = dim + NUMERIC_COUNT;
  const size = rows ? rows.length : batch.size;
  const headInput = new Float32Array(size * width);
  const knownRatio = new Float32Array(size);
  const ids = batch.ids;
  for (let o = 0; o < size; o++) {
    const r = rows ? rows[o] : o;
    const start = batch.offsets[r];
    const end = batch.offsets[r + 1];
    const out = o * width;
    const count = end - start;
    const inv = poolScale(count, pooling);
    // Four dimensions at a time in local (float64) accumulators: ~2x faster than a dim-inner loop,
    // as the row gathers are memory-bound. Requires dim % 4 === 0 (checked when a model is built/loaded).
    for (let d = 0; d < dim; d += 4) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = start; i < end; i++) {
        const base = ids[i] * dim + d;
        a0 += embedding[base];
        a1 += embedding[base + 1];
        a2 += embedding[base + 2];
        a3 += embedding[base + 3];
      }
      headInput[out + d] = a0 * inv;
      headInput[out + d + 1] = a1 * inv;
      headInput[out + d + 2] = a2 * inv;
      headInput[out + d + 3] = a3 * inv;
    }
    let knownCount = 0;
    if (known !== null) for (let i = start; i < end; i++) knownCount += known[ids[i]];
    for (let f = 0; f < NUMERIC_COUNT; f++) headInput[out + dim + f] = batch.numericScaled[r * NUMERIC_COUNT + f];
    knownRatio[o] = count === 0 ? 0 : knownCount / count;
  }
  return { headInput, knownRatio };
}

export interface OutlierScaling {
  embeddingMean: number[];
  embeddingStd: number[];
  knownMean: number;
  knownStd: number;
}

/** size x outlierDim vectors: standardised embedding ++ scaled numeric ++ standardised known ratio. */
export function outlierVectors(pooled: PooledBatch, size: number, dim: number, scaling: OutlierScaling): Float32Array {
  const width = dim + NUMERIC_COUNT;
  const outWidth = width + 1;
  const out = new Float32Array(size * outWidth);
  for (let r = 0; r < size; r++) {
    const src = r * width;
    const dst = r * outWidth;
    for (let d = 0; d < dim; d++) out[dst + d] = clip((pooled.headInput[src + d] - scaling.embeddingMean[d]) / scaling.embeddingStd[d]);
    for (let f = 0; f < NUMERIC_COUNT; f++) out[dst + dim + f] = pooled.headInput[src + dim + f];
    out[dst + width] = clip((pooled.knownRatio[r] - scaling.knownMean) / scaling.knownStd);
  }
  return out;
}

function clip(x: number): number {
  return x > 10 ? 10 : x < -10 ? -10 : x;
}
