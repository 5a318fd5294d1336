/**
 * The comparison baseline: TF-IDF over word unigrams + bigrams (the same normalisation and tokens as
 * the featurizer, but an exact vocabulary instead of hashing) and a softmax regression trained with
 * plain SGD on sparse rows, in TypeScript. Same split as the model; printed side by side.
 */
import { normalizeText, tokenize } from '../core/features/featurizer.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import { SENTIMENTS } from '../schemas/types.js';
import { type LabeledReview, sentimentLabel } from './data.js';
import { type ClassificationReport, classificationReport } from './metrics.js';

export interface TfidfParams {
  minDf: number;
  maxFeatures: number;
  epochs: number;
  learningRate: number;
  l2: number;
  classWeightPower: number;
  seed: number;
  /** Also character n-grams of these lengths inside word boundaries (scikit-learn's char_wb), e.g. [2, 5]. */
  charGrams?: readonly [number, number];
}

export const DEFAULT_TFIDF_PARAMS: TfidfParams = { minDf: 2, maxFeatures: 200_000, epochs: 6, learningRate: 0.5, l2: 1e-6, classWeightPower: 0.5, seed: 42 };

/** The reference recipe: word 1-2 + char 2-5 grams, fully class-balanced (the teacher's comparison). */
export const REFERENCE_TFIDF_PARAMS: TfidfParams = { ...DEFAULT_TFIDF_PARAMS, maxFeatures: 400_000, classWeightPower: 1, charGrams: [2, 5] };

interface SparseRow {
  index: Int32Array;
  value: Float32Array;
}

function terms(review: LabeledReview, maxTokens: number, charGrams?: readonly [number, number]): string[] {
  const out: string[] = [];
  for (const part of [review.title ?? '', review.text]) {
    const tokens = tokenize(normalizeText(part), maxTokens);
    for (let i = 0; i < tokens.length; i++) {
      out.push(tokens[i]!);
      if (i > 0) out.push(`${tokens[i - 1]} ${tokens[i]}`);
      if (charGrams) pushCharGrams(tokens[i]!, charGrams, out);
    }
  }
  return out;
}

/** Character n-grams of ` word ` (the spaces mark the word's edges); prefixed so they never meet a word term. */
function pushCharGrams(token: string, [min, max]: readonly [number, number], out: string[]): void {
  const padded = ` ${token} `;
  for (let n = min; n <= max; n++) for (let i = 0; i + n <= padded.length; i++) out.push(`\u0001${padded.slice(i, i + n)}`);
}

export class TfidfModel {
  private constructor(
    private readonly vocabulary: Map<string, number>,
    private readonly idf: Float32Array,
    /** classes x features, row-major, plus one bias per class. */
    private readonly weights: Float32Array,
    private readonly bias: Float32Array,
    private readonly maxTokens: number,
    private readonly classCount = 3,
    private readonly charGrams?: readonly [number, number],
  ) {}

