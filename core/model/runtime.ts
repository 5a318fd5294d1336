/**
 * The model runtime: one loaded model version that scores batches of reviews.
 *
 * score(): featurizeBatch (core/features) -> embedding bag in JS -> one tfjs predict of the heads
 * -> wide part (sparse TF-IDF dot product in JS) blended into the sentiment probabilities -> outlier vector -> one tfjs predict of the autoencoder + isolation forest + nearest centroid
 * -> calibration into training percentiles. One predict call per model per batch (batchSize passed,
 * see runtime-facts.md), all tensors inside tf.tidy, no per-row tensors.
 * The trainer uses the same `forward` for evaluation and calibration: there is no second code path.
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { SENTIMENTS, type Sentiment } from '../../schemas/types.js';
import { DriftlineError, toDriftlineError } from '../errors.js';
import { type FeatureBatch, featureMap, featurizeBatch } from '../features/featurizer.js';
import { readModelBundle } from './artifacts.js';
import { modelSettings } from './config.js';
import { type CompiledKnn, compileKnn, knnDistance } from './knn.js';
import { type CompiledForest, compileForest, ecdfPercentile, isolationScores, nearestCentroidDistance } from './outlier.js';
import { SIGNAL_COUNT, type TextAnomalyScratch, TEXT_FEATURES, createTextAnomalyScratch, largestTailScore, textFeatures } from './text-anomaly.js';
import { type DenseRunner, compileDenseModel } from './dense-exec.js';
import { type ModelBundle, type PooledBatch, createPooledBatch, knownRows, outlierDim, outlierVectors, poolRow } from './text-model.js';
import { type PackedCategoryPart, type WideScratch, blendSentiment, collectWideRow, createServingScratch, createWideScratch, packWide, wideProbabilities, wideRowProbabilities } from './wide-scoring.js';
import { type CategoryBlendWeights, type CategoryWideModel, blendCategoryRow, collectedRowCategoryLogits, quantizedCategorySteps } from './category-wide.js';
import { type Tf, loadTf } from './tf.js';
import type { ModelRuntime, Prediction, ScoreOptions, SentenceSentiment } from './types.js';
import type { ReviewInput } from '../review.js';

export interface RuntimeOptions {
  outlierPercentile?: number;
  disagreementProbability?: number;
  maxSentences?: number;
}

/** Raw, uncalibrated outputs of one batch (what the trainer calibrates on). */
export interface ForwardResult {
  batch: FeatureBatch;
  /** size x 3 (negative, neutral, positive). */
  sentiment: Float32Array;
  /** size x categoryCount. */
  category: Float32Array;
  /** size x outlierDim. */
  vectors: Float32Array;
  autoencoderError: Float64Array;
  forestScore: Float64Array;
  shiftDistance: Float64Array;
  /**
   * size x SIGNAL_COUNT raw outlier signals (text features, autoencoder error, forest score) when the
   * model has text-anomaly tables; null for older model directories.
   */
  signals: Float64Array | null;
}

/** One array per model output, in output order (a layers model has at least one output: checked, so callers can destructure the first). */
export function predictRows(tf: Tf, model: LayersModel, input: Float32Array, rows: number, width: number): [Float32Array, ...Float32Array[]] {
  const [first, ...rest] = predictOutputs(tf, model, input, rows, width);
  if (!first) throw new DriftlineError('MODEL_SCORING_FAILED', `${model.name} has no outputs`);
  return [first, ...rest];
}

/** One predict call, every output read back synchronously inside a tidy scope. */
function predictOutputs(tf: Tf, model: LayersModel, input: Float32Array, rows: number, width: number): Float32Array[] {
  if (rows === 0) return model.outputs.map(() => new Float32Array(0));
  // Tensors out of tidy, typed arrays after: tidy walks whatever it returns, element by element.
  const outputs = tf.tidy(() => {
    const out = model.predict(tf.tensor2d(input, [rows, width]), { batchSize: rows }) as Tensor | Tensor[];
    return Array.isArray(out) ? out : [out];
  });
  try {
    return outputs.map((t) => t.dataSync() as Float32Array);
  } finally {
    outputs.forEach((t) => t.dispose());
  }
}

