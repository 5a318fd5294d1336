/**
 * The one featurizer of Driftline: the trainer, the scorer and the API all call `featurizeBatch`
 * with the FeaturizerConfig saved next to the model (featurizer.json), so training and serving see
 * bit-identical features.
 *
 * A review becomes
 *  - hashed token ids: word unigrams + bigrams of the normalised title and text, each hashed into
 *    `buckets - 1` buckets (id 0 is reserved for padding), text truncated to `maxTokens` words;
 *  - numeric features (`NUMERIC_FEATURES`): raw values go to Prediction.features (drift monitoring),
 *    a scaled copy (log1p for counts, then standardised with the training mean/std) goes to the model.
 * The rating is never an input: it is the sentiment label.
 */
import { DriftlineError } from '../errors.js';
import type { ReviewInput } from '../model/types.js';
import { hashPair, hashString } from './hash.js';

export const FEATURIZER_FORMAT_VERSION = 1;

/** Short, stable names: they become drift-monitored values `feature.<name>`. */
export const NUMERIC_FEATURES = [
  'text_chars',
  'text_words',
  'title_chars',
  'exclaim_ratio',
  'question_ratio',
  'upper_ratio',
  'digit_ratio',
  'nonascii_ratio',
  'mean_word_len',
  'unique_word_ratio',
  'helpful_log1p',
  'verified',
] as const;
export type NumericFeatureName = (typeof NUMERIC_FEATURES)[number];

/** Heavy-tailed counts are log1p-compressed before standardising (the raw value is still reported). */
const LOG_SCALED: ReadonlySet<string> = new Set(['text_chars', 'text_words', 'title_chars']);

export interface NumericScaling {
  names: string[];
  log1p: boolean[];
  mean: number[];
  std: number[];
}

export interface FeaturizerConfig {
  formatVersion: number;
  kind: 'hashed-ngrams';
  /** Hash buckets including the padding id 0. */
  buckets: number;
  /** Words of the text kept (title words come on top, capped at 32). */
  maxTokens: number;
  bigrams: boolean;
  hashSeed: number;
  numeric: NumericScaling;
}

export interface FeaturizerOptions {
  buckets?: number;
  maxTokens?: number;
  bigrams?: boolean;
  hashSeed?: number;
}

const MAX_TITLE_TOKENS = 32;

/** A config with identity scaling; `fitNumericScaling` fills in the training statistics. */
export function createFeaturizerConfig(options: FeaturizerOptions = {}): FeaturizerConfig {
  const names = [...NUMERIC_FEATURES];
  return {
    formatVersion: FEATURIZER_FORMAT_VERSION,
    kind: 'hashed-ngrams',
    buckets: options.buckets ?? 1 << 17,
    maxTokens: options.maxTokens ?? 256,
    bigrams: options.bigrams ?? true,
    hashSeed: options.hashSeed ?? 0x5eed,
    numeric: { names, log1p: names.map((n) => LOG_SCALED.has(n)), mean: names.map(() => 0), std: names.map(() => 1) },
  };
}

/** Validates a parsed featurizer.json; throws MODEL_LOAD_FAILED on anything unexpected. */
export function parseFeaturizerConfig(value: unknown): FeaturizerConfig {
  const fail = (why: string): never => {
    throw new DriftlineError('MODEL_LOAD_FAILED', `featurizer.json: ${why}`);
  };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const c = value as Partial<FeaturizerConfig>;
  if (c.formatVersion !== FEATURIZER_FORMAT_VERSION) fail(`unknown formatVersion ${String(c.formatVersion)}`);
  if (c.kind !== 'hashed-ngrams') fail(`unknown kind ${String(c.kind)}`);
  if (!Number.isInteger(c.buckets) || (c.buckets ?? 0) < 2) fail('buckets must be an integer >= 2');
  if (!Number.isInteger(c.maxTokens) || (c.maxTokens ?? 0) < 1) fail('maxTokens must be a positive integer');
  if (typeof c.bigrams !== 'boolean' || !Number.isInteger(c.hashSeed)) fail('bigrams/hashSeed invalid');
  const n = c.numeric;
  const expected = NUMERIC_FEATURES.join(',');
  if (!n || !Array.isArray(n.names) || n.names.join(',') !== expected) fail(`numeric.names must be ${expected}`);
  for (const key of ['log1p', 'mean', 'std'] as const) {
    if (!Array.isArray(n?.[key]) || n[key].length !== NUMERIC_FEATURES.length) fail(`numeric.${key} has the wrong length`);
  }
  if (n!.std.some((s) => !(typeof s === 'number' && s > 0 && Number.isFinite(s)))) fail('numeric.std must be positive');
  if (n!.mean.some((m) => !(typeof m === 'number' && Number.isFinite(m)))) fail('numeric.mean must be finite');
  return c as FeaturizerConfig;
}