  /**
   * Sentiment by default; `target` trains another label over the same features (e.g. the category: class
   * index per row, -1 = row not used, `classCount` classes).
   */
  static train(rows: readonly LabeledReview[], params: TfidfParams = DEFAULT_TFIDF_PARAMS, maxTokens = 256, target?: { labels: Int32Array; classCount: number }): TfidfModel {
    const k = target?.classCount ?? 3;
    const df = new Map<string, number>();
    const docs = rows.map((r) => terms(r, maxTokens, params.charGrams));
    for (const doc of docs) for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
    const kept = [...df.entries()].filter(([, n]) => n >= params.minDf).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, params.maxFeatures);
    const vocabulary = new Map(kept.map(([t], i) => [t, i]));
    const idf = Float32Array.from(kept, ([, n]) => Math.log((1 + rows.length) / (1 + n)) + 1);
    const model = new TfidfModel(vocabulary, idf, new Float32Array(k * kept.length), new Float32Array(k), maxTokens, k, params.charGrams);
    const vectors = docs.map((d) => model.vectorize(d));
    const labels = target?.labels ?? Int32Array.from(rows, (r) => sentimentLabel(r.rating));
    const counts = new Array<number>(k).fill(0);
    let labelled = 0;
    for (const y of labels) if (y >= 0) (counts[y]!++, labelled++);
    const classWeight = counts.map((c) => (c === 0 ? 0 : (labelled / (k * c)) ** params.classWeightPower));
    const random = seededRandom(params.seed);
    const probs = new Float64Array(k);
    for (let epoch = 0; epoch < params.epochs; epoch++) {
      const lr = params.learningRate / (1 + epoch);
      for (const i of shuffledIndices(rows.length, random)) {
        if (labels[i]! < 0) continue;
        const row = vectors[i]!;
        model.probabilities(row, probs);
        const { index, value } = row;
        for (let c = 0; c < k; c++) {
          const g = (probs[c]! - (labels[i] === c ? 1 : 0)) * classWeight[labels[i]!]!;
          model.bias[c]! -= lr * g;
          const base = c * idf.length;
          for (let k = 0; k < index.length; k++) {
            const w = base + index[k]!;
            model.weights[w]! -= lr * (g * value[k]! + params.l2 * model.weights[w]!);
          }
        }
      }
    }
    return model;
  }

  /** L2-normalised sublinear TF-IDF over the known terms. */
  private vectorize(doc: string[]): SparseRow {
    const tf = new Map<number, number>();
    for (const t of doc) {
      const i = this.vocabulary.get(t);
      if (i !== undefined) tf.set(i, (tf.get(i) ?? 0) + 1);
    }
    const index = Int32Array.from(tf.keys());
    const value = Float32Array.from(index, (i) => (1 + Math.log(tf.get(i)!)) * this.idf[i]!);
    const norm = Math.hypot(...value) || 1;
    for (let k = 0; k < value.length; k++) value[k]! /= norm;
    return { index, value };
  }

  private probabilities(row: SparseRow, out: Float64Array): void {
    let max = -Infinity;
    for (let c = 0; c < this.classCount; c++) {
      let z = this.bias[c]!;
      const base = c * this.idf.length;
      for (let k = 0; k < row.index.length; k++) z += this.weights[base + row.index[k]!]! * row.value[k]!;
      out[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < this.classCount; c++) sum += out[c] = Math.exp(out[c]! - max);
    for (let c = 0; c < this.classCount; c++) out[c]! /= sum;
  }

  /** Class probabilities, row-major [rows x classCount]. */
  predictProbabilities(rows: readonly LabeledReview[]): Float32Array {
    const k = this.classCount;
    const probs = new Float64Array(k);
    const out = new Float32Array(rows.length * k);
    rows.forEach((r, i) => {
      this.probabilities(this.vectorize(terms(r, this.maxTokens, this.charGrams)), probs);
      out.set(probs, i * k);
    });
    return out;
  }

  /** Most probable class per row (the first on ties). */
  predict(rows: readonly LabeledReview[]): Int32Array {
    const probs = new Float64Array(this.classCount);
    return Int32Array.from(rows, (r) => {
      this.probabilities(this.vectorize(terms(r, this.maxTokens, this.charGrams)), probs);
      let best = 0;
      for (let c = 1; c < this.classCount; c++) if (probs[c]! > probs[best]!) best = c;
      return best;
    });
  }

  get features(): number {
    return this.idf.length;
  }
}

export function evaluateTfidf(train: readonly LabeledReview[], test: readonly LabeledReview[], params: TfidfParams = DEFAULT_TFIDF_PARAMS): { report: ClassificationReport; features: number; seconds: number } {
  const t0 = performance.now();
  const model = TfidfModel.train(train, params);
  const predicted = model.predict(test);
  const actual = Int32Array.from(test, (r) => sentimentLabel(r.rating));
  return { report: classificationReport(actual, predicted, SENTIMENTS), features: model.features, seconds: (performance.now() - t0) / 1000 };
}