/** The forward pass shared by the runtime, the trainer's evaluation and its calibration. */
export class ModelForward {
  readonly dim: number;
  readonly zDim: number;
  private readonly known: Uint8Array;
  private readonly forest: CompiledForest;
  /** Sentiment probabilities and category probabilities. */
  private readonly runHead: DenseRunner<[Float32Array, Float32Array]>;
  /** The reconstruction of the outlier vectors. */
  private readonly runAutoencoder: DenseRunner<[Float32Array]>;
  /** The wide part's blocks with the embedding rows in front (createServingScratch): pooling and wide share one gather. */
  private readonly wideScratch: WideScratch;
  /** Its own scratch: a scratch holds one wide model's packed weights. */
  private readonly sentenceScratch: WideScratch | null;
  private readonly knn: CompiledKnn | null;
  private readonly textScratch: TextAnomalyScratch;
  /** The wide category part and its blend with the category head (format 3), or null. */
  private readonly categoryWide: { model: CategoryWideModel; blend: CategoryBlendWeights } | null;

  constructor(
    readonly tf: Tf,
    readonly bundle: ModelBundle,
  ) {
    this.dim = bundle.manifest.embeddingDim;
    this.zDim = outlierDim(this.dim);
    this.known = knownRows(bundle.embedding, this.dim);
    this.forest = compileForest(bundle.outlier.forest);
    this.runHead = compileDenseModel(tf, bundle.head, 2);
    this.runAutoencoder = compileDenseModel(tf, bundle.autoencoder, 1);
    this.categoryWide = streamCategoryWide(bundle);
    this.wideScratch = createServingScratch(bundle.featurizer.buckets, bundle.embedding, this.dim, packedCategoryPart(this.categoryWide?.model, bundle.manifest.categories.length));
    packWide(this.wideScratch, bundle.wide);
    this.sentenceScratch = bundle.sentences ? createWideScratch(bundle.featurizer.buckets) : null;
    this.knn = bundle.outlier.shiftKnn ? compileKnn(bundle.outlier.shiftKnn) : null;
    if (this.knn && this.knn.dims !== this.dim) throw new DriftlineError('MODEL_LOAD_FAILED', `k-NN shift index has width ${this.knn.dims}, the embedding ${this.dim}`);
    this.textScratch = createTextAnomalyScratch();
  }

  /** Featurize + sentiment (deep head blended with the wide part) and category heads only (sentence scoring, training-time evaluation). */
  heads(reviews: readonly ReviewInput[]): { batch: FeatureBatch; sentiment: Float32Array; category: Float32Array; pooled: PooledBatch } {
    const batch = featurizeBatch(reviews, this.bundle.featurizer);
    const n = batch.size;
    const { blend, pooling } = this.bundle.manifest;
    // A blend without the wide part (weight 0) needs no wide probabilities: blendSentiment ignores them.
    const wide = blend.wideWeight > 0 ? new Float32Array(n * 3) : null;
    const pooled = createPooledBatch(n, this.dim);
    packWide(this.wideScratch, this.bundle.wide);
    const table = { values: this.wideScratch.floats, stride: this.wideScratch.stride };
    const categoryWide = this.categoryWide;
    const k = this.bundle.manifest.categories.length;
    const wideCategory = categoryWide ? new Float64Array(n * k) : null;
    // One pass per row: the wide parts read the blocks the embedding gather has just brought into the cache, and
    // the category part reuses the TF-IDF row the sentiment part collected (same idf, checked at load).
    for (let r = 0; r < n; r++) {
      poolRow(batch, r, table, this.dim, pooling, this.known, pooled, r);
      if (wide) wideRowProbabilities(batch, r, this.bundle.wide, this.wideScratch, wide, r * 3);
      else if (wideCategory) collectWideRow(batch, r, this.wideScratch);
      if (wideCategory) collectedRowCategoryLogits(this.wideScratch, categoryWide!.model, wideCategory, r * k);
    }
    const width = pooled.headInput.length / Math.max(n, 1);
    const [sentiment, category] = this.runHead(pooled.headInput, n, width);
    blendSentiment(sentiment, wide ?? sentiment, blend);
    if (wideCategory) for (let r = 0; r < n; r++) blendCategoryRow(category, r * k, wideCategory, r * k, k, categoryWide!.blend);
    return { batch, sentiment, category, pooled };
  }

