/**
 * The accurate tier: the stream model (any ModelRuntime, e.g. the worker pool) plus the pretrained sentence
 * encoder (onnxruntime, its own thread pool off the event loop) and a linear sentiment head over its vectors;
 * the two sentiment distributions are blended with the weight tuned on validation rows at training time.
 * The head file may also carry a category head over the same vectors (format 2): then the category and its
 * confidence are the head's. Everything else (outlier, shift, features) comes from the stream model unchanged.
 * Per-class log offsets (tuned on the same validation rows for macro-F1) are then applied to the blend: the balanced
 * head and the stream model both under-predict the ambiguous neutral class.
 * The head lives in the version directory as `accurate/head.json`; a version without it cannot serve this tier.
 * Format 2 carries the offsets; format 1 (written before them) is still read, as zero offsets. Format 3 lets the category
 * head name a wide part (core/model/category-wide.ts, `accurate/category-wide.bin`) whose logits are blended with the
 * head's; a build that reads only formats 1-2 refuses such a head instead of serving other categories than measured.
 * Format 5 lets the sentiment head be a star-rating head (`labels: 'stars'`): five classes, 1 to 5 stars, whose
 * probabilities are folded into the three sentiments (1-2 negative, 3 neutral, 4-5 positive) before the blend. Trained
 * on the ratings themselves, it learns what separates 2 from 3 and 3 from 4 stars instead of three coarse classes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SENTIMENTS, type Sentiment } from '../../schemas/types.js';
import { DriftlineError } from '../errors.js';
import { type FeatureBatch, type FeaturizerConfig, featurizeBatch, parseFeaturizerConfig } from '../features/featurizer.js';
import { CATEGORY_WIDE_FILE, type CategoryWideModel, categoryWideLogits, readCategoryWide } from './category-wide.js';
import { MANIFEST_FILE } from './artifacts.js';
import { modelSettings } from './config.js';
import { type WideScratch, createWideScratch } from './wide-scoring.js';
import { offsetRow } from './log-offsets.js';
import { ENCODER_DIM, SentenceEncoder, encoderFiles, encoderInput } from './sentence-encoder.js';
import type { RuntimeLoader } from './types.js';
import type { ModelRuntime, Prediction, ScoreOptions } from './types.js';
import type { ReviewInput } from '../review.js';

export const ACCURATE_HEAD_FILE = join('accurate', 'head.json');
export const ACCURATE_HEAD_FORMAT = 5;
/**
 * Formats this build reads: 1 (no log offsets, read as zeros), 2, 3 (2 + the category head's optional wide part),
 * 4 (+ the stream distribution as that partner) and 5 (+ the star-rating sentiment head).
 */
const READABLE_FORMATS: readonly number[] = [1, 2, 3, 4, 5];
/** What the sentiment head's rows are: the three sentiments, or the five star ratings folded into them (format 5). */
export type AccurateHeadLabels = 'sentiment' | 'stars';
/** Rows of the sentiment head's weights (and its bias length) for each kind of labels. */
export const HEAD_LABEL_COUNT: Readonly<Record<AccurateHeadLabels, number>> = { sentiment: 3, stars: 5 };

export interface AccurateHead {
  format: number;
  encoder: { name: string; dim: number };
  /** Optional (format 5): 'stars' makes the rows below the five star ratings; absent = 'sentiment'. */
  labels?: AccurateHeadLabels;
  /** rows x dim, row-major: 3 rows in SENTIMENTS order, or (labels 'stars') 5 rows for 1 to 5 stars. */
  weights: number[];
  bias: number[];
  /** Weight of the encoder head's probabilities; the stream model's get 1 - blendWeight. */
  blendWeight: number;
  /** Added to the log of the blended probabilities (SENTIMENTS order), then re-normalised; zeros = none. */
  logOffsets: number[];
  /** Optional: a linear category head over the same vectors; without it the stream model's category is kept. */
  category?: AccurateCategoryHead;
}

