/**
 * Text-anomaly features: what the embedding-space detectors (autoencoder, isolation forest) cannot see,
 * because hashing maps any string to some trained bucket and the pooled embedding of nonsense looks
 * ordinary. One pass over the raw text, integer arithmetic only, no allocation:
 *
 *  - charSurprise: mean per-character surprise (bits) under a character 4-gram language model of the
 *    training texts, backed off to 3-grams and then to a fixed "unseen" cost. The model is stored as two
 *    hashed tables of quantised surprise (one byte per bucket, 0 = never seen): gibberish, foreign
 *    scripts and code are improbable character sequences for English reviews.
 * All four read the first MAX_LM_CHARS characters (anomalies show there; the cost stays fixed).
 *  - oovShare: share of words outside the training vocabulary (words seen in at least 2 training reviews,
 *    kept as a hashed bitset).
 *  - repeatShare: share of word bigrams that already occurred earlier in the same text (one phrase
 *    copied many times).
 *  - nonLetterShare: share of non-space characters that are neither letters nor digits (symbol runs,
 *    markup, URLs).
 *
 * Each of these and the two embedding detectors' raw scores (OUTLIER_SIGNALS) is turned into a tail score
 * z = (x - median) / (q99 - median) with the median and 99th percentile of held-out real reviews, so 1
 * means "as strange as the strangest 1 % of real reviews" on that axis; the runtime takes the largest z
 * and calibrates it again on held-out reviews (an ECDF), so the outlier score stays a percentile.
 *
 * One file on purpose (~380 lines): fitting the tables and scoring a text must hash, fold and quantise
 * characters and words in exactly the same way; the shared constants and helpers stay private to this file
 * so the two sides cannot drift apart.
 */
import { DriftlineError } from '../errors.js';
import { round7 } from './outlier.js';

export const TEXT_FEATURES = ['charSurprise', 'oovShare', 'repeatShare', 'nonLetterShare'] as const;
/** Everything the outlier score takes the largest tail score of: the text features and the embedding detectors. */
export const OUTLIER_SIGNALS = [...TEXT_FEATURES, 'autoencoderError', 'forestScore'] as const;
export const SIGNAL_COUNT = OUTLIER_SIGNALS.length;

/** Characters of a text the language model reads: anomalies show in the first few hundred. */
const MAX_LM_CHARS = 240;
/** Words of a training text counted for the vocabulary. */
const MAX_WORDS = 800;
/** Surprise is quantised in 1/16 bit steps into a byte (1..255); 0 marks an unseen bucket. */
const STEPS_PER_BIT = 16;
/** Cost of backing off one order (stupid-backoff style, -log2 0.4). */
const BACKOFF_BITS = 1.32;
/** Cost of a character whose 3-gram was never seen in training. */
const UNSEEN_BITS = 14;
const BACKOFF_STEPS = Math.round(BACKOFF_BITS * STEPS_PER_BIT);
const UNSEEN_STEPS = UNSEEN_BITS * STEPS_PER_BIT;

export interface TextAnomalyTables {
  /** log2 of the bucket counts. */
  gram4Bits: number;
  gram3Bits: number;
  vocabBits: number;
  /** Quantised surprise of (3 chars, next char) and (2 chars, next char) buckets. */
  gram4: Uint8Array;
  gram3: Uint8Array;
  /** Bitset of known word hashes. */
  vocab: Uint8Array;
}

export interface TextAnomalyCalibration {
  /** Per signal (OUTLIER_SIGNALS order): median and 99th percentile on held-out real reviews. */
  median: number[];
  q99: number[];
}

export interface TextAnomalyModel extends TextAnomalyTables, TextAnomalyCalibration {}

export const DEFAULT_TABLE_BITS = { gram4Bits: 19, gram3Bits: 16, vocabBits: 20 } as const;

// ---------------------------------------------------------------------------------------------
// The scan shared by training (counting) and scoring

/** Folded character code: ASCII lowercase, digits as '0', whitespace as one space; others unchanged. */
function foldChar(c: number): number {
  if (c >= 65 && c <= 90) return c + 32;
  if (c >= 48 && c <= 57) return 48;
  if (c === 9 || c === 10 || c === 13) return 32;
  return c;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || c === 48 || c === 39 || (c > 127 && c !== 0x2019 && !(c >= 0x2000 && c <= 0x206f));
}