  /** Sentiment of single sentences: the sentence model when the version has one, else the review model's heads. */
  sentenceSentiment(sentences: readonly ReviewInput[]): Float32Array {
    if (!this.bundle.sentences || !this.sentenceScratch) return this.heads(sentences).sentiment;
    return wideProbabilities(featurizeBatch(sentences, this.bundle.featurizer), this.bundle.sentences, this.sentenceScratch);
  }

  forward(reviews: readonly ReviewInput[]): ForwardResult {
    const { batch, sentiment, category, pooled } = this.heads(reviews);
    const n = batch.size;
    const vectors = outlierVectors(pooled, n, this.dim, this.bundle.outlier);
    const [reconstruction] = this.runAutoencoder(vectors, n, this.zDim);
    const autoencoderError = new Float64Array(n);
    const forestScore = new Float64Array(n);
    const shiftDistance = new Float64Array(n);
    const { centroids, textAnomaly } = this.bundle.outlier;
    isolationScores(this.forest, vectors, n, this.zDim, forestScore);
    const shift = this.shiftVectors(vectors);
    const signals = textAnomaly ? new Float64Array(n * SIGNAL_COUNT) : null;
    for (let r = 0; r < n; r++) {
      let sq = 0;
      for (let d = 0; d < this.zDim; d++) {
        const diff = vectors[r * this.zDim + d]! - reconstruction[r * this.zDim + d]!;
        sq += diff * diff;
      }
      autoencoderError[r] = sq / this.zDim;
      shiftDistance[r] = this.knn ? knnDistance(this.knn, shift.vectors, r * shift.stride) : nearestCentroidDistance(centroids, shift.vectors, r * shift.stride);
      if (signals && textAnomaly) {
        const at = r * SIGNAL_COUNT;
        textFeatures(textAnomaly, reviews[r]!.text ?? '', this.textScratch, signals, at);
        signals[at + TEXT_FEATURES.length] = autoencoderError[r]!;
        signals[at + TEXT_FEATURES.length + 1] = forestScore[r]!;
      }
    }
    return { batch, sentiment, category, vectors, autoencoderError, forestScore, shiftDistance, signals };
  }

  /**
   * The representation the shift score measures distances in: the standardised pooled embedding (the
   * first `dim` entries of each outlier vector). The one place to change when another representation
   * (e.g. a distilled student's sentence vectors) is to be used; the trainer fits the k-NN sample from it.
   */
  shiftVectors(outlierVectors: Float32Array): { vectors: Float32Array; stride: number } {
    return { vectors: outlierVectors, stride: this.zDim };
  }
}

/**
 * The outlier score of row r, a percentile of held-out real reviews. With text-anomaly tables: the largest
 * tail score over the text features and the embedding detectors, calibrated by combinedEcdf; without
 * (older model directories): max(autoencoder percentile, forest percentile), re-calibrated.
 */
export function outlierScore(bundle: ModelBundle, out: ForwardResult, r: number): number {
  const o = bundle.outlier;
  if (o.textAnomaly && out.signals) return ecdfPercentile(o.combinedEcdf, largestTailScore(o.textAnomaly, out.signals, r * SIGNAL_COUNT));
  const combined = Math.max(ecdfPercentile(o.autoencoderEcdf, out.autoencoderError[r]!), ecdfPercentile(o.forestEcdf, out.forestScore[r]!));
  return ecdfPercentile(o.combinedEcdf, combined);
}

function probabilities(values: Float32Array, row: number): Record<Sentiment, number> {
  return { negative: values[row * 3]!, neutral: values[row * 3 + 1]!, positive: values[row * 3 + 2]! };
}

/** values[at..at+length) as a plain array (Array.from of a subarray makes a view and walks an iterator per review). */
function rowArray(values: Float32Array, at: number, length: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(values[at + i]!);
  return out;
}

function argmax(values: Float32Array, start: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (values[start + i]! > values[start + best]!) best = i;
  return best;
}

const SENTENCE_SPLIT = /(?<=[.!?])\s+|\n+/;

export function splitSentences(text: string, max: number): string[] {
  return text
    .split(SENTENCE_SPLIT)
    .map((s) => s.trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s))
    .slice(0, max);
}

const SMOKE_BATCH: ReviewInput[] = [
  { review_id: 'check-1', text: 'Great product, works perfectly. Would buy again!', title: 'Love it', rating: 5, helpful_votes: 2, verified: true },
  { review_id: 'check-2', text: 'Terrible. It broke after two days and support never answered.', title: 'Do not buy', rating: 1, helpful_votes: null, verified: null },
  { review_id: 'check-3', text: 'x' },
];

