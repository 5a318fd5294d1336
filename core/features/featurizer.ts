/**
 * The one featurizer of Driftline: the trainer, the scorer and the API all call `featurizeBatch`
 * with the FeaturizerConfig saved next to the model (featurizer.json), so training and serving see
 * bit-identical features.
 *
 * A review becomes
 *  - hashed token ids: word unigrams + bigrams of the normalised title and text, each hashed into
 *    `buckets` buckets (a power of two: the id is the hash's low bits), text truncated to `maxTokens` tokens;
 *  - numeric features (`NUMERIC_FEATURES`): raw values go to Prediction.features (drift monitoring),
 *    a scaled copy (log1p for counts, then standardised with the training mean/std) goes to the model.
 * The rating is never an input: it is the sentiment label.
 *
 * One file on purpose (~440 lines): normalisation, tokenising, hashing and the numeric features are the
 * featurizer's one inner loop over a review, and everything about them must be the same for training and
 * serving; kept together, nothing of it is exported that a caller could use differently.
 */
import { DriftlineError } from '../errors.js';
import type { ReviewInput } from '../review.js';
import { fmix32, hashPair } from './hash.js';

export const FEATURIZER_FORMAT_VERSION = 2;

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
  /** Hash buckets (a power of two); there is no padding id: the embedding bag needs none. */
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
  const buckets = options.buckets ?? 1 << 17;
  if (!Number.isInteger(buckets) || buckets < 2 || (buckets & (buckets - 1)) !== 0) {
    throw new DriftlineError('TRAINING_FAILED', `featurizer buckets must be a power of two, got ${buckets}`);
  }
  return {
    formatVersion: FEATURIZER_FORMAT_VERSION,
    kind: 'hashed-ngrams',
    buckets,
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
  if (!Number.isInteger(c.buckets) || (c.buckets ?? 0) < 2 || ((c.buckets ?? 0) & ((c.buckets ?? 0) - 1)) !== 0) fail('buckets must be a power of two');
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
const UNICODE_WORD_CHAR = /[\p{L}\p{N}]/u;
const UNICODE_LETTER = /\p{L}/u;

/** Lowercase, NFKC, HTML tags/entities and URLs removed. Fast path for plain ASCII. */
export function normalizeText(text: string): string {
  return normalizeKnown(text, NON_ASCII.test(text));
}

/** normalizeText when the caller already knows whether the text has a non-ASCII code unit. */
function normalizeKnown(text: string, nonAscii: boolean): string {
  let out = text;
  if (nonAscii) out = out.normalize('NFKC');
  if (out.includes('<')) out = out.replace(HTML_TAG, ' ');
  if (out.includes('&')) out = out.replace(ENTITY, (e) => ENTITIES[e] ?? ' ');
  if (out.includes('http') || out.includes('www.')) out = out.replace(URL, ' ');
  return out.toLowerCase();
}

// Character classes of the tokenizer: 1 = letter, 2 = digit. Non-ASCII code units are classified once
// (Unicode letters/numbers) and cached; surrogate halves are separators.
const ASCII_CLASS = new Uint8Array(128);
for (let c = 97; c <= 122; c++) ASCII_CLASS[c] = 1;
for (let c = 48; c <= 57; c++) ASCII_CLASS[c] = 2;
const unicodeClass = new Map<number, number>();

function charClass(c: number): number {
  if (c < 128) return ASCII_CLASS[c]!;
  let k = unicodeClass.get(c);
  if (k === undefined) {
    const ch = String.fromCharCode(c);
    k = UNICODE_LETTER.test(ch) ? 1 : UNICODE_WORD_CHAR.test(ch) ? 2 : 0;
    unicodeClass.set(c, k);
  }
  return k;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const EXCLAIM = 33;
const QUESTION = 63;

/** Token hashes and spans of one scanned text (reused scratch buffers: the scan allocates nothing). */
export interface TokenScratch {
  hashes: Uint32Array;
  starts: Int32Array;
  ends: Int32Array;
}

export function createTokenScratch(capacity: number): TokenScratch {
  return { hashes: new Uint32Array(capacity), starts: new Int32Array(capacity), ends: new Int32Array(capacity) };
}

/**
 * The tokenizer, as one scan over a normalised string: a token is a run of letters/digits, optionally
 * followed by an apostrophe (' or ’) and more letters ("don't"), or a single `!` / `?`. Each token's
 * FNV-1a hash (seeded, the same value as hashString(token, seed)) is computed during the scan, so the
 * serving path never allocates token strings. Returns the number of tokens (at most max and capacity).
 */
export function scanTokens(text: string, seed: number, max: number, out: TokenScratch): number {
  const { hashes, starts, ends } = out;
  const limit = Math.min(max, hashes.length);
  const n = text.length;
  const offset = (FNV_OFFSET ^ seed) >>> 0;
  let count = 0;
  let i = 0;
  while (i < n && count < limit) {
    const c = text.charCodeAt(i);
    if (c === EXCLAIM || c === QUESTION) {
      hashes[count] = fmix32(Math.imul(offset ^ c, FNV_PRIME));
      starts[count] = i;
      ends[count] = i + 1;
      count++;
      i++;
      continue;
    }
    // ASCII classes inline (the hot path); other code units through the cached Unicode lookup.
    if ((c < 128 ? ASCII_CLASS[c] : charClass(c)) === 0) {
      i++;
      continue;
    }
    const start = i;
    let h = offset;
    while (i < n) {
      const d = text.charCodeAt(i);
      if ((d < 128 ? ASCII_CLASS[d] : charClass(d)) === 0) break;
      h = Math.imul(h ^ d, FNV_PRIME);
      i++;
    }
    // An apostrophe followed by a letter continues the word, letters only.
    if (i + 1 < n) {
      const q = text.charCodeAt(i);
      if ((q === 39 || q === 0x2019) && charClass(text.charCodeAt(i + 1)) === 1) {
        h = Math.imul(h ^ q, FNV_PRIME);
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if ((d < 128 ? ASCII_CLASS[d] : charClass(d)) !== 1) break;
          h = Math.imul(h ^ d, FNV_PRIME);
          i++;
        }
      }
    }
    hashes[count] = fmix32(h);
    starts[count] = start;
    ends[count] = i;
    count++;
  }
  return count;
}


/** The tokens as strings (for the TF-IDF baseline and tests); the same scan as the hashed path. */
export function tokenize(normalized: string, maxTokens = Number.POSITIVE_INFINITY): string[] {
  const scratch = createTokenScratch(Math.min(maxTokens, normalized.length + 1));
  const count = scanTokens(normalized, 0, maxTokens, scratch);
  const tokens: string[] = [];
  for (let t = 0; t < count; t++) tokens.push(normalized.slice(scratch.starts[t], scratch.ends[t]));
  return tokens;
}

/** Growable Int32 buffer for the batch's token ids (no per-token boxing). */
class IdBuffer {
  data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(capacity, 64));
  }
  push(id: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = id;
  }
}