export interface AccurateCategoryHead {
  classes: string[];
  /** classes.length x dim, row-major. */
  weights: number[];
  bias: number[];
  /**
   * Optional per-class log offsets (added to the logits, i.e. p_c * e^offset_c re-normalised), tuned on validation
   * rows for macro-F1: a balanced head still over-predicts the classes that share a topic with a larger one.
   */
  logOffsets?: number[];
  /**
   * Optional (format 3): the wide category part in `accurate/<file>`; the served logits are
   * teacherWeight x the head's + (1 - teacherWeight) x the wide part's (+ logOffsets), i.e. the two distributions
   * multiplied with those powers and re-normalised (a geometric blend, tuned on validation rows).
   */
  wide?: { file: string; teacherWeight: number };
  /**
   * Optional (format 4), instead of `wide`: the stream model's whole category distribution (its head blended with its
   * own wide category part) is the partner, as ln p_stream: teacherWeight x the head's logits + (1 - teacherWeight) x
   * ln p_stream (+ logOffsets).
   */
  stream?: { teacherWeight: number };
}

function parseCategoryHead(c: Partial<AccurateCategoryHead>, bad: (why: string) => DriftlineError): AccurateCategoryHead {
  const k = Array.isArray(c.classes) ? c.classes.length : 0;
  if (!Array.isArray(c.classes) || k < 2 || !c.classes.every((x) => typeof x === 'string' && x.length > 0) || new Set(c.classes).size !== k) {
    throw bad('category.classes must be at least 2 distinct non-empty names');
  }
  if (!Array.isArray(c.weights) || c.weights.length !== k * ENCODER_DIM || !c.weights.every(Number.isFinite)) throw bad('category.weights must be classes x dim finite numbers');
  if (!Array.isArray(c.bias) || c.bias.length !== k || !c.bias.every(Number.isFinite)) throw bad('category.bias must be one finite number per class');
  if (c.logOffsets !== undefined && (!Array.isArray(c.logOffsets) || c.logOffsets.length !== k || !c.logOffsets.every(Number.isFinite))) {
    throw bad('category.logOffsets must be one finite number per class');
  }
  if (c.wide !== undefined) {
    // Only the one file name: a head must not point the loader at any other path.
    if (!c.wide || typeof c.wide !== 'object' || c.wide.file !== CATEGORY_WIDE_FILE) throw bad(`category.wide.file must be '${CATEGORY_WIDE_FILE}'`);
    if (typeof c.wide.teacherWeight !== 'number' || !(c.wide.teacherWeight >= 0 && c.wide.teacherWeight <= 1)) throw bad('category.wide.teacherWeight must be in [0, 1]');
  }
  if (c.stream !== undefined) {
    if (c.wide !== undefined) throw bad('category has both wide and stream: one blend partner at most');
    if (!c.stream || typeof c.stream !== 'object' || typeof c.stream.teacherWeight !== 'number' || !(c.stream.teacherWeight >= 0 && c.stream.teacherWeight <= 1)) {
      throw bad('category.stream.teacherWeight must be in [0, 1]');
    }
  }
  return c as AccurateCategoryHead;
}

export function parseAccurateHead(value: unknown, where: string): AccurateHead {
  const h = value as Partial<AccurateHead> | null;
  const bad = (why: string) => new DriftlineError('MODEL_LOAD_FAILED', `${where}: ${why}`);
  if (!h || typeof h !== 'object') throw bad('not a JSON object');
  if (typeof h.format !== 'number' || !READABLE_FORMATS.includes(h.format)) throw bad(`format ${String(h.format)}, this build reads formats ${READABLE_FORMATS.join(' and ')}`);
  if (h.encoder?.dim !== ENCODER_DIM) throw bad(`encoder dim ${String(h.encoder?.dim)}, expected ${ENCODER_DIM}`);
  if (h.labels !== undefined && !Object.hasOwn(HEAD_LABEL_COUNT, h.labels)) throw bad(`labels '${String(h.labels)}', expected one of ${Object.keys(HEAD_LABEL_COUNT).join(', ')}`);
  if (h.labels !== undefined && h.format < 5) throw bad(`labels needs format 5, the head says ${h.format}`);
  const rows = HEAD_LABEL_COUNT[h.labels ?? 'sentiment'];
  if (!Array.isArray(h.weights) || h.weights.length !== rows * ENCODER_DIM || !h.weights.every(Number.isFinite)) throw bad(`weights must be ${rows} x dim finite numbers`);
  if (!Array.isArray(h.bias) || h.bias.length !== rows || !h.bias.every(Number.isFinite)) throw bad(`bias must be ${rows} finite numbers`);
  if (typeof h.blendWeight !== 'number' || !(h.blendWeight >= 0 && h.blendWeight <= 1)) throw bad('blendWeight must be in [0, 1]');
  if (h.format === 1) return { ...(h as AccurateHead), logOffsets: [0, 0, 0] };
  if (!Array.isArray(h.logOffsets) || h.logOffsets.length !== 3 || !h.logOffsets.every(Number.isFinite)) throw bad('logOffsets must be 3 finite numbers (format 2)');
  if (h.category !== undefined) {
    if (!h.category || typeof h.category !== 'object') throw bad('category must be an object');
    parseCategoryHead(h.category, bad);
    if (h.category.wide !== undefined && h.format < 3) throw bad(`category.wide needs format 3, the head says ${h.format}`);
    if (h.category.stream !== undefined && h.format < 4) throw bad(`category.stream needs format 4, the head says ${h.format}`);
  }
  return h as AccurateHead;
}