class TfModelRuntime implements ModelRuntime {
  private readonly engine: ModelForward;
  private readonly percentile: number;
  private readonly disagreement: number;
  private readonly maxSentences: number;
  private readonly categoryCount: number;
  private disposed = false;

  constructor(
    tf: Tf,
    readonly backend: string,
    private readonly bundle: ModelBundle,
    readonly name: string,
    readonly version: number,
    options: RuntimeOptions,
  ) {
    const settings = modelSettings.load();
    this.engine = new ModelForward(tf, bundle);
    this.percentile = options.outlierPercentile ?? settings.outlierPercentile;
    this.disagreement = options.disagreementProbability ?? settings.disagreementProbability;
    this.maxSentences = options.maxSentences ?? settings.maxSentences;
    this.categoryCount = Math.max(bundle.manifest.categories.length, 1);
  }

  async score(reviews: readonly ReviewInput[], options: ScoreOptions = {}): Promise<Prediction[]> {
    if (this.disposed) throw new DriftlineError('MODEL_SCORING_FAILED', `model ${this.name} v${this.version} is disposed`);
    try {
      const out = this.engine.forward(reviews);
      const predictions = reviews.map((review, r) => this.prediction(review, r, out));
      if (options.categoryProbabilities) predictions.forEach((p, r) => (p.categoryProbabilities = rowArray(out.category, r * this.categoryCount, this.categoryCount)));
      if (options.sentences) this.addSentences(reviews, predictions);
      return predictions;
    } catch (err) {
      if (err instanceof DriftlineError && err.code === 'MODEL_SCORING_FAILED') throw err;
      throw new DriftlineError('MODEL_SCORING_FAILED', `scoring failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private prediction(review: ReviewInput, r: number, out: ForwardResult): Prediction {
    const probs = probabilities(out.sentiment, r);
    const best = argmax(out.sentiment, r * 3, 3);
    const categories = this.bundle.manifest.categories;
    const categoryIndex = argmax(out.category, r * this.categoryCount, this.categoryCount);
    const score = outlierScore(this.bundle, out, r);
    return {
      review_id: review.review_id,
      sentiment: SENTIMENTS[best]!,
      probabilities: probs,
      confidence: out.sentiment[r * 3 + best]!,
      category: categories.length > 0 ? categories[categoryIndex]! : null,
      categoryConfidence: categories.length > 0 ? out.category[r * this.categoryCount + categoryIndex]! : null,
      outlierScore: score,
      outlierFlag: score > this.percentile,
      shiftScore: ecdfPercentile(this.bundle.outlier.shiftEcdf, out.shiftDistance[r]!),
      ratingTextDisagreement: this.disagrees(review.rating, probs),
      features: featureMap(out.batch, r),
      embedding: rowArray(out.vectors, r * this.engine.zDim, this.engine.dim),
    };
  }

  private disagrees(rating: number | null | undefined, probs: Record<Sentiment, number>): boolean {
    if (rating === null || rating === undefined) return false;
    return (rating >= 4 && probs.negative >= this.disagreement) || (rating <= 2 && probs.positive >= this.disagreement);
  }

  /** All sentences of the batch go through the heads in one call. */
  private addSentences(reviews: readonly ReviewInput[], predictions: Prediction[]): void {
    const flat: ReviewInput[] = [];
    const owner: number[] = [];
    reviews.forEach((review, i) => {
      for (const text of splitSentences(review.text ?? '', this.maxSentences)) {
        flat.push({ review_id: `${review.review_id}#${flat.length}`, text });
        owner.push(i);
      }
    });
    predictions.forEach((p) => (p.sentences = []));
    if (flat.length === 0) return;
    const sentiment = this.engine.sentenceSentiment(flat);
    flat.forEach((s, j) => {
      const item: SentenceSentiment = { text: s.text, sentiment: SENTIMENTS[argmax(sentiment, j * 3, 3)]!, probabilities: probabilities(sentiment, j) };
      predictions[owner[j]!]!.sentences!.push(item);
    });
  }

  async check(): Promise<void> {
    const fail = (why: string): never => {
      throw new DriftlineError('MODEL_CHECK_FAILED', `model ${this.name} v${this.version} failed its smoke check: ${why}`);
    };
    const [sentimentShape, categoryShape] = this.bundle.head.outputs.map((o) => o.shape);
    if (sentimentShape?.[1] !== 3) fail(`sentiment head has shape ${JSON.stringify(sentimentShape)}, expected [null, 3]`);
    if (categoryShape?.[1] !== this.categoryCount) fail(`category head has shape ${JSON.stringify(categoryShape)}, expected [null, ${this.categoryCount}]`);
    const aeShape = this.bundle.autoencoder.outputs[0]?.shape;
    if (aeShape?.[1] !== this.engine.zDim) fail(`autoencoder has shape ${JSON.stringify(aeShape)}, expected [null, ${this.engine.zDim}]`);
    let predictions: Prediction[];
    try {
      predictions = await this.score(SMOKE_BATCH, { sentences: true });
    } catch (err) {
      throw new DriftlineError('MODEL_CHECK_FAILED', `smoke batch did not score: ${toDriftlineError(err).message}`, { cause: err });
    }
    if (predictions.length !== SMOKE_BATCH.length) fail(`${predictions.length} predictions for ${SMOKE_BATCH.length} reviews`);
    for (const p of predictions) {
      const probs = Object.values(p.probabilities);
      if (!probs.every(Number.isFinite)) fail(`non-finite sentiment probabilities for ${p.review_id}`);
      if (Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-3) fail(`probabilities of ${p.review_id} do not sum to 1`);
      if (!(p.outlierScore >= 0 && p.outlierScore <= 1) || !(p.shiftScore >= 0 && p.shiftScore <= 1)) fail(`outlier/shift score out of [0, 1] for ${p.review_id}`);
      if (p.categoryConfidence !== null && !Number.isFinite(p.categoryConfidence)) fail(`non-finite category confidence for ${p.review_id}`);
      if (!Object.values(p.features).every(Number.isFinite)) fail(`non-finite features for ${p.review_id}`);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.bundle.head.dispose();
    this.bundle.autoencoder.dispose();
  }
}

