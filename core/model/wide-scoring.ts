/**
 * The wide part of the model family (core/model/text-model.ts) at work: a review's hashed ids as a sparse
 * TF-IDF row (sublinear tf, the model's idf, L2-normalised), its linear softmax over the three sentiment
 * classes, and the blend and temperature arithmetic of sentiment probabilities. The same code scores for
 * the trainer (trainer/wide.ts) and for serving (core/model/runtime.ts), so the two cannot drift apart.
 */
import { DriftlineError } from '../errors.js';
import type { FeatureBatch } from '../features/featurizer.js';
import type { SentimentBlend, WideModel } from './text-model.js';

/** Floats of the wide part per bucket in a packed block: idf, kernel x 3 (16 bytes). */
const WIDE_FLOATS = 4;

/**
 * Reused state of the wide part. The model is laid out per bucket as one block [idf, kernel0, kernel1,
 * kernel2], so each id of a row touches one small block. A serving scratch (createServingScratch) puts the
 * bucket's embedding row in front of it, [embedding(dim), idf, kernel x 3]: the pooling's gather of a row
 * then brings the wide part's block into the cache with it (the next line at most), where two separate
 * tables cost two cache misses per id (the 4 MiB embedding and 1 MiB wide tables do not fit the cache).
 * Ids are deduplicated per row in a small open-addressing set stamped with the row's generation (it stays
 * in L1 and is never cleared).
 */
export interface WideScratch {
  floats: Float32Array;
  /** Floats per bucket block, and where in a block the idf is (the embedding row comes first, if any). */
  stride: number;
  lead: number;
  /** The embedding copied into the blocks (serving scratch), or null. */
  embedding: Float32Array | null;
  /**
   * The wide category part's quantized kernel (buckets x categoryClasses), each weight an int8 multiple of its class's
   * step, copied as int8 into the blocks after the wide sentiment weights (serving scratch of a model with a category
   * blend), or null: its rows then come with the same gather. Int8 keeps a block of a 16-wide embedding in 96 bytes,
   * the two cache lines the model without the blend touched (float weights made 136 bytes, three lines).
   */
  categoryKernel: Float32Array | null;
  categoryClasses: number;
  /** Per class, the step the int8 weights are multiples of (the kernel's weight = int8 x step, exactly). */
  categorySteps: Float64Array | null;
  /** The blocks as bytes (the int8 category weights sit at CATEGORY_BYTE_OFFSET after a block's idf), or null. */
  categoryBytes: Int8Array | null;
  packedIdf: Float32Array | null;
  packedKernel: Float32Array | null;
  setKeys: Int32Array;
  setStamps: Int32Array;
  setSlots: Int32Array;
  ids: Int32Array;
  counts: Int32Array;
  values: Float32Array;
  /** Entries of the row collected last (ids / values [0, count)). */
  count: number;
  generation: number;
}

/** A wide category part as a serving scratch packs it: its kernel, class count and int8 steps (quantizedCategorySteps). */
export interface PackedCategoryPart {
  kernel: Float32Array;
  classes: number;
  steps: Float64Array;
}

function createScratch(buckets: number, embedding: Float32Array | null, dim: number, category: PackedCategoryPart | null = null): WideScratch {
  // The int8 category weights take whole floats of the block (four to a float), padded to a multiple of eight classes
  // (packedCategoryRowLogits sums eight per pass).
  const stride = dim + WIDE_FLOATS + 2 * Math.ceil((category?.classes ?? 0) / 8);
  const floats = new Float32Array(buckets * stride);
  return {
    floats,
    stride,
    lead: dim,
    embedding,
    categoryKernel: category?.kernel ?? null,
    categoryClasses: category?.classes ?? 0,
    categorySteps: category?.steps ?? null,
    categoryBytes: category ? new Int8Array(floats.buffer) : null,
    packedIdf: null,
    packedKernel: null,
    setKeys: new Int32Array(2048),
    setStamps: new Int32Array(2048),
    setSlots: new Int32Array(2048),
    ids: new Int32Array(1024),
    counts: new Int32Array(1024),
    values: new Float32Array(1024),
    count: 0,
    generation: 0,
  };
}

export function createWideScratch(buckets: number): WideScratch {
  return createScratch(buckets, null, 0);
}

/**
 * A scratch whose blocks also hold the embedding rows (buckets x dim, row-major): for the runtime's fused
 * pooling + wide pass (core/model/runtime.ts), which reads a bucket's embedding row at floats[b * stride].
 * With `category` (a quantized wide category part, buckets x classes) the blocks end with the bucket's int8 category
 * weights too, read by collectedRowCategoryLogits (core/model/category-wide.ts).
 */