/** Word statistics of the text section; distinct words counted with a generation-stamped hash set. */
interface WordStats {
  words: number;
  letters: number;
  distinct: number;
  slots: Uint32Array;
  stamps: Uint32Array;
  generation: number;
}

function createWordStats(maxTokens: number): WordStats {
  let size = 64;
  while (size < maxTokens * 2) size *= 2;
  return { words: 0, letters: 0, distinct: 0, slots: new Uint32Array(size), stamps: new Uint32Array(size), generation: 0 };
}

function addDistinct(stats: WordStats, hash: number): void {
  const mask = stats.slots.length - 1;
  let slot = hash & mask;
  while (stats.stamps[slot] === stats.generation) {
    if (stats.slots[slot] === hash) return;
    slot = (slot + 1) & mask;
  }
  stats.stamps[slot] = stats.generation;
  stats.slots[slot] = hash;
  stats.distinct++;
}

/** Appends the hashed unigram (and bigram) ids of one text section; collects word stats if asked. */
function pushSection(normalized: string, maxTokens: number, config: FeaturizerConfig, out: IdBuffer, scratch: TokenScratch, stats: WordStats | null): void {
  const mask = config.buckets - 1;
  const count = scanTokens(normalized, config.hashSeed, maxTokens, scratch);
  const hashes = scratch.hashes;
  for (let t = 0; t < count; t++) {
    const h = hashes[t]!;
    out.push(h & mask);
    if (config.bigrams && t > 0) out.push(hashPair(hashes[t - 1]!, h) & mask);
    if (stats === null) continue;
    const start = scratch.starts[t]!;
    const length = scratch.ends[t]! - start;
    const c = normalized.charCodeAt(start);
    if (length === 1 && (c === EXCLAIM || c === QUESTION)) continue;
    stats.words++;
    stats.letters += length;
    addDistinct(stats, h);
  }
}