// ---------------------------------------------------------------------------------------------
// Text normalisation and tokenisation

const HTML_TAG = /<[^<>]{0,300}>/g;
const URL = /\b(?:https?:\/\/|www\.)\S+/g;
const ENTITIES: Record<string, string> = { '&amp;': '&', '&quot;': '"', '&#39;': "'", '&apos;': "'", '&lt;': '<', '&gt;': '>', '&nbsp;': ' ' };
const ENTITY = /&(?:amp|quot|#39|apos|lt|gt|nbsp);/g;
const NON_ASCII = /[^\x00-\x7f]/;
const ASCII_TOKEN = /[a-z0-9]+(?:'[a-z]+)?|[!?]/g;
const UNICODE_TOKEN = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?|[!?]/gu;

/** Lowercase, NFKC, HTML tags/entities and URLs removed. Fast path for plain ASCII. */
export function normalizeText(text: string): string {
  let out = text;
  if (NON_ASCII.test(out)) out = out.normalize('NFKC');
  if (out.includes('<')) out = out.replace(HTML_TAG, ' ');
  if (out.includes('&')) out = out.replace(ENTITY, (e) => ENTITIES[e] ?? ' ');
  if (out.includes('http') || out.includes('www.')) out = out.replace(URL, ' ');
  return out.toLowerCase();
}

/** Word tokens (letters/digits with an inner apostrophe) plus `!` and `?` as tokens. */
export function tokenize(normalized: string, maxTokens = Number.POSITIVE_INFINITY): string[] {
  const pattern = NON_ASCII.test(normalized) ? UNICODE_TOKEN : ASCII_TOKEN;
  pattern.lastIndex = 0;
  const tokens: string[] = [];
  let match: RegExpExecArray | null;
  while (tokens.length < maxTokens && (match = pattern.exec(normalized)) !== null) tokens.push(match[0]);
  return tokens;
}

/** Appends the hashed unigram (and bigram) ids of `tokens` to `out`. Ids are in 1..buckets-1. */
function pushTokenIds(tokens: string[], config: FeaturizerConfig, out: number[]): void {
  const space = config.buckets - 1;
  let previous = 0;
  for (let i = 0; i < tokens.length; i++) {
    const h = hashString(tokens[i], config.hashSeed);
    out.push((h % space) + 1);
    if (config.bigrams && i > 0) out.push((hashPair(previous, h) % space) + 1);
    previous = h;
  }
}

// ---------------------------------------------------------------------------------------------
// Numeric features

interface TextStats {
  chars: number;
  exclaim: number;
  question: number;
  upper: number;
  letters: number;
  digits: number;
  nonAscii: number;
}

/** One pass over the raw text (before lowercasing: the upper-case ratio needs the original). */
function textStats(text: string): TextStats {
  const s: TextStats = { chars: text.length, exclaim: 0, question: 0, upper: 0, letters: 0, digits: 0, nonAscii: 0 };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) s.letters++;
    else if (c >= 65 && c <= 90) {
      s.letters++;
      s.upper++;
    } else if (c >= 48 && c <= 57) s.digits++;
    else if (c === 33) s.exclaim++;
    else if (c === 63) s.question++;
    else if (c > 127) s.nonAscii++;
  }
  return s;
}

