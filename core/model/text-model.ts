/**
 * The model family, shared by the trainer and the runtime.
 *
 *  trunk:  hashed token ids -> embedding bag (sum of the ids' rows over sqrt(n) or n, see Pooling;
 *          computed in plain JS: a sparse gather is ~50x faster than tfjs' dense Embedding + masked
 *          pooling on wasm, and wasm has no gradient kernel for Gather) ++ scaled numeric features
 *  head:   tfjs layers model: dense(hidden, relu) -> sentiment softmax(3) and category softmax(C)
 *  outlier vector: standardised pooled embedding ++ scaled numeric features ++ known-token ratio,
 *          scored by a tfjs autoencoder (reconstruction error) and an isolation forest.
 * The embedding table is zero-initialised: rows of hashes never seen in training stay exactly zero,
 * which feeds the known-token ratio of the outlier vector (with hashing, collisions make it a soft signal).
 * The embedding table is the model's bulk; it is saved as a one-layer tfjs Embedding model.
 *
 *  wide:   a linear softmax regression over the same hashed ids as a sparse TF-IDF vector (sublinear
 *          tf, idf from the training rows, L2-normalised). The deep model overfits rare n-grams after a
 *          few epochs; the linear model does not, and its calibrated probabilities are blended with the
 *          deep ones (weight and per-class log offsets tuned on validation rows, saved in the manifest).
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { FeatureBatch, FeaturizerConfig } from '../features/featurizer.js';
import { NUMERIC_COUNT } from '../features/featurizer.js';
import type { KnnIndex } from './knn.js';
import type { Centroids, Ecdf, IsolationForest } from './outlier.js';
import type { TextAnomalyModel } from './text-anomaly.js';
import type { Tf } from './tf.js';

export const MODEL_FORMAT = 'driftline-model';
/**
 * 2: adds the wide (sparse TF-IDF linear) part and the sentiment blend; 3: adds the optional wide category part
 * (`categoryBlend`, category-wide.bin). Versions 2 and 3 are read, version 1 is refused.
 */
export const MODEL_FORMAT_VERSION = 3;
export const READABLE_MODEL_FORMAT_VERSIONS: readonly number[] = [2, 3];

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
  /** How the sentiment probabilities of the deep head and the wide part are combined. */
  blend: SentimentBlend;
  /**
   * Format 3, optional: the category head blended with the wide category part stored in `file` (category-wide.bin,
   * core/model/category-wide.ts). Its idf is the wide sentiment part's, so serving scores both from one TF-IDF row.
   */
  categoryBlend?: CategoryBlend;
  createdAtMs: number;
}

/** The wide category part's file in a version directory (and in accurate/ for the accurate tier). */
export const CATEGORY_WIDE_FILE = 'category-wide.bin';

/** The wide category part (core/model/category-wide.ts): a K-class softmax regression over the hashed TF-IDF rows. */
export interface CategoryWideModel {
  /** Inverse document frequency per bucket (0 = the bucket is ignored). */
  idf: Float32Array;
  /** buckets x classes, bucket-major. */
  kernel: Float32Array;
  bias: Float32Array;
}

/** How a category head is combined with the wide category part: softmax(w ln p_head + (1 - w) wide logits + logOffsets). */
export interface CategoryBlendWeights {
  headWeight: number;
  logOffsets: readonly number[];
}

export interface CategoryBlend extends CategoryBlendWeights {
  file: typeof CATEGORY_WIDE_FILE;
}

/**
 * p = normalise(((1 - wideWeight) p_deep + wideWeight p_wide) * exp(logOffsets)). Both models are
 * temperature-calibrated before they are averaged; the temperatures are folded into the sentiment layer
 * of the head and into the wide kernel at training time (softmax(z / T) = normalise(p^(1/T))), so
 * serving pays nothing for them. The offsets are a prior correction for macro-F1 (class imbalance makes
 * argmax under-predict the rare classes).
 */
export interface SentimentBlend {
  wideWeight: number;
  logOffsets: number[];
}

/** The wide part: per bucket idf (0 = bucket ignored) and a buckets x 3 linear layer. */
export interface WideModel {
  idf: Float32Array;
  /** buckets x 3, row-major. */
  kernel: Float32Array;
  bias: Float32Array;
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
  /**
   * Text-anomaly features and tail calibration (core/model/text-anomaly.ts). When present, the outlier
   * score is combinedEcdf(max tail score over the text features, autoencoder error and forest score);
   * model directories written before it keep max(autoencoder percentile, forest percentile).
   */
  textAnomaly?: TextAnomalyModel;
  /** k-NN shift index (core/model/knn.ts); without it (older directories) the shift score uses the centroids. */
  shiftKnn?: KnnIndex;
}

/** Everything one model version consists of, in memory. */
export interface ModelBundle {
  manifest: ModelManifest;
  featurizer: FeaturizerConfig;
  /** buckets x embeddingDim, row-major (zero-initialised: rows never trained stay exactly zero). */
  embedding: Float32Array;
  head: LayersModel;
  wide: WideModel;
  autoencoder: LayersModel;
  outlier: OutlierModel;
  /**
   * The sentence model (optional, `sentences/`): a wide part trained on single sentences that inherit their
   * review's label, for `options.sentences`; without it sentences go through the review model's heads.
   */
  sentences?: WideModel;
  /** The wide category part, present exactly when the manifest has a categoryBlend. */
  categoryWide?: CategoryWideModel;
}

