/**
 * Fast-tier students small enough for the stream (issue 11): a word table of `width` dims, fitted so that a
 * review's SIF-weighted mean of its words' rows regresses the teacher's sentence vector projected on its top
 * `width` principal directions (tokenlearn, students.ts), then a class-balanced LR head over the L2-normalised mean.
 * Scoring one review costs a table lookup and `width` multiply-adds per word, then a width x 3 product.
 * Honest per split: the vocabulary (words with document frequency >= MIN_DF), the SIF weights, the principal
 * directions and the table are all taken from the split's training rows; a test review's unknown words are dropped.
 */
import { ENCODER_DIM } from '../../core/model/sentence-encoder.js';
import { type LabeledReview, sentimentLabel } from '../data.js';
import type { Candidate } from './evaluate.js';
import { teacherEmbeddings } from './embeddings.js';
import { DEFAULT_SOFTMAX, fitSoftmax, softmaxProbabilities } from './softmax-regression.js';
import { type TokenizedRows, poolRows, studentTokens, teacherSoftTargets, tokenlearn } from './students.js';

const MIN_DF = 3;
const SIF_A = 1e-3;
const PCA_ITERATIONS = 30;

export interface FastStudentVariant {
  name: string;
  /** Table width: the teacher's vectors are projected on this many principal directions (ENCODER_DIM: none). */
  width: number;
  /** Fit the head on the teacher head's cross-fitted probabilities mixed with the labels (students.ts). */
  distilled: boolean;
  /**
   * Where tokenlearn starts (and is shrunk towards): 'static', each word embedded alone by the teacher (Model2Vec's
   * table; needs the encoder for the vocabulary), or 'zero' (plain ridge-like regression; only the cached sentence
   * vectors are read).
   */
  init: 'static' | 'zero';
}

export const FAST_STUDENT_VARIANTS: FastStudentVariant[] = [
  { name: 'student: tokenlearn table 384-d + LR', width: ENCODER_DIM, distilled: false, init: 'static' },
  { name: 'student: tokenlearn table PCA-64 + LR', width: 64, distilled: false, init: 'static' },
  { name: 'student: tokenlearn table PCA-64 + LR on teacher soft labels', width: 64, distilled: true, init: 'static' },
];

/**
 * The stream-sized students fitted from a zero table: no encoder run at all (only the cached sentence vectors).
 * The 384-d table is left out: its fit takes > 5 min per split on the full data on the shared 2 cores.
 */
export const ZERO_INIT_VARIANTS: FastStudentVariant[] = FAST_STUDENT_VARIANTS.filter((v) => v.width < ENCODER_DIM).map((v) => ({ ...v, name: v.name.replace('tokenlearn table', 'tokenlearn table from zero'), init: 'zero' }));

/** The split's vocabulary over pre-tokenised rows: ids of every row (unknown words dropped), SIF from the training rows. */
export function splitVocabulary(tokens: readonly string[][], train: readonly number[]): TokenizedRows {
  const df = new Map<string, number>();
  const tf = new Map<string, number>();
  let total = 0;
  for (const r of train) {
    const doc = tokens[r]!;
    for (const t of doc) tf.set(t, (tf.get(t) ?? 0) + 1);
    total += doc.length;
    for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
  }
  const vocab = [...df.entries()].filter(([, n]) => n >= MIN_DF).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([t]) => t);
  const index = new Map(vocab.map((t, i) => [t, i]));
  const ids = tokens.map((doc) => Int32Array.from(doc.map((t) => index.get(t) ?? -1).filter((i) => i >= 0)));
  const sif = Float32Array.from(vocab, (t) => SIF_A / (SIF_A + tf.get(t)! / total));
  return { vocab, words: vocab.length, bigramParts: new Int32Array(0), ids, sif };
}

export interface Projection {
  width: number;
  mean: Float32Array;
  /** width x ENCODER_DIM, row-major: the principal directions. */
  directions: Float32Array;
}