/** foldChar, and isWordChar of the folded code, of every ASCII code: the scoring loop's per-character tests as two lookups. */
const ASCII_FOLD = Uint8Array.from({ length: 128 }, (_, c) => foldChar(c));
const ASCII_WORD = Uint8Array.from({ length: 128 }, (_, c) => (isWordChar(foldChar(c)) ? 1 : 0));

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Multiply-shift hashes of folded character 3- and 4-grams (the top bits index the tables). Cheap on
 * purpose: they run once per character on the scoring path.
 */
function key3(a: number, b: number, c: number): number {
  return Math.imul(Math.imul(Math.imul(a + 0x3, 0x01000193) + b, 0x01000193) + c, 0x9e3779b1) >>> 0;
}

function key4(a: number, b: number, c: number, d: number): number {
  return Math.imul(Math.imul(Math.imul(Math.imul(a + 0x4, 0x01000193) + b, 0x01000193) + c, 0x01000193) + d, 0x9e3779b1) >>> 0;
}

/** FNV-1a of folded word characters, 0 when the word is empty. */
function wordHashes(text: string, out: Uint32Array): number {
  let count = 0;
  let h = 0x811c9dc5;
  let len = 0;
  const n = text.length;
  for (let i = 0; i <= n && count < out.length; i++) {
    const c = i < n ? foldChar(text.charCodeAt(i)) : 32;
    if (isWordChar(c)) {
      h = Math.imul(h ^ c, 0x01000193);
      len++;
    } else if (len > 0) {
      out[count++] = mix(h);
      h = 0x811c9dc5;
      len = 0;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Training

export interface TextAnomalyTrainingOptions {
  gram4Bits?: number;
  gram3Bits?: number;
  vocabBits?: number;
  /** A word is known when it occurs in at least this many training texts. */
  minWordDocs?: number;
}

/** log2 of the counting tables' sizes (training only; typed arrays, so counting makes no garbage). */
const COUNT_BITS = 22;

/**
 * Counts 4-grams, 3-grams and their contexts (hashed into 2^22 counters each) over the training texts,
 * then, in a second pass, stores per table bucket the interpolated surprise -log2 P(next | context):
 * P4 = (n4 + 2 P3) / (n(3-char context) + 2), P3 = (n3 + 2 2^-UNSEEN_BITS) / (n(2-char context) + 2).
 * Colliding buckets keep the most probable (smallest) value.
 */
export function fitTextAnomalyTables(texts: readonly string[], options: TextAnomalyTrainingOptions = {}): TextAnomalyTables {
  const gram4Bits = options.gram4Bits ?? DEFAULT_TABLE_BITS.gram4Bits;
  const gram3Bits = options.gram3Bits ?? DEFAULT_TABLE_BITS.gram3Bits;
  const vocabBits = options.vocabBits ?? DEFAULT_TABLE_BITS.vocabBits;
  const countShift = 32 - COUNT_BITS;
  const n4 = new Uint32Array(1 << COUNT_BITS);
  const n3 = new Uint32Array(1 << COUNT_BITS);
  const ctx3 = new Uint32Array(1 << COUNT_BITS);
  const ctx2 = new Uint32Array(1 << COUNT_BITS);
  const gram4 = new Uint8Array(1 << gram4Bits);
  const gram3 = new Uint8Array(1 << gram3Bits);
  const floor = 2 ** -UNSEEN_BITS;
  for (const storing of [false, true]) {
    for (const text of texts) {
      let a = 32;
      let b = 32;
      let c = 32;
      const n = Math.min(text.length, MAX_LM_CHARS);
      for (let i = 0; i < n; i++) {
        const d = foldChar(text.charCodeAt(i));
        if (d === 32 && c === 32) continue;
        const k4 = key4(a, b, c, d);
        const k3 = key3(b, c, d);
        const c3 = key3(a, b, c) >>> countShift;
        const c2 = (Math.imul(Math.imul(b + 0x2, 0x01000193) + c, 0x9e3779b1) >>> 0) >>> countShift;
        if (!storing) {
          n4[k4 >>> countShift]!++;
          n3[k3 >>> countShift]!++;
          ctx3[c3]!++;
          ctx2[c2]!++;
        } else {
          const p3 = (n3[k3 >>> countShift]! + 2 * floor) / (ctx2[c2]! + 2);
          const p4 = (n4[k4 >>> countShift]! + 2 * p3) / (ctx3[c3]! + 2);
          store(gram3, k3 >>> (32 - gram3Bits), -Math.log2(p3));
          store(gram4, k4 >>> (32 - gram4Bits), -Math.log2(p4));
        }
        a = b;
        b = c;
        c = d;
      }
    }
  }
  const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  const vocab = new Uint8Array(1 << Math.max(vocabBits - 3, 0));
  const docs = new Map<number, number>();
  const words = new Uint32Array(MAX_WORDS);
  for (const text of texts) {
    const count = wordHashes(text, words);
    const seen = new Set<number>();
    for (let w = 0; w < count; w++) seen.add(words[w]!);
    for (const h of seen) bump(docs, h);
  }
  for (const [h, d] of docs) {
    if (d < (options.minWordDocs ?? 2)) continue;
    const bit = h >>> (32 - vocabBits);
    vocab[bit >>> 3]! |= 1 << (bit & 7);
  }
  return { gram4Bits, gram3Bits, vocabBits, gram4, gram3, vocab };
}

function store(table: Uint8Array, bucket: number, bits: number): void {
  const q = Math.min(255, Math.max(1, Math.round(bits * STEPS_PER_BIT)));
  if (table[bucket] === 0 || q < table[bucket]!) table[bucket] = q;
}

// ---------------------------------------------------------------------------------------------
// Scoring

/** Reusable buffers of the scorer (one per runtime): a set of the word bigrams seen in the current text. */
export interface TextAnomalyScratch {
  setKeys: Uint32Array;
  setStamps: Uint32Array;
  generation: number;
}

export function createTextAnomalyScratch(): TextAnomalyScratch {
  // Room for the bigrams of MAX_LM_CHARS characters at a load of at most 1/2.
  return { setKeys: new Uint32Array(512), setStamps: new Uint32Array(512), generation: 0 };
}

/**
 * The text features of one text (TEXT_FEATURES order) into out[at..at+4), in one pass over its first
 * MAX_LM_CHARS characters: the language model, the non-letter count and the words (vocabulary and
 * repeated bigrams) all read the same folded characters. A word cut by the limit is not judged.
 */
export function textFeatures(t: TextAnomalyTables, text: string, s: TextAnomalyScratch, out: Float64Array, at: number): void {
  const shift4 = 32 - t.gram4Bits;
  const shift3 = 32 - t.gram3Bits;
  const vocabShift = 32 - t.vocabBits;
  const { gram4, gram3, vocab } = t;
  const { setKeys, setStamps } = s;
  if (++s.generation === 0xffffffff) {
    setStamps.fill(0);
    s.generation = 1;
  }
  const generation = s.generation;
  const mask = setKeys.length - 1;
  let total = 0;
  let chars = 0;
  let visible = 0;
  let other = 0;
  let words = 0;
  let unknown = 0;
  let bigrams = 0;
  let repeats = 0;
  let previousWord = 0;
  let word = 0x811c9dc5;
  let wordLength = 0;
  let a = 32;
  let b = 32;
  let c = 32;
  const n = Math.min(text.length, MAX_LM_CHARS);
  for (let i = 0; i <= n; i++) {
    // One step past the end closes the last word (unless the limit cut it).
    const raw = i < n ? text.charCodeAt(i) : 32;
    const ascii = raw < 128;
    const d = ascii ? ASCII_FOLD[raw]! : foldChar(raw);
    const wordChar = ascii ? ASCII_WORD[raw] === 1 : isWordChar(d);
    if (wordChar) {
      word = Math.imul(word ^ d, 0x01000193);
      wordLength++;
    } else if (wordLength > 0) {
      if (i < n || n === text.length) {
        const h = mix(word);
        words++;
        const bit = h >>> vocabShift;
        if ((vocab[bit >>> 3]! & (1 << (bit & 7))) === 0) unknown++;
        if (words > 1) {
          bigrams++;
          const key = (mix(Math.imul(previousWord, 0x9e3779b1) ^ h) | 1) >>> 0;
          let slot = key & mask;
          while (setStamps[slot] === generation && setKeys[slot] !== key) slot = (slot + 1) & mask;
          if (setStamps[slot] === generation) repeats++;
          else {
            setStamps[slot] = generation;
            setKeys[slot] = key;
          }
        }
        previousWord = h;
      }
      word = 0x811c9dc5;
      wordLength = 0;
    }
    if (i === n) break;
    if (d === 32) {
      if (c === 32) continue;
    } else {
      visible++;
      // An ASCII character that is neither space nor a word character (a-z, digit, apostrophe) is "other".
      if (ascii) {
        if (!wordChar) other++;
      } else if ((raw >= 0x2000 && raw <= 0x2bff) || (raw >= 0xd800 && raw <= 0xdfff)) other++; // punctuation, symbols, box drawing; emoji halves
    }
    const q4 = gram4[key4(a, b, c, d) >>> shift4]!;
    if (q4 !== 0) total += q4;
    else {
      const q3 = gram3[key3(b, c, d) >>> shift3]!;
      total += q3 !== 0 ? q3 + BACKOFF_STEPS : UNSEEN_STEPS;
    }
    a = b;
    b = c;
    c = d;
    chars++;
  }
  // An empty text is not improbable text: the embedding detectors judge it (length features).
  out[at] = chars === 0 ? 0 : total / (chars * STEPS_PER_BIT);
  out[at + 1] = words === 0 ? 0 : unknown / words;
  // Fewer than two bigrams say nothing about repetition.
  out[at + 2] = bigrams < 2 ? 0 : repeats / bigrams;
  out[at + 3] = visible === 0 ? 0 : other / visible;
}

/** Largest tail score over the signals of one row of `raw` (SIGNAL_COUNT wide). */
export function largestTailScore(cal: TextAnomalyCalibration, raw: Float64Array, at: number): number {
  let best = -Infinity;
  for (let f = 0; f < SIGNAL_COUNT; f++) {
    const z = (raw[at + f]! - cal.median[f]!) / Math.max(cal.q99[f]! - cal.median[f]!, 1e-6);
    if (z > best) best = z;
  }
  return best;
}

/** Median and 99th percentile of each signal over `rows` rows of raw signals (SIGNAL_COUNT wide). */
export function calibrateSignals(raw: Float64Array, rows: number): TextAnomalyCalibration {
  const median: number[] = [];
  const q99: number[] = [];
  for (let f = 0; f < SIGNAL_COUNT; f++) {
    const values = new Float64Array(rows);
    for (let r = 0; r < rows; r++) values[r] = raw[r * SIGNAL_COUNT + f]!;
    values.sort();
    median.push(round7(quantile(values, 0.5)));
    q99.push(round7(quantile(values, 0.99)));
  }
  return { median, q99 };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

// ---------------------------------------------------------------------------------------------
// Artifact: one binary file (gram4, gram3, vocab back to back) + sizes and calibration in outlier.json

export interface TextAnomalyJson extends TextAnomalyCalibration {
  gram4Bits: number;
  gram3Bits: number;
  vocabBits: number;
}

export function textTablesBytes(t: TextAnomalyTables): Uint8Array {
  const out = new Uint8Array(t.gram4.length + t.gram3.length + t.vocab.length);
  out.set(t.gram4, 0);
  out.set(t.gram3, t.gram4.length);
  out.set(t.vocab, t.gram4.length + t.gram3.length);
  return out;
}

/** Rebuilds the model from its JSON part and binary; MODEL_LOAD_FAILED when they do not fit. */
export function textAnomalyFromArtifacts(json: TextAnomalyJson, bytes: Uint8Array, where: string): TextAnomalyModel {
  const bitsOk = (b: unknown) => Number.isInteger(b) && (b as number) >= 8 && (b as number) <= 26;
  if (!bitsOk(json.gram4Bits) || !bitsOk(json.gram3Bits) || !bitsOk(json.vocabBits)) throw new DriftlineError('MODEL_LOAD_FAILED', `${where}: text-anomaly table sizes invalid`);
  const sizes = [1 << json.gram4Bits, 1 << json.gram3Bits, 1 << (json.vocabBits - 3)];
  if (bytes.byteLength !== sizes[0]! + sizes[1]! + sizes[2]!) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${where}: ${bytes.byteLength} bytes, the text-anomaly tables need ${sizes[0]! + sizes[1]! + sizes[2]!}`);
  }
  const finite = (xs: unknown) => Array.isArray(xs) && xs.length === SIGNAL_COUNT && xs.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!finite(json.median) || !finite(json.q99)) throw new DriftlineError('MODEL_LOAD_FAILED', `${where}: text-anomaly calibration invalid`);
  return {
    gram4Bits: json.gram4Bits,
    gram3Bits: json.gram3Bits,
    vocabBits: json.vocabBits,
    gram4: bytes.subarray(0, sizes[0]),
    gram3: bytes.subarray(sizes[0], sizes[0]! + sizes[1]!),
    vocab: bytes.subarray(sizes[0]! + sizes[1]!),
    median: json.median,
    q99: json.q99,
  };
}
