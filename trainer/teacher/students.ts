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
import { DEFAULT_SOFTMAX, fitSoftmax, softmaxProbabilities } from './softmax-regression.js';

const MIN_DF = 3;
const MAX_VOCAB = 40_000;
const MAX_TOKENS = 256;
const SIF_A = 1e-3;
const BIGRAM_MIN_DF = 5;
const MAX_BIGRAMS = 60_000;

export interface TokenizedRows {
  /** Vocabulary words, then (with bigrams) the kept word bigrams as "a b". */
  vocab: string[];
  /** How many entries of `vocab` are single words (the teacher embeds those for the static table). */
  words: number;
  /** Per bigram entry (vocab id - words), its two word ids (-1 when a word is not in the vocabulary). */
  bigramParts: Int32Array;
  /** Per row, the vocabulary ids of its tokens (and kept bigrams); unknown ones dropped. */
  ids: Int32Array[];
  /** SIF weight a / (a + p(w)) per vocabulary id, p from token (bigram) frequencies. */
  sif: Float32Array;
}

export type Pooling = 'mean' | 'mean+max';

interface Counts {
  df: Map<string, number>;
  tf: Map<string, number>;
  total: number;
}

function countTerms(docs: readonly string[][]): Counts {
  const df = new Map<string, number>();
  const tf = new Map<string, number>();
  let total = 0;
  for (const doc of docs) {
    for (const t of doc) tf.set(t, (tf.get(t) ?? 0) + 1);
    total += doc.length;
    for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
  }
  return { df, tf, total };
}

function frequentTerms(counts: Counts, minDf: number, max: number): string[] {
  return [...counts.df.entries()]
    .filter(([, n]) => n >= minDf)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([t]) => t);
}

export function studentTokens(review: { title?: string | null; text: string }): string[] {
  return tokenize(normalizeText(review.title ? `${review.title} ${review.text}` : review.text), MAX_TOKENS);
}

const bigramsOf = (doc: readonly string[]) => doc.slice(1).map((t, i) => `${doc[i]} ${t}`);

export function tokenizeRows(rows: readonly LabeledReview[], options: { bigrams?: boolean } = {}): TokenizedRows {
  const tokens = rows.map(studentTokens);
  const wordCounts = countTerms(tokens);
  const words = frequentTerms(wordCounts, MIN_DF, MAX_VOCAB);
  const bigramDocs = options.bigrams ? tokens.map(bigramsOf) : [];
  const bigramCounts = countTerms(bigramDocs);
  const bigrams = options.bigrams ? frequentTerms(bigramCounts, BIGRAM_MIN_DF, MAX_BIGRAMS) : [];
  const vocab = [...words, ...bigrams];
  const index = new Map(vocab.map((t, i) => [t, i]));
  const ids = tokens.map((doc, r) => {
    const terms = options.bigrams ? [...doc, ...bigramDocs[r]!] : doc;
    return Int32Array.from(terms.map((t) => index.get(t) ?? -1).filter((i) => i >= 0));
  });
  const bigramParts = Int32Array.from(bigrams.flatMap((b) => b.split(' ').map((w) => index.get(w) ?? -1)));
  const sif = Float32Array.from(vocab, (t, i) => {
    const counts = i < words.length ? wordCounts : bigramCounts;
    return SIF_A / (SIF_A + counts.tf.get(t)! / counts.total);
  });
  return { vocab, words: words.length, bigramParts, ids, sif };
}

/** The static table of the whole vocabulary: words from the teacher, a bigram as the mean of its two words. */
export function extendWithBigrams(wordTable: Float32Array, dim: number, tok: TokenizedRows): Float32Array {
  const table = new Float32Array(tok.vocab.length * dim);
  table.set(wordTable.subarray(0, tok.words * dim));
  for (let b = 0; b < tok.vocab.length - tok.words; b++) {
    const row = table.subarray((tok.words + b) * dim, (tok.words + b + 1) * dim);
    for (const part of [tok.bigramParts[2 * b]!, tok.bigramParts[2 * b + 1]!]) {
      if (part < 0) continue;
      for (let d = 0; d < dim; d++) row[d]! += 0.5 * wordTable[part * dim + d]!;
    }
  }
  return table;
}

function normalizeInPlace(v: Float32Array): void {
  let norm = 0;
  for (let d = 0; d < v.length; d++) norm += v[d]! * v[d]!;
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < v.length; d++) v[d]! /= norm;
}

/**
 * Per review, the L2-normalised SIF-weighted mean of its table rows; with 'mean+max' followed by the
 * L2-normalised element-wise max of the rows (a strong single word, e.g. "broke", survives a long review).
 * Row-major [rows x dim] or [rows x 2 dim].
 */
