/**
 * Fast-tier student candidates: a static token table over the featurizer's own word tokens (so the scoring path
 * adds no tokenizer), pooled by a SIF-weighted mean and L2-normalised, with a class-balanced LR head.
 *  - `static (Model2Vec)`: each vocabulary word embedded alone by the teacher (Model2Vec's recipe).
 *  - `learned (tokenlearn)`: that table fitted by SGD so that a review's pooled vector regresses the teacher's
 *    sentence embedding of the review (training rows of the split only), shrunk towards the static table.
 * The vocabulary is every word with document frequency >= MIN_DF in the evaluated texts (no labels are used).
 */
import { normalizeText, tokenize } from '../../core/features/featurizer.js';
import { ENCODER_DIM } from '../../core/model/sentence-encoder.js';
import type { LabeledReview } from '../data.js';
import type { Candidate } from './evaluate.js';
import { teacherEmbeddings } from './embeddings.js';
import { fitSoftmax, softmaxProbabilities } from './softmax-regression.js';

const MIN_DF = 3;
const MAX_VOCAB = 40_000;
const MAX_TOKENS = 256;
const SIF_A = 1e-3;

export interface TokenizedRows {
  vocab: string[];
  /** Per row, the vocabulary ids of its tokens (unknown words dropped). */
  ids: Int32Array[];
  /** SIF weight a / (a + p(w)) per vocabulary id, p from token frequencies. */
  sif: Float32Array;
}

export function studentTokens(review: { title?: string | null; text: string }): string[] {
  return tokenize(normalizeText(review.title ? `${review.title} ${review.text}` : review.text), MAX_TOKENS);
}

export function tokenizeRows(rows: readonly LabeledReview[]): TokenizedRows {
  const tokens = rows.map(studentTokens);
  const df = new Map<string, number>();
  const tf = new Map<string, number>();
  let total = 0;
  for (const doc of tokens) {
    for (const t of doc) tf.set(t, (tf.get(t) ?? 0) + 1);
    total += doc.length;
    for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
  }
  const vocab = [...df.entries()]
    .filter(([, n]) => n >= MIN_DF)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_VOCAB)
    .map(([t]) => t);
  const index = new Map(vocab.map((t, i) => [t, i]));
  const ids = tokens.map((doc) => Int32Array.from(doc.map((t) => index.get(t) ?? -1).filter((i) => i >= 0)));
  const sif = Float32Array.from(vocab, (t) => SIF_A / (SIF_A + tf.get(t)! / total));
  return { vocab, ids, sif };
}

/** L2-normalised SIF-weighted mean of the table rows of each review, row-major [rows x dim]. */
export function poolRows(table: Float32Array, dim: number, tok: TokenizedRows): Float32Array {
  const out = new Float32Array(tok.ids.length * dim);
  tok.ids.forEach((ids, r) => {
    const row = out.subarray(r * dim, (r + 1) * dim);
    for (const id of ids) {
      const w = tok.sif[id];
      const base = id * dim;
      for (let d = 0; d < dim; d++) row[d] += w * table[base + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += row[d] * row[d];
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) row[d] /= norm;
  });
  return out;
}

export interface TokenlearnParams {
  epochs: number;
  learningRate: number;
  /** Pull of each row towards the static (teacher) table, per update. */
  shrink: number;
}

export const DEFAULT_TOKENLEARN: TokenlearnParams = { epochs: 6, learningRate: 2, shrink: 1e-4 };

/**
 * Fits the table so that each training row's SIF-weighted mean regresses the teacher's sentence vector
 * (squared error, plain SGD in a fixed order), starting from and shrunk towards the static table.
 */
export function tokenlearn(init: Float32Array, dim: number, tok: TokenizedRows, teacher: Float32Array, rows: readonly number[], params: TokenlearnParams = DEFAULT_TOKENLEARN): Float32Array {
  const table = Float32Array.from(init);
  const pred = new Float64Array(dim);
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    const lr = params.learningRate / (1 + epoch);
    for (const r of rows) {
      const ids = tok.ids[r];
      if (ids.length === 0) continue;
      let wsum = 0;
      for (const id of ids) wsum += tok.sif[id];
      pred.fill(0);
      for (const id of ids) {
        const w = tok.sif[id] / wsum;
        const base = id * dim;
        for (let d = 0; d < dim; d++) pred[d] += w * table[base + d];
      }
      const target = r * ENCODER_DIM;
      for (let d = 0; d < dim; d++) pred[d] -= teacher[target + d];
      for (const id of ids) {
        const g = (lr * tok.sif[id]) / wsum;
        const base = id * dim;
        for (let d = 0; d < dim; d++) table[base + d] -= g * pred[d] + params.shrink * (table[base + d] - init[base + d]);
      }
    }
  }
  return table;
}

function headCandidate(name: string, features: () => Float32Array, dim: number, labels: Int32Array): Candidate {
  return { name, fitPredict: (train, test) => {
    const x = features();
    return softmaxProbabilities(fitSoftmax(x, dim, train, labels, 3), x, test);
  } };
}

export async function studentCandidates(rows: readonly LabeledReview[], teacher: Float32Array, labels: Int32Array, log: (m: string) => void): Promise<Candidate[]> {
  const tok = tokenizeRows(rows);
  log(`student: ${tok.vocab.length} vocabulary words; embedding them with the teacher`);
  const staticTable = await teacherEmbeddings(tok.vocab.map((text) => ({ text })), log);
  const staticPooled = poolRows(staticTable, ENCODER_DIM, tok);
  const learned: Candidate = {
    name: 'student: learned table (tokenlearn) + LR',
    fitPredict(train, test) {
      const table = tokenlearn(staticTable, ENCODER_DIM, tok, teacher, train);
      const x = poolRows(table, ENCODER_DIM, tok);
      return softmaxProbabilities(fitSoftmax(x, ENCODER_DIM, train, labels, 3), x, test);
    },
  };
  return [headCandidate('student: static table (Model2Vec) + LR', () => staticPooled, ENCODER_DIM, labels), learned];
}