// ---------------------------------------------------------------------------------------------
// Numeric features

// Counter slots of the raw-text pass: one table lookup per character instead of a chain of range tests.
const LOWER = 0;
const UPPER = 1;
const DIGIT = 2;
const BANG = 3;
const QUERY = 4;
const OTHER_ASCII = 5;
const NON_ASCII_SLOT = 6;
const STAT_SLOT = new Uint8Array(128).fill(OTHER_ASCII);
for (let c = 97; c <= 122; c++) STAT_SLOT[c] = LOWER;
for (let c = 65; c <= 90; c++) STAT_SLOT[c] = UPPER;
for (let c = 48; c <= 57; c++) STAT_SLOT[c] = DIGIT;
STAT_SLOT[EXCLAIM] = BANG;
STAT_SLOT[QUESTION] = QUERY;

/** One pass over the raw text (before lowercasing: the upper-case ratio needs the original), counts into `counts` (reused). */
function countTextStats(text: string, counts: Int32Array): void {
  counts.fill(0);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    counts[c < 128 ? STAT_SLOT[c]! : NON_ASCII_SLOT]!++;
  }
}

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** Raw numeric features in NUMERIC_FEATURES order into raw[at..). Missing helpful votes / verified are -1. */
function writeNumericValues(review: ReviewInput, words: WordStats, counts: Int32Array, raw: Float64Array, at: number): void {
  const chars = (review.text ?? '').length;
  const letters = counts[LOWER]! + counts[UPPER]!;
  const votes = review.helpful_votes;
  const verified = review.verified;
  raw[at] = chars;
  raw[at + 1] = words.words;
  raw[at + 2] = review.title ? review.title.length : 0;
  raw[at + 3] = ratio(counts[BANG]!, chars);
  raw[at + 4] = ratio(counts[QUERY]!, chars);
  raw[at + 5] = ratio(counts[UPPER]!, letters);
  raw[at + 6] = ratio(counts[DIGIT]!, chars);
  raw[at + 7] = ratio(counts[NON_ASCII_SLOT]!, chars);
  raw[at + 8] = words.words === 0 ? 0 : words.letters / words.words;
  raw[at + 9] = words.words === 0 ? 0 : words.distinct / words.words;
  raw[at + 10] = votes === null || votes === undefined || !Number.isFinite(votes) ? -1 : Math.log1p(Math.max(0, votes));
  raw[at + 11] = verified === null || verified === undefined ? -1 : verified ? 1 : 0;
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

/** Token ids (title first, max 32 title tokens) and the raw numeric features (into raw[at..)) of one review. */
function featurizeOne(review: ReviewInput, config: FeaturizerConfig, ids: IdBuffer, scratch: TokenScratch, words: WordStats, counts: Int32Array, raw: Float64Array, at: number): void {
  words.words = 0;
  words.letters = 0;
  words.distinct = 0;
  // The stamps are reused from batch to batch: restart them before the generation wraps.
  if (++words.generation === 0xffffffff) {
    words.stamps.fill(0);
    words.generation = 1;
  }
  const text = review.text ?? '';
  // The character counts first: they tell whether the text has non-ASCII code units, which spares normalising a regex scan.
  countTextStats(text, counts);
  if (review.title) pushSection(normalizeText(review.title), MAX_TITLE_TOKENS, config, ids, scratch, null);
  pushSection(normalizeKnown(text, counts[NON_ASCII_SLOT]! > 0), config.maxTokens, config, ids, scratch, words);
  writeNumericValues(review, words, counts, raw, at);
}

export function featurizeBatch(reviews: readonly ReviewInput[], config: FeaturizerConfig): FeatureBatch {
  const size = reviews.length;
  // Usually room for every id without regrowing (a word takes two characters with its separator and
  // adds two ids, unigram + bigram); runs of '!' can exceed it, and then the buffer grows.
  let chars = 0;
  for (const review of reviews) chars += (review.text?.length ?? 0) + (review.title?.length ?? 0) + 2;
  const { ids, tokens: scratch, words, counts } = batchScratch(chars + 64, config.maxTokens);
  const offsets = new Int32Array(size + 1);
  const numericRaw = new Float64Array(size * NUMERIC_COUNT);
  const numericScaled = new Float32Array(size * NUMERIC_COUNT);
  const { log1p, mean, std } = config.numeric;
  for (let r = 0; r < size; r++) {
    featurizeOne(reviews[r]!, config, ids, scratch, words, counts, numericRaw, r * NUMERIC_COUNT);
    offsets[r + 1] = ids.length;
    for (let f = 0; f < NUMERIC_COUNT; f++) {
      const raw = numericRaw[r * NUMERIC_COUNT + f]!;
      const x = log1p[f] ? Math.log1p(raw) : raw;
      // Clipped so one absurd input (a 1 MB text) cannot push the models far off their training range.
      numericScaled[r * NUMERIC_COUNT + f] = Math.max(-SCALED_LIMIT, Math.min(SCALED_LIMIT, (x - mean[f]!) / std[f]!));
    }
  }
  const result = { size, ids: ids.data.slice(0, ids.length), offsets, numericRaw, numericScaled };
  // An outsized batch's id buffer is not kept (the next one allocates its own again).
  if (ids.data.length > MAX_KEPT_IDS) reusable = null;
  return result;
}

/**
 * Buffers featurizeBatch reuses from call to call (it runs synchronously, and its result copies what it
 * keeps): a batch of 512 reviews allocated a fresh, zeroed id buffer of ~2 MB each time, whose external
 * memory brought the heap's garbage collections forward.
 */
interface BatchScratch {
  ids: IdBuffer;
  tokens: TokenScratch;
  words: WordStats;
  counts: Int32Array;
  maxTokens: number;
}

const MAX_KEPT_IDS = 1 << 22;
let reusable: BatchScratch | null = null;

/** The reused buffers, with room for `idCapacity` ids and texts of `maxTokens` tokens; the id buffer emptied. */
function batchScratch(idCapacity: number, maxTokens: number): BatchScratch {
  if (reusable === null || reusable.maxTokens < maxTokens) {
    reusable = { ids: new IdBuffer(idCapacity), tokens: createTokenScratch(Math.max(maxTokens, MAX_TITLE_TOKENS)), words: createWordStats(maxTokens), counts: new Int32Array(NON_ASCII_SLOT + 1), maxTokens };
  }
  const { ids } = reusable;
  if (ids.data.length < idCapacity) ids.data = new Int32Array(idCapacity);
  ids.length = 0;
  return reusable;
}

/**
 * The named raw numeric features of row r (what goes into Prediction.features). One object literal in
 * NUMERIC_FEATURES order: every map gets the same hidden class at once, where adding the keys one by one
 * walked 12 shape transitions per review (its key order is NUMERIC_FEATURES': tests/core/features).
 */
export function featureMap(batch: FeatureBatch, row: number): Record<string, number> {
  const v = batch.numericRaw;
  const at = row * NUMERIC_COUNT;
  return {
    text_chars: v[at]!,
    text_words: v[at + 1]!,
    title_chars: v[at + 2]!,
    exclaim_ratio: v[at + 3]!,
    question_ratio: v[at + 4]!,
    upper_ratio: v[at + 5]!,
    digit_ratio: v[at + 6]!,
    nonascii_ratio: v[at + 7]!,
    mean_word_len: v[at + 8]!,
    unique_word_ratio: v[at + 9]!,
    helpful_log1p: v[at + 10]!,
    verified: v[at + 11]!,
  } satisfies Record<NumericFeatureName, number>;
}

/** Training statistics of the (log1p-ed) numeric features; returns a new config with them. */
export function fitNumericScaling(config: FeaturizerConfig, reviews: readonly ReviewInput[]): FeaturizerConfig {
  const batch = featurizeBatch(reviews, createFeaturizerConfig(config));
  const n = batch.size;
  const mean = new Array<number>(NUMERIC_COUNT).fill(0);
  const sq = new Array<number>(NUMERIC_COUNT).fill(0);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < NUMERIC_COUNT; f++) {
      const raw = batch.numericRaw[r * NUMERIC_COUNT + f]!;
      const x = config.numeric.log1p[f] ? Math.log1p(raw) : raw;
      mean[f]! += x;
      sq[f]! += x * x;
    }
  }
  const numeric: NumericScaling = {
    names: [...config.numeric.names],
    log1p: [...config.numeric.log1p],
    mean: mean.map((m) => (n === 0 ? 0 : m / n)),
    std: sq.map((s, f) => {
      const m = n === 0 ? 0 : mean[f]! / n;
      const variance = n === 0 ? 1 : s / n - m * m;
      return Math.max(Math.sqrt(Math.max(variance, 0)), MIN_STD);
    }),
  };
  return { ...config, numeric };
}