export async function readAccurateHead(versionDir: string): Promise<AccurateHead> {
  const path = join(versionDir, ACCURATE_HEAD_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path}: this model version has no accurate tier (train it with --teacher)`, { cause: err });
  }
  try {
    return parseAccurateHead(JSON.parse(text), path);
  } catch (err) {
    if (err instanceof DriftlineError) throw err;
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path}: not JSON`, { cause: err });
  }
}

/**
 * The encoder head's sentiment probabilities (SENTIMENTS order) for one L2-normalised vector; a star-rating head's
 * five are folded: negative = P(1) + P(2), neutral = P(3), positive = P(4) + P(5).
 */
export function headProbabilities(head: AccurateHead, vectors: Float32Array, row: number): number[] {
  const z = head.bias.map((bias, c) => {
    let s = bias;
    for (let d = 0; d < ENCODER_DIM; d++) s += head.weights[c * ENCODER_DIM + d]! * vectors[row * ENCODER_DIM + d]!;
    return s;
  });
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / sum);
  return head.labels === 'stars' ? foldStars(p) : p;
}

/** Star-rating probabilities (1 to 5 stars) as sentiment probabilities: 1-2 negative, 3 neutral, 4-5 positive. */
export function foldStars(p: ArrayLike<number>, at = 0): number[] {
  return [p[at]! + p[at + 1]!, p[at + 2]!, p[at + 3]! + p[at + 4]!];
}

/**
 * The accurate tier's sentiment for one review: w * head + (1 - w) * stream, then the head file's log offsets.
 * With weight 0 and zero offsets it is the stream model's prediction, bit for bit. The trainer measures and tunes
 * through this same function (trainer/teacher/attach-accurate.ts).
 */
export function blendPrediction(head: AccurateHead, p: Prediction, headProbs: readonly number[], rating: number | null | undefined, disagreementProbability: number): Prediction {
  const w = head.blendWeight;
  const mixed = SENTIMENTS.map((s, c) => w * headProbs[c]! + (1 - w) * p.probabilities[s]);
  offsetRow(mixed, 0, head.logOffsets);
  let best = 0;
  for (let c = 1; c < 3; c++) if (mixed[c]! > mixed[best]!) best = c;
  const probabilities = Object.fromEntries(SENTIMENTS.map((s, c) => [s, mixed[c]])) as Record<Sentiment, number>;
  const disagreement =
    rating !== null && rating !== undefined && ((rating >= 4 && probabilities.negative >= disagreementProbability) || (rating <= 2 && probabilities.positive >= disagreementProbability));
  return { ...p, sentiment: SENTIMENTS[best]!, probabilities, confidence: mixed[best]!, ratingTextDisagreement: disagreement };
}

/**
 * The category head's class and its probability for one L2-normalised vector (softmax over the offset logits). With
 * a blend partner (the head's wide part, or the stream model's distribution), `partnerLogits[partnerAt .. partnerAt + classes)`
 * are the partner's logits for the same review (categoryWideLogits, or streamCategoryLogits) and are blended in with
 * the head's weights; without them the head alone is served.
 */