/** Top `width` principal directions of the rows' vectors (subspace iteration on the covariance; deterministic start). */
export function principalProjection(vectors: Float32Array, rows: readonly number[], width: number): Projection {
  const d = ENCODER_DIM;
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += vectors[r * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= rows.length;
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (const r of rows) {
    for (let j = 0; j < d; j++) centred[j] = vectors[r * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const x = centred[a]!;
      for (let b = a; b < d; b++) cov[a * d + b]! += x * centred[b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a]!;
  let q = Float64Array.from({ length: width * d }, (_, i) => Math.sin(i * 12.9898 + 1) * 0.5);
  orthonormalise(q, width, d);
  for (let it = 0; it < PCA_ITERATIONS; it++) {
    const z = new Float64Array(width * d);
    for (let k = 0; k < width; k++) for (let a = 0; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += cov[a * d + b]! * q[k * d + b]!;
      z[k * d + a] = s;
    }
    orthonormalise(z, width, d);
    q = z;
  }
  return { width, mean: Float32Array.from(mean), directions: Float32Array.from(q) };
}

/** Gram-Schmidt on the `count` rows of length `d`. */
function orthonormalise(m: Float64Array, count: number, d: number): void {
  for (let k = 0; k < count; k++) {
    for (let p = 0; p < k; p++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += m[k * d + j]! * m[p * d + j]!;
      for (let j = 0; j < d; j++) m[k * d + j]! -= dot * m[p * d + j]!;
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += m[k * d + j]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < d; j++) m[k * d + j]! /= norm;
  }
}

/** Row-major [rows x width]: each vector minus the mean, on the directions. */
export function project(vectors: Float32Array, count: number, p: Projection): Float32Array {
  const d = ENCODER_DIM;
  const out = new Float32Array(count * p.width);
  for (let r = 0; r < count; r++) {
    for (let k = 0; k < p.width; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (vectors[r * d + j]! - p.mean[j]!) * p.directions[k * d + j]!;
      out[r * p.width + k] = s;
    }
  }
  return out;
}

interface Inputs {
  tokens: string[][];
  /** The teacher's vectors of the evaluated rows, [rows x ENCODER_DIM]. */
  teacher: Float32Array;
  /** Every word that may enter a vocabulary, with its static (teacher) vector; empty without 'static' variants. */
  wordVectors: Map<string, Float32Array>;
  labels: Int32Array;
}

function variantCandidate(v: FastStudentVariant, inputs: Inputs, log: (m: string) => void): Candidate {
  return {
    name: v.name,
    fitPredict(train, test) {
      const t0 = performance.now();
      const tok = splitVocabulary(inputs.tokens, train);
      const staticTable = new Float32Array(tok.vocab.length * ENCODER_DIM);
      if (v.init === 'static') tok.vocab.forEach((w, i) => staticTable.set(inputs.wordVectors.get(w)!, i * ENCODER_DIM));
      const full = v.width === ENCODER_DIM;
      const projection = full ? undefined : principalProjection(inputs.teacher, train, v.width);
      const targets = projection ? project(inputs.teacher, inputs.labels.length, projection) : inputs.teacher;
      const init = projection && v.init === 'static' ? project(staticTable, tok.vocab.length, projection) : projection ? new Float32Array(tok.vocab.length * v.width) : staticTable;
      const table = tokenlearn(init, v.width, tok, targets, train);
      const x = poolRows(table, v.width, tok);
      const soft = v.distilled ? teacherSoftTargets(inputs.teacher, train, inputs.labels) : undefined;
      const probs = softmaxProbabilities(fitSoftmax(x, v.width, train, inputs.labels, 3, DEFAULT_SOFTMAX, soft), x, test);
      log(`${v.name}: ${tok.vocab.length} words, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return probs;
    },
  };
}

/**
 * The fast students over `rows` (a subset of `allRows`): the teacher's vectors of the whole file are read from
 * (or written to) the embedding cache once, and every word with document frequency >= MIN_DF in `rows` is embedded
 * alone by the teacher (Model2Vec's static table, the start of tokenlearn).
 */
export async function fastStudentCandidates(allRows: readonly LabeledReview[], rows: readonly LabeledReview[], log: (m: string) => void, variants: readonly FastStudentVariant[] = FAST_STUDENT_VARIANTS): Promise<Candidate[]> {
  const allVectors = await teacherEmbeddings(allRows, log);
  const position = new Map(allRows.map((r, i) => [r.review_id, i]));
  const teacher = new Float32Array(rows.length * ENCODER_DIM);
  rows.forEach((r, i) => teacher.set(allVectors.subarray(position.get(r.review_id)! * ENCODER_DIM, (position.get(r.review_id)! + 1) * ENCODER_DIM), i * ENCODER_DIM));
  const tokens = rows.map(studentTokens);
  const all = splitVocabulary(tokens, rows.map((_, i) => i));
  const wordVectors = new Map<string, Float32Array>();
  if (variants.some((v) => v.init === 'static')) {
    log(`fast students: ${all.vocab.length} candidate words; embedding them with the teacher`);
    const table = await teacherEmbeddings(all.vocab.map((text) => ({ text })), log);
    all.vocab.forEach((w, i) => wordVectors.set(w, table.subarray(i * ENCODER_DIM, (i + 1) * ENCODER_DIM)));
  }
  const inputs: Inputs = { tokens, teacher, wordVectors, labels: Int32Array.from(rows, (r) => sentimentLabel(r.rating)) };
  return variants.map((v) => variantCandidate(v, inputs, log));
}