/** The bundle with its category head alone: no wide category part and no categoryBlend (what the blend is tuned against). */
export function withoutCategoryBlend(bundle: ModelBundle): ModelBundle {
  const { categoryWide: _part, ...plain } = bundle;
  const { categoryBlend: _blend, ...manifest } = bundle.manifest;
  return { ...plain, manifest };
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
  const size = rows ? rows.length : batch.size;
  const pooled = createPooledBatch(size, dim);
  const table = { values: embedding, stride: dim };
  for (let o = 0; o < size; o++) poolRow(batch, rows ? rows[o]! : o, table, dim, pooling, known, pooled, o);
  return pooled;
}

export function createPooledBatch(size: number, dim: number): PooledBatch {
  return { headInput: new Float32Array(size * (dim + NUMERIC_COUNT)), knownRatio: new Float32Array(size) };
}

/**
 * Where the embedding rows are: bucket b's row is values[b * stride .. b * stride + dim). stride = dim for
 * the plain table; the runtime's serving table interleaves each row with the wide part's block (wide-scoring.ts).
 */
export interface EmbeddingTable {
  values: Float32Array;
  stride: number;
}

/** Row r of the batch pooled into row o of `out` (the one definition for poolBatch and the runtime's fused pass). */
export function poolRow(batch: FeatureBatch, r: number, table: EmbeddingTable, dim: number, pooling: Pooling, known: Uint8Array | null, out: PooledBatch, o: number): void {
  const width = dim + NUMERIC_COUNT;
  const { headInput, knownRatio } = out;
  const ids = batch.ids;
  const start = batch.offsets[r]!;
  const end = batch.offsets[r + 1]!;
  const at = o * width;
  const count = end - start;
  const inv = poolScale(count, pooling);
  if (dim === 16) sumRows16(ids, start, end, table.values, table.stride, headInput, at, inv);
  else sumRowsBlocked(ids, start, end, table.values, table.stride, dim, headInput, at, inv);
  let knownCount = 0;
  if (known !== null) for (let i = start; i < end; i++) knownCount += known[ids[i]!]!;
  for (let f = 0; f < NUMERIC_COUNT; f++) headInput[at + dim + f] = batch.numericScaled[r * NUMERIC_COUNT + f]!;
  knownRatio[o] = count === 0 ? 0 : knownCount / count;
}

/**
 * Sum of the embedding rows of ids[start..end) times `scale`, written to out[at..at+dim). Four
 * dimensions per pass in local (float64) accumulators: the row gathers are memory-bound, and locals
 * beat a dim-inner loop over a typed array ~2x. Requires dim % 4 === 0 (checked at build/load).
 */
function sumRowsBlocked(ids: Int32Array, start: number, end: number, embedding: Float32Array, stride: number, dim: number, out: Float32Array, at: number, scale: number): void {
  for (let d = 0; d < dim; d += 4) {
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let i = start; i < end; i++) {
      const base = ids[i]! * stride + d;
      a0 += embedding[base]!;
      a1 += embedding[base + 1]!;
      a2 += embedding[base + 2]!;
      a3 += embedding[base + 3]!;
    }
    out[at + d] = a0 * scale;
    out[at + d + 1] = a1 * scale;
    out[at + d + 2] = a2 * scale;
    out[at + d + 3] = a3 * scale;
  }
}

/** The same for the default width 16 in one pass (one row, 64 bytes, per id: ~30% faster again). */
function sumRows16(ids: Int32Array, start: number, end: number, e: Float32Array, stride: number, out: Float32Array, at: number, scale: number): void {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0; // prettier-ignore
  let a8 = 0, a9 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0, a14 = 0, a15 = 0; // prettier-ignore
  for (let i = start; i < end; i++) {
    const k = ids[i]! * stride;
    a0 += e[k]!;
    a1 += e[k + 1]!;
    a2 += e[k + 2]!;
    a3 += e[k + 3]!;
    a4 += e[k + 4]!;
    a5 += e[k + 5]!;
    a6 += e[k + 6]!;
    a7 += e[k + 7]!;
    a8 += e[k + 8]!;
    a9 += e[k + 9]!;
    a10 += e[k + 10]!;
    a11 += e[k + 11]!;
    a12 += e[k + 12]!;
    a13 += e[k + 13]!;
    a14 += e[k + 14]!;
    a15 += e[k + 15]!;
  }
  out[at] = a0 * scale;
  out[at + 1] = a1 * scale;
  out[at + 2] = a2 * scale;
  out[at + 3] = a3 * scale;
  out[at + 4] = a4 * scale;
  out[at + 5] = a5 * scale;
  out[at + 6] = a6 * scale;
  out[at + 7] = a7 * scale;
  out[at + 8] = a8 * scale;
  out[at + 9] = a9 * scale;
  out[at + 10] = a10 * scale;
  out[at + 11] = a11 * scale;
  out[at + 12] = a12 * scale;
  out[at + 13] = a13 * scale;
  out[at + 14] = a14 * scale;
  out[at + 15] = a15 * scale;
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
    for (let d = 0; d < dim; d++) out[dst + d] = clip((pooled.headInput[src + d]! - scaling.embeddingMean[d]!) / scaling.embeddingStd[d]!);
    for (let f = 0; f < NUMERIC_COUNT; f++) out[dst + dim + f] = pooled.headInput[src + dim + f]!;
    out[dst + width] = clip((pooled.knownRatio[r]! - scaling.knownMean) / scaling.knownStd);
  }
  return out;
}

function clip(x: number): number {
  return x > 10 ? 10 : x < -10 ? -10 : x;
}