export function categoryHeadPrediction(head: AccurateCategoryHead, vectors: Float32Array, row: number, partnerLogits?: Float64Array, partnerAt = 0): { category: string; categoryConfidence: number } {
  const k = head.classes.length;
  const z = new Float64Array(k);
  const partner = head.wide ?? head.stream;
  const blend = partner && partnerLogits ? partner.teacherWeight : 1;
  let best = 0;
  for (let c = 0; c < k; c++) {
    const offset = head.logOffsets?.[c] ?? 0;
    // The head alone keeps its summation order (offset first), so its predictions stay bit for bit those of format 2.
    let s = head.bias[c]! + (blend === 1 ? offset : 0);
    for (let d = 0; d < ENCODER_DIM; d++) s += head.weights[c * ENCODER_DIM + d]! * vectors[row * ENCODER_DIM + d]!;
    if (blend !== 1) s = blend * s + (1 - blend) * partnerLogits![partnerAt + c]! + offset;
    z[c] = s;
    if (s > z[best]!) best = c;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - z[best]!);
  return { category: head.classes[best]!, categoryConfidence: 1 / sum };
}

/**
 * ln of the stream model's category distribution of every prediction ([predictions x classes]), the partner of a
 * head with `stream`: the predictions must come from a score call with ScoreOptions.categoryProbabilities.
 */
export function streamCategoryLogits(predictions: readonly Prediction[], classes: number): Float64Array {
  const out = new Float64Array(predictions.length * classes);
  predictions.forEach((p, r) => {
    const probabilities = p.categoryProbabilities;
    if (!probabilities || probabilities.length !== classes) {
      throw new DriftlineError('MODEL_SCORING_FAILED', `the stream model returned ${probabilities?.length ?? 'no'} category probabilities for ${p.review_id}, the accurate head has ${classes} classes`);
    }
    for (let c = 0; c < classes; c++) out[r * classes + c] = Math.log(Math.max(probabilities[c]!, 1e-12));
  });
  return out;
}

/** The category head's wide part as loaded: its weights and the version's featurizer that makes its rows. */
export interface LoadedCategoryWide {
  model: CategoryWideModel;
  featurizer: FeaturizerConfig;
}

/** The wide part the head names, from the version directory; undefined when the head has none. */
export async function readHeadCategoryWide(versionDir: string, head: AccurateHead): Promise<LoadedCategoryWide | undefined> {
  const category = head.category;
  if (!category?.wide) return undefined;
  const path = join(versionDir, 'featurizer.json');
  let featurizer: FeaturizerConfig;
  try {
    featurizer = parseFeaturizerConfig(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path}: needed by the accurate tier's wide category part: ${(err as Error).message}`, { cause: err });
  }
  return { model: await readCategoryWide(join(versionDir, 'accurate'), featurizer.buckets, category.classes.length), featurizer };
}

export class AccurateRuntime implements ModelRuntime {
  private disposed = false;
  private readonly disagreement = modelSettings.load().disagreementProbability;
  private readonly wideScratch: WideScratch | null;

  constructor(
    private readonly base: ModelRuntime,
    private readonly encoder: SentenceEncoder,
    private readonly head: AccurateHead,
    private readonly categoryWide?: LoadedCategoryWide,
  ) {
    if (head.category?.wide && !categoryWide) throw new DriftlineError('MODEL_LOAD_FAILED', `model ${base.name} v${base.version}: the category head names a wide part that was not loaded`);
    this.wideScratch = categoryWide ? createWideScratch(categoryWide.featurizer.buckets) : null;
  }

  get name(): string {
    return this.base.name;
  }

  get version(): number {
    return this.base.version;
  }

  get backend(): string {
    return this.base.backend;
  }

  async score(reviews: readonly ReviewInput[], options: ScoreOptions = {}): Promise<Prediction[]> {
    if (this.disposed) throw new DriftlineError('MODEL_SCORING_FAILED', `model ${this.name} v${this.version} is disposed`);
    if (reviews.length === 0) return [];
    const category = this.head.category;
    const withStream = category?.stream !== undefined;
    const [scored, vectors] = await Promise.all([
      this.base.score(reviews, withStream ? { ...options, categoryProbabilities: true } : options),
      this.encoder.encode(reviews.map(encoderInput)).catch((err: unknown) => {
        throw new DriftlineError('MODEL_SCORING_FAILED', `sentence encoder failed: ${(err as Error).message}`, { cause: err });
      }),
    ]);
    const k = category?.classes.length ?? 0;
    const partnerLogits = withStream ? streamCategoryLogits(scored, k) : this.wideLogits(reviews);
    // The stream model's distribution is not the accurate tier's: it is not passed on.
    const predictions = withStream ? scored.map(({ categoryProbabilities: _stream, ...p }) => p) : scored;
    return predictions.map((p, r) => {
      const blended = blendPrediction(this.head, p, headProbabilities(this.head, vectors, r), reviews[r]!.rating, this.disagreement);
      return category ? { ...blended, ...categoryHeadPrediction(category, vectors, r, partnerLogits, r * k) } : blended;
    });
  }