/** The part as the serving scratch packs it into its blocks: only a quantized kernel (older parts are read from their own table). */
function packedCategoryPart(model: CategoryWideModel | undefined, classes: number): PackedCategoryPart | undefined {
  const steps = model ? quantizedCategorySteps(model.kernel, classes) : null;
  return model && steps ? { kernel: model.kernel, classes, steps } : undefined;
}

/** The bundle's wide category part with its blend; refuses a part without a blend (or the reverse) or with another idf. */
function streamCategoryWide(bundle: ModelBundle): { model: CategoryWideModel; blend: CategoryBlendWeights } | null {
  const { categoryBlend } = bundle.manifest;
  const model = bundle.categoryWide;
  if (!categoryBlend && !model) return null;
  if (!categoryBlend || !model) throw new DriftlineError('MODEL_LOAD_FAILED', `the manifest ${categoryBlend ? 'names a wide category part the bundle lacks' : 'has no categoryBlend for the bundle\'s wide category part'}`);
  const { idf } = bundle.wide;
  if (model.idf.length !== idf.length || model.idf.some((x, i) => x !== idf[i])) {
    throw new DriftlineError('MODEL_LOAD_FAILED', 'the wide category part\'s idf differs from the wide sentiment part\'s: the stream tier scores both from one TF-IDF row');
  }
  return { model, blend: categoryBlend };
}

/** A runtime over an in-memory bundle (the trainer's freshly trained model, or one read from disk). */
export function createModelRuntime(tf: Tf, backend: string, bundle: ModelBundle, meta: { name: string; version: number }, options: RuntimeOptions = {}): ModelRuntime {
  return new TfModelRuntime(tf, backend, bundle, meta.name, meta.version, options);
}

/** Reads a version directory (see core/model/artifacts.ts); throws MODEL_LOAD_FAILED. Call check() before serving. */
export async function loadModelRuntime(versionDir: string, meta: { name: string; version: number }, options: RuntimeOptions = {}): Promise<ModelRuntime> {
  const { tf, backend } = await loadTf();
  const bundle = await readModelBundle(tf, versionDir);
  try {
    return createModelRuntime(tf, backend, bundle, meta, options);
  } catch (err) {
    bundle.head.dispose();
    bundle.autoencoder.dispose();
    throw err instanceof DriftlineError ? err : new DriftlineError('MODEL_LOAD_FAILED', `${versionDir}: ${(err as Error).message}`, { cause: err });
  }
}