function wordStats(tokens: string[]): { words: number; meanLen: number; uniqueRatio: number } {
  let words = 0;
  let letters = 0;
  const unique = new Set<string>();
  for (const t of tokens) {
    if (t === '!' || t === '?') continue;
    words++;
    letters += t.length;
    unique.add(t);
  }
  return { words, meanLen: words === 0 ? 0 : letters / words, uniqueRatio: words === 0 ? 0 : unique.size / words };
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** Raw numeric features in NUMERIC_FEATURES order. Missing helpful votes / verified are -1. */
function numericValues(review: ReviewInput, textTokens: string[]): number[] {
  const text = review.text ?? '';
  const s = textStats(text);
  const w = wordStats(textTokens);
  const votes = review.helpful_votes;
  const verified = review.verified;
  return [
    s.chars,
    w.words,
    review.title ? review.title.length : 0,
    ratio(s.exclaim, s.chars),
    ratio(s.question, s.chars),
    ratio(s.upper, s.letters),
    ratio(s.digits, s.chars),
    ratio(s.nonAscii, s.chars),
    w.meanLen,
    w.uniqueRatio,
    votes === null || votes === undefined ? -1 : Math.log1p(Math.max(0, votes)),
    verified === null || verified === undefined ? -1 : verified ? 1 : 0,
  ];
}

// ---------------------------------------------------------------------------------------------
// Batch featurisation (the only path, for training and serving alike)

export interface FeatureBatch {
  size: number;
  /** Token ids of row r are ids[offsets[r] .. offsets[r+1]). */
  ids: Int32Array;
  offsets: Int32Array;
  /** size x NUMERIC_FEATURES.length raw values (Prediction.features). */
  numericRaw: Float64Array;
  /** size x NUMERIC_FEATURES.length scaled values (model input). */
  numericScaled: Float32Array;
}

export const NUMERIC_COUNT = NUMERIC_FEATURES.length;
const SCALED_LIMIT = 10;
/** Floor of a feature's standard deviation: a feature constant in training must not divide by ~0. */
const MIN_STD = 1e-3;

/** Token ids and numeric features of one review (text truncated to maxTokens words). */
function featurizeOne(review: ReviewInput, config: FeaturizerConfig, ids: number[]): number[] {
  const textTokens = tokenize(normalizeText(review.text ?? ''), config.maxTokens);
  if (review.title) pushTokenIds(tokenize(normalizeText(review.title), MAX_TITLE_TOKENS), config, ids);
  pushTokenIds(textTokens, config, ids);
  return numericValues(review, textTokens);
}

export function featurizeBatch(reviews: readonly ReviewInput[], config: FeaturizerConfig): FeatureBatch {
  const size = reviews.length;
  const ids: number[] = [];
  const offsets = new Int32Array(size + 1);
  const numericRaw = new Float64Array(size * NUMERIC_COUNT);
  const numericScaled = new Float32Array(size * NUMERIC_COUNT);
  const { log1p, mean, std } = config.numeric;
  for (let r = 0; r < size; r++) {
    const values = featurizeOne(reviews[r], config, ids);
    offsets[r + 1] = ids.length;
    for (let f = 0; f < NUMERIC_COUNT; f++) {
      const raw = values[f];
      numericRaw[r * NUMERIC_COUNT + f] = raw;
      const x = log1p[f] ? Math.log1p(raw) : raw;
      // Clipped so one absurd input (a 1 MB text) cannot push the models far off their training range.
      numericScaled[r * NUMERIC_COUNT + f] = Math.max(-SCALED_LIMIT, Math.min(SCALED_LIMIT, (x - mean[f]) / std[f]));
    }
  }
  return { size, ids: Int32Array.from(ids), offsets, numericRaw, numericScaled };
}

/** The named raw numeric features of row r (what goes into Prediction.features). */
export function featureMap(batch: FeatureBatch, row: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let f = 0; f < NUMERIC_COUNT; f++) out[NUMERIC_FEATURES[f]] = batch.numericRaw[row * NUMERIC_COUNT + f];
  return out;
}

/** Training statistics of the (log1p-ed) numeric features; returns a new config with them. */
export function fitNumericScaling(config: FeaturizerConfig, reviews: readonly ReviewInput[]): FeaturizerConfig {
  const batch = featurizeBatch(reviews, createFeaturizerConfig(config));
  const n = batch.size;
  const mean = new Array<number>(NUMERIC_COUNT).fill(0);
  const sq = new Array<number>(NUMERIC_COUNT).fill(0);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < NUMERIC_COUNT; f++) {
      const raw = batch.numericRaw[r * NUMERIC_COUNT + f];
      const x = config.numeric.log1p[f] ? Math.log1p(raw) : raw;
      mean[f] += x;
      sq[f] += x * x;
    }
  }
  const numeric: NumericScaling = {
    names: [...config.numeric.names],
    log1p: [...config.numeric.log1p],
    mean: mean.map((m) => (n === 0 ? 0 : m / n)),
    std: sq.map((s, f) => {
      const m = n === 0 ? 0 : mean[f] / n;
      const variance = n === 0 ? 1 : s / n - m * m;
      return Math.max(Math.sqrt(Math.max(variance, 0)), MIN_STD);
    }),
  };
  return { ...config, numeric };
}