  /** The wide category part's logits of every review ([reviews x classes]), or undefined without one. */
  private wideLogits(reviews: readonly ReviewInput[]): Float64Array | undefined {
    if (!this.categoryWide || !this.wideScratch) return undefined;
    const { model, featurizer } = this.categoryWide;
    const k = model.bias.length;
    const batch: FeatureBatch = featurizeBatch(reviews, featurizer);
    const out = new Float64Array(reviews.length * k);
    for (let r = 0; r < reviews.length; r++) categoryWideLogits(batch, r, model, this.wideScratch, out, r * k);
    return out;
  }

  async check(): Promise<void> {
    await this.base.check();
    let vectors: Float32Array;
    try {
      vectors = await this.encoder.encode(['Works well, would buy again.', 'Broke after two days.']);
    } catch (err) {
      throw new DriftlineError('MODEL_CHECK_FAILED', `sentence encoder did not run: ${(err as Error).message}`, { cause: err });
    }
    const texts: ReviewInput[] = [{ review_id: 'check-1', text: 'Works well, would buy again.' }, { review_id: 'check-2', text: 'Broke after two days.' }];
    const category = this.head.category;
    let partnerLogits: Float64Array | undefined;
    try {
      partnerLogits = category?.stream ? streamCategoryLogits(await this.base.score(texts, { categoryProbabilities: true }), category.classes.length) : this.wideLogits(texts);
    } catch (err) {
      throw new DriftlineError('MODEL_CHECK_FAILED', `model ${this.name} v${this.version}: the category blend's partner did not score: ${(err as Error).message}`, { cause: err });
    }
    for (let r = 0; r < 2; r++) {
      const probs = headProbabilities(this.head, vectors, r);
      const categoryConfidence = category ? categoryHeadPrediction(category, vectors, r, partnerLogits, r * category.classes.length).categoryConfidence : 1;
      if (!probs.every(Number.isFinite) || !Number.isFinite(categoryConfidence)) {
        throw new DriftlineError('MODEL_CHECK_FAILED', `model ${this.name} v${this.version}: non-finite accurate-tier probabilities`);
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.base.dispose();
    void this.encoder.dispose().catch(() => {});
  }
}

/** A head blended with the stream model's category distribution must list the version's classes in its order. */
export async function checkStreamClasses(versionDir: string, head: AccurateHead): Promise<void> {
  const category = head.category;
  if (!category?.stream) return;
  const path = join(versionDir, MANIFEST_FILE);
  let categories: unknown;
  try {
    categories = (JSON.parse(await readFile(path, 'utf8')) as { categories?: unknown }).categories;
  } catch (err) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path}: needed by the accurate tier's category blend: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(categories) || categories.join('\u0000') !== category.classes.join('\u0000')) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${join(versionDir, ACCURATE_HEAD_FILE)}: its category classes are not the version's (${path}), in the same order; the stream blend needs them to be`);
  }
}

/** Wraps a loader: with tier 'accurate' every loaded version also gets the encoder and its head. */
export function tieredRuntimeLoader(base: RuntimeLoader, env: NodeJS.ProcessEnv = process.env): RuntimeLoader {
  const settings = modelSettings.load(env);
  if (settings.tier !== 'accurate') return base;
  return async (versionDir, meta) => {
    const head = await readAccurateHead(versionDir);
    await checkStreamClasses(versionDir, head);
    const categoryWide = await readHeadCategoryWide(versionDir, head);
    const files = encoderFiles(env);
    const runtime = await base(versionDir, meta);
    try {
      return new AccurateRuntime(runtime, await SentenceEncoder.open(files.model, files.tokenizer, settings.encoderThreads), head, categoryWide);
    } catch (err) {
      runtime.dispose();
      throw err;
    }
  };
}