export function poolRows(table: Float32Array, dim: number, tok: TokenizedRows, pooling: Pooling = 'mean'): Float32Array {
  const width = pooling === 'mean' ? dim : 2 * dim;
  const out = new Float32Array(tok.ids.length * width);
  tok.ids.forEach((ids, r) => {
    const mean = out.subarray(r * width, r * width + dim);
    for (const id of ids) {
      const w = tok.sif[id]!;
      const base = id * dim;
      for (let d = 0; d < dim; d++) mean[d]! += w * table[base + d]!;
    }
    normalizeInPlace(mean);
    if (pooling === 'mean') return;
    const max = out.subarray(r * width + dim, (r + 1) * width);
    if (ids.length === 0) return;
    max.fill(-Infinity);
    for (const id of ids) {
      const base = id * dim;
      for (let d = 0; d < dim; d++) if (table[base + d]! > max[d]!) max[d] = table[base + d]!;
    }
    normalizeInPlace(max);
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
 * `teacher` is row-major [rows x dim]: the sentence vectors, or their projection to the table's width.
 */
export function tokenlearn(init: Float32Array, dim: number, tok: TokenizedRows, teacher: Float32Array, rows: readonly number[], params: TokenlearnParams = DEFAULT_TOKENLEARN): Float32Array {
  const table = Float32Array.from(init);
  const pred = new Float64Array(dim);
  for (let epoch = 0; epoch < params.epochs; epoch++) {
    const lr = params.learningRate / (1 + epoch);
    for (const r of rows) {
      const ids = tok.ids[r]!;
      if (ids.length === 0) continue;
      let wsum = 0;
      for (const id of ids) wsum += tok.sif[id]!;
      pred.fill(0);
      for (const id of ids) {
        const w = tok.sif[id]! / wsum;
        const base = id * dim;
        for (let d = 0; d < dim; d++) pred[d]! += w * table[base + d]!;
      }
      const target = r * dim;
      for (let d = 0; d < dim; d++) pred[d]! -= teacher[target + d]!;
      for (const id of ids) {
        const g = (lr * tok.sif[id]!) / wsum;
        const base = id * dim;
        for (let d = 0; d < dim; d++) table[base + d]! -= g * pred[d]! + params.shrink * (table[base + d]! - init[base + d]!);
      }
    }
  }
  return table;
}

/** Mix of the one-hot labels and the teacher's probabilities (weight SOFT_TEACHER) that a distilled head fits. */
const SOFT_TEACHER = 0.5;

/**
 * Soft targets for the training rows: the teacher head's probabilities, cross-fitted (each half of the rows
 * predicted by a head fitted on the other half, so a row's target never comes from a head that saw its label),
 * mixed with the one-hot label. Row-major [all rows x 3]; rows outside `train` stay zero.
 */
export function teacherSoftTargets(teacher: Float32Array, train: readonly number[], labels: Int32Array): Float32Array {
  const soft = new Float32Array(labels.length * 3);
  const halves = [train.filter((_, i) => i % 2 === 0), train.filter((_, i) => i % 2 === 1)];
  halves.forEach((half, h) => {
    const head = fitSoftmax(teacher, ENCODER_DIM, halves[1 - h]!, labels, 3);
    const probs = softmaxProbabilities(head, teacher, half);
    half.forEach((r, i) => {
      for (let c = 0; c < 3; c++) soft[r * 3 + c] = SOFT_TEACHER * probs[i * 3 + c]! + (1 - SOFT_TEACHER) * (labels[r] === c ? 1 : 0);
    });
  });
  return soft;
}

export interface StudentVariant {
  name: string;
  bigrams: boolean;
  pooling: Pooling;
  /** Fit the head on teacher soft targets instead of the labels. */
  distilled: boolean;
}

export const STUDENT_VARIANTS: StudentVariant[] = [
  { name: 'student: learned table (tokenlearn) + LR', bigrams: false, pooling: 'mean', distilled: false },
  { name: 'student: learned table, mean+max pooling + LR', bigrams: false, pooling: 'mean+max', distilled: false },
  { name: 'student: learned table, mean+max + LR on teacher soft labels', bigrams: false, pooling: 'mean+max', distilled: true },
  { name: 'student: learned table + bigrams, mean+max + LR on teacher soft labels', bigrams: true, pooling: 'mean+max', distilled: true },
];

function variantCandidate(variant: StudentVariant, staticTable: Float32Array, tok: TokenizedRows, teacher: Float32Array, labels: Int32Array): Candidate {
  return {
    name: variant.name,
    fitPredict(train, test) {
      const table = tokenlearn(staticTable, ENCODER_DIM, tok, teacher, train);
      const x = poolRows(table, ENCODER_DIM, tok, variant.pooling);
      const dim = variant.pooling === 'mean' ? ENCODER_DIM : 2 * ENCODER_DIM;
      const soft = variant.distilled ? teacherSoftTargets(teacher, train, labels) : undefined;
      return softmaxProbabilities(fitSoftmax(x, dim, train, labels, 3, DEFAULT_SOFTMAX, soft), x, test);
    },
  };
}

export async function studentCandidates(rows: readonly LabeledReview[], teacher: Float32Array, labels: Int32Array, log: (m: string) => void, variants: readonly StudentVariant[] = STUDENT_VARIANTS): Promise<Candidate[]> {
  const wordTok = tokenizeRows(rows);
  log(`student: ${wordTok.vocab.length} vocabulary words; embedding them with the teacher`);
  const wordTable = await teacherEmbeddings(wordTok.vocab.map((text) => ({ text })), log);
  const staticPooled = poolRows(wordTable, ENCODER_DIM, wordTok);
  const out: Candidate[] = [{ name: 'student: static table (Model2Vec) + LR', fitPredict: (train, test) => softmaxProbabilities(fitSoftmax(staticPooled, ENCODER_DIM, train, labels, 3), staticPooled, test) }];
  const bigramTok = variants.some((v) => v.bigrams) ? tokenizeRows(rows, { bigrams: true }) : undefined;
  if (bigramTok) log(`student: ${bigramTok.vocab.length - bigramTok.words} bigrams`);
  for (const v of variants) {
    const tok = v.bigrams ? bigramTok! : wordTok;
    out.push(variantCandidate(v, v.bigrams ? extendWithBigrams(wordTable, ENCODER_DIM, tok) : wordTable, tok, teacher, labels));
  }
  return out;
}