export function createServingScratch(buckets: number, embedding: Float32Array, dim: number, category?: PackedCategoryPart): WideScratch {
  if (embedding.length !== buckets * dim) throw new DriftlineError('MODEL_LOAD_FAILED', `embedding has ${embedding.length} values, expected ${buckets} x ${dim}`);
  if (category && category.kernel.length !== buckets * category.classes) throw new DriftlineError('MODEL_LOAD_FAILED', `category kernel has ${category.kernel.length} values, expected ${buckets} x ${category.classes}`);
  if (category && category.steps.length !== category.classes) throw new DriftlineError('MODEL_LOAD_FAILED', `category part has ${category.steps.length} int8 steps, expected one per class (${category.classes})`);
  return createScratch(buckets, embedding, dim, category ?? null);
}

/** Where a block's int8 category weights start in categoryBytes, counted in bytes from its idf's (4 x the ids a collected row holds). */
export const CATEGORY_BYTE_OFFSET = WIDE_FLOATS * 4;

/** Lays idf (and the kernel, when given) into the blocks, unless these very arrays are there already. */
function pack(s: WideScratch, idf: Float32Array, kernel: Float32Array | null): void {
  if (s.packedIdf === idf && s.packedKernel === kernel) return;
  const { floats, stride, lead, embedding, categoryKernel, categoryClasses, categorySteps, categoryBytes } = s;
  floats.fill(0);
  for (let b = 0; b < idf.length; b++) {
    const at = b * stride;
    // A plain loop: a subarray per bucket made 65,536 views at every load (~0.1 s of the scorer's start).
    if (embedding) for (let d = 0; d < lead; d++) floats[at + d] = embedding[b * lead + d]!;
    floats[at + lead] = idf[b]!;
    if (kernel) {
      floats[at + lead + 1] = kernel[b * 3]!;
      floats[at + lead + 2] = kernel[b * 3 + 1]!;
      floats[at + lead + 3] = kernel[b * 3 + 2]!;
    }
    if (categoryKernel && categorySteps && categoryBytes) {
      // Exact: the kernel's weights are int8 multiples of their power-of-two steps (checked by quantizedCategorySteps).
      const byte = (at + lead) * 4 + CATEGORY_BYTE_OFFSET;
      for (let c = 0; c < categoryClasses; c++) categoryBytes[byte + c] = categoryKernel[b * categoryClasses + c]! / categorySteps[c]!;
    }
  }
  s.packedIdf = idf;
  s.packedKernel = kernel;
}

/** Room in the per-row set for `count` ids at a load of at most 1/2 (fresh, so stamps restart). */
function ensureRowCapacity(s: WideScratch, count: number): void {
  if (count > s.ids.length) {
    s.ids = new Int32Array(count);
    s.counts = new Int32Array(count);
    s.values = new Float32Array(count);
  }
  if (count * 2 > s.setKeys.length) {
    let size = s.setKeys.length;
    while (size < count * 2) size *= 2;
    s.setKeys = new Int32Array(size);
    s.setStamps = new Int32Array(size);
    s.setSlots = new Int32Array(size);
    s.generation = 0;
  }
  if (s.generation === 0x7fffffff) {
    s.setStamps.fill(0);
    s.generation = 0;
  }
}

/** 1 + ln(tf) for small counts (the common case), so the hot loop does no Math.log. */
const SUBLINEAR = Float32Array.from({ length: 256 }, (_, k) => (k === 0 ? 0 : 1 + Math.log(k)));

/**
 * Distinct ids of row r with idf > 0, their sublinear tf x idf, L2-normalised, into s.ids / s.values;
 * returns the count. The one definition for training and serving (the blocks must be packed).
 */
function collectRow(batch: FeatureBatch, r: number, s: WideScratch): number {
  const start = batch.offsets[r]!;
  const end = batch.offsets[r + 1]!;
  ensureRowCapacity(s, end - start);
  const generation = ++s.generation;
  const { floats, stride, lead, setKeys, setStamps, setSlots, ids, counts, values } = s;
  const mask = setKeys.length - 1;
  const all = batch.ids;
  let n = 0;
  for (let i = start; i < end; i++) {
    // The idf's index in the blocks: also the set's key (the slot choice moves no result: ids keep first-seen order).
    const at = all[i]! * stride + lead;
    let slot = Math.imul(at, 0x9e3779b1) >>> 7 & mask;
    while (setStamps[slot] === generation && setKeys[slot] !== at) slot = (slot + 1) & mask;
    if (setStamps[slot] === generation) {
      counts[setSlots[slot]!]!++;
    } else if (floats[at]! > 0) {
      setStamps[slot] = generation;
      setKeys[slot] = at;
      setSlots[slot] = n;
      counts[n] = 1;
      ids[n++] = at;
    }
  }
  let norm = 0;
  for (let k = 0; k < n; k++) {
    const tf = counts[k]!;
    const v = (tf < 256 ? SUBLINEAR[tf]! : 1 + Math.log(tf)) * floats[ids[k]!]!;
    values[k] = v;
    norm += v * v;
  }
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let k = 0; k < n; k++) values[k]! *= inv;
  s.count = n;
  return n;
}

/**
 * The sparse TF-IDF vector of row r, for the trainer: returns the number of entries; s.values holds the
 * values and s.ids their block offsets (see wideBucket).
 */
export function wideRow(batch: FeatureBatch, r: number, idf: Float32Array, s: WideScratch): number {
  pack(s, idf, null);
  return collectRow(batch, r, s);
}

/**
 * Collects row r into the scratch without scoring it (ids, values, count), for a serving pass whose wide
 * sentiment part is switched off but whose category blend reads the row (packedCategoryRowLogits).
 */
export function collectWideRow(batch: FeatureBatch, r: number, s: WideScratch): number {
  return collectRow(batch, r, s);
}

/** Bucket of a wideRow entry. */
export function wideBucket(s: WideScratch, k: number): number {
  return (s.ids[k]! - s.lead) / s.stride;
}

/** Softmax probabilities of the wide part for every row of the batch (size x 3). */
export function wideProbabilities(batch: FeatureBatch, wide: WideModel, s: WideScratch): Float32Array {
  const out = new Float32Array(batch.size * 3);
  packWide(s, wide);
  for (let r = 0; r < batch.size; r++) wideRowProbabilities(batch, r, wide, s, out, r * 3);
  return out;
}

/** Lays the wide model into the scratch's blocks (once: later calls with the same model do nothing). */
export function packWide(s: WideScratch, wide: WideModel): void {
  pack(s, wide.idf, wide.kernel);
}

/** The wide part's softmax probabilities of row r into out[at..at+3); the scratch must hold `wide` (packWide). */
export function wideRowProbabilities(batch: FeatureBatch, r: number, wide: WideModel, s: WideScratch, out: Float32Array, at: number): void {
  const n = collectRow(batch, r, s);
  const { bias } = wide;
  let z0 = bias[0]!;
  let z1 = bias[1]!;
  let z2 = bias[2]!;
  const { floats, ids, values } = s;
  for (let k = 0; k < n; k++) {
    const block = ids[k]!;
    const v = values[k]!;
    z0 += floats[block + 1]! * v;
    z1 += floats[block + 2]! * v;
    z2 += floats[block + 3]! * v;
  }
  softmax3(z0, z1, z2, out, at);
}

export function softmax3(z0: number, z1: number, z2: number, out: Float32Array | Float64Array, at: number): void {
  const m = Math.max(z0, z1, z2);
  const e0 = Math.exp(z0 - m);
  const e1 = Math.exp(z1 - m);
  const e2 = Math.exp(z2 - m);
  const sum = e0 + e1 + e2;
  out[at] = e0 / sum;
  out[at + 1] = e1 / sum;
  out[at + 2] = e2 / sum;
}

/** Blends deep and wide probabilities into `deep` (in place), see SentimentBlend. */
export function blendSentiment(deep: Float32Array, wide: Float32Array, blend: SentimentBlend): void {
  const w = blend.wideWeight;
  const f0 = Math.exp(blend.logOffsets[0]!);
  const f1 = Math.exp(blend.logOffsets[1]!);
  const f2 = Math.exp(blend.logOffsets[2]!);
  for (let i = 0; i < deep.length; i += 3) {
    const p0 = ((1 - w) * deep[i]! + w * wide[i]!) * f0;
    const p1 = ((1 - w) * deep[i + 1]! + w * wide[i + 1]!) * f1;
    const p2 = ((1 - w) * deep[i + 2]! + w * wide[i + 2]!) * f2;
    const sum = p0 + p1 + p2;
    deep[i] = p0 / sum;
    deep[i + 1] = p1 / sum;
    deep[i + 2] = p2 / sum;
  }
}

/** normalise(p^(1/T)) of every row, in place (= softmax of the logits over T; the trainer's calibration). */
export function temperatureScale(probs: Float32Array, temperature: number): void {
  const inverse = 1 / temperature;
  for (let i = 0; i < probs.length; i += 3) {
    const q0 = Math.max(probs[i]!, 1e-30) ** inverse;
    const q1 = Math.max(probs[i + 1]!, 1e-30) ** inverse;
    const q2 = Math.max(probs[i + 2]!, 1e-30) ** inverse;
    const sum = q0 + q1 + q2;
    probs[i] = q0 / sum;
    probs[i + 1] = q1 / sum;
    probs[i + 2] = q2 / sum;
  }
}
