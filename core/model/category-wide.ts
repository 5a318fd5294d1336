/**
 * The wide category part of both tiers: a K-class softmax regression over the featurizer's hashed word 1-2-gram
 * TF-IDF rows (the same rows as the stream model's wide sentiment part, core/model/wide-scoring.ts). Sentence
 * vectors (the teacher's, or the stream model's pooled embedding) know the topic; product words ("dryer vent",
 * "capo", "gift card") pin it down, and each is right where the other is unsure, so each tier blends its category
 * head with this part geometrically (accurate-runtime.ts; runtime.ts through blendCategoryRow).
 * Stored as `category-wide.bin` (the stream tier's in the version directory, with the wide sentiment part's idf so
 * one TF-IDF row serves both; the accurate tier's under `accurate/`): a 16-byte header ('DLCW', format, buckets,
 * classes), then idf [buckets], bias [classes] and the kernel [buckets x classes], float32 little-endian.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriftlineError } from '../errors.js';
import type { FeatureBatch } from '../features/featurizer.js';
import { CATEGORY_WIDE_FILE, type CategoryBlendWeights, type CategoryWideModel } from './text-model.js';
import { CATEGORY_BYTE_OFFSET, type WideScratch, wideBucket, wideRow } from './wide-scoring.js';

// The types live with the model family (text-model.ts, which the manifest and bundle need); re-exported for this part's users.
export { CATEGORY_WIDE_FILE, type CategoryBlendWeights, type CategoryWideModel };

const MAGIC = 0x5743_4c44; // 'DLCW' read as a little-endian u32
export const CATEGORY_WIDE_FORMAT = 1;
const HEADER_BYTES = 16;


export function serializeCategoryWide(model: CategoryWideModel): Uint8Array {
  const buckets = model.idf.length;
  const k = model.bias.length;
  const bytes = new Uint8Array(HEADER_BYTES + 4 * (buckets + k + buckets * k));
  const header = new DataView(bytes.buffer);
  header.setUint32(0, MAGIC, true);
  header.setUint32(4, CATEGORY_WIDE_FORMAT, true);
  header.setUint32(8, buckets, true);
  header.setUint32(12, k, true);
  const body = new Float32Array(bytes.buffer, HEADER_BYTES);
  body.set(model.idf, 0);
  body.set(model.bias, buckets);
  body.set(model.kernel, buckets + k);
  return bytes;
}

/** Parses the file's bytes; `buckets` and `classes` are what the version's featurizer and head expect. */
export function parseCategoryWide(bytes: Uint8Array, buckets: number, classes: number, where: string): CategoryWideModel {
  const bad = (why: string) => new DriftlineError('MODEL_LOAD_FAILED', `${where}: ${why}`);
  if (bytes.byteLength < HEADER_BYTES) throw bad(`${bytes.byteLength} bytes, shorter than its header`);
  const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (header.getUint32(0, true) !== MAGIC) throw bad('not a category-wide file (bad magic)');
  const format = header.getUint32(4, true);
  if (format !== CATEGORY_WIDE_FORMAT) throw bad(`format ${format}, this build reads format ${CATEGORY_WIDE_FORMAT}`);
  if (header.getUint32(8, true) !== buckets) throw bad(`${header.getUint32(8, true)} buckets, the featurizer hashes into ${buckets}`);
  if (header.getUint32(12, true) !== classes) throw bad(`${header.getUint32(12, true)} classes, the category head has ${classes}`);
  const floats = buckets + classes + buckets * classes;
  if (bytes.byteLength !== HEADER_BYTES + 4 * floats) throw bad(`${bytes.byteLength} bytes, expected ${HEADER_BYTES + 4 * floats}`);
  // A copy: aligned whatever the buffer's offset, and independent of the file's bytes.
  const body = new Float32Array(floats);
  new Uint8Array(body.buffer).set(bytes.subarray(HEADER_BYTES));
  for (let i = 0; i < floats; i++) if (!Number.isFinite(body[i]!)) throw bad(`non-finite weight at float ${i}`);
  return { idf: body.subarray(0, buckets), bias: body.subarray(buckets, buckets + classes), kernel: body.subarray(buckets + classes) };
}

export async function readCategoryWide(accurateDir: string, buckets: number, classes: number): Promise<CategoryWideModel> {
  const path = join(accurateDir, CATEGORY_WIDE_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path}: the category head names a wide part but the file cannot be read`, { cause: err });
  }
  return parseCategoryWide(bytes, buckets, classes, path);
}

/**
 * The model's logits of row r of the batch into out[at .. at + classes): bias + kernel . (TF-IDF row), the row built in
 * `scratch` (createWideScratch of the featurizer's buckets, reused across rows). The accurate tier
 * adds them, weighted, to the teacher head's logits (a geometric blend of the two distributions).
 */
export function categoryWideLogits(batch: FeatureBatch, r: number, model: CategoryWideModel, scratch: WideScratch, out: Float64Array | Float32Array, at: number): void {
  wideRow(batch, r, model.idf, scratch);
  kernelRowLogits(scratch, model, out, at);
}

/** bias + kernel . (the row the scratch collected last), reading the kernel from the model's own table. */
function kernelRowLogits(scratch: WideScratch, model: CategoryWideModel, out: Float64Array | Float32Array, at: number): void {
  const k = model.bias.length;
  for (let c = 0; c < k; c++) out[at + c] = model.bias[c]!;
  for (let j = 0; j < scratch.count; j++) {
    const base = wideBucket(scratch, j) * k;
    const v = scratch.values[j]!;
    for (let c = 0; c < k; c++) out[at + c]! += model.kernel[base + c]! * v;
  }
}

/**
 * categoryWideLogits of the row a serving scratch (createServingScratch) collected last, with the same doubles: from the
 * int8 weights in its blocks when it packed the part (a quantized kernel), else from the model's kernel table (a part
 * trained before the kernel was quantized: a cache miss per entry more).
 */
export function collectedRowCategoryLogits(scratch: WideScratch, model: CategoryWideModel, out: Float64Array, at: number): void {
  if (scratch.categoryBytes) packedCategoryRowLogits(scratch, model.bias, out, at);
  else kernelRowLogits(scratch, model, out, at);
}

/** Largest |level| of a quantized weight: int8 without -128, so the range is symmetric. */
const INT8_LEVELS = 127;
/** Smallest step: far under any weight that moves a logit, and its multiples stay exact float32 numbers. */
const MIN_STEP = 2 ** -100;

/** The power of two that puts a class's largest |weight| within INT8_LEVELS steps. */
function stepOf(maxAbs: number): number {
  let step = MIN_STEP;
  while (maxAbs / step > INT8_LEVELS) step *= 2;
  return step;
}

function classMaxAbs(kernel: Float32Array, k: number): Float64Array {
  const max = new Float64Array(k);
  for (let i = 0; i < kernel.length; i++) max[i % k] = Math.max(max[i % k]!, Math.abs(kernel[i]!));
  return max;
}

/**
 * The kernel with every weight rounded to an int8 multiple of a power-of-two step per class (the trainer's last step on
 * the stream tier's part). The rounded weights are exact float32 numbers, so the file stays float32 and the served int8
 * copy gives the same doubles; the rounding is at most half a step (1/254 of the class's largest weight).
 */
export function quantizeCategoryKernel(kernel: Float32Array, k: number): Float32Array {
  const steps = Array.from(classMaxAbs(kernel, k), stepOf);
  return Float32Array.from(kernel, (w, i) => Math.round(w / steps[i % k]!) * steps[i % k]!);
}

/** The per-class steps of a quantized kernel (quantizeCategoryKernel's), or null when a weight is not an int8 multiple of its step. */
export function quantizedCategorySteps(kernel: Float32Array, k: number): Float64Array | null {
  const steps = Float64Array.from(classMaxAbs(kernel, k), stepOf);
  for (let i = 0; i < kernel.length; i++) {
    const level = kernel[i]! / steps[i % k]!;
    if (!Number.isInteger(level) || Math.abs(level) > INT8_LEVELS) return null;
  }
  return steps;
}

/**
 * The packed path of collectedRowCategoryLogits: the int8 weights come with the gather the pooling and the wide
 * sentiment part have made, where the separate 3.7 MB float kernel costs a cache miss per entry. Each class sums
 * level x value from bias / step and multiplies by its step at the end: scaling by a power of two is exact and commutes
 * with every rounding, so this is the generic sum of (level x step) x value, the kernel's weights, to the bit.
 */
function packedCategoryRowLogits(scratch: WideScratch, bias: Float32Array, out: Float64Array, at: number): void {
  const k = bias.length;
  const { categoryBytes: q, categorySteps: steps, ids, values, count } = scratch;
  if (scratch.categoryClasses !== k || !q || !steps) throw new DriftlineError('MODEL_SCORING_FAILED', `the scratch holds ${scratch.categoryClasses} category weights per block, the part has ${k} classes`);
  // Eight classes per pass in local accumulators (as the pooling's sumRowsBlocked): a class-inner loop over the output
  // array costs a load and a store per product and ran ~2x slower. The blocks pad the classes to a multiple of eight
  // with zero bytes, so every pass is a full one; the padding starts from 0 and its sums are not stored.
  for (let c = 0; c < k; c += 8) {
    let a0 = scaledBias(bias, steps, c);
    let a1 = scaledBias(bias, steps, c + 1);
    let a2 = scaledBias(bias, steps, c + 2);
    let a3 = scaledBias(bias, steps, c + 3);
    let a4 = scaledBias(bias, steps, c + 4);
    let a5 = scaledBias(bias, steps, c + 5);
    let a6 = scaledBias(bias, steps, c + 6);
    let a7 = scaledBias(bias, steps, c + 7);
    for (let j = 0; j < count; j++) {
      const base = (ids[j]! << 2) + CATEGORY_BYTE_OFFSET + c;
      const v = values[j]!;
      a0 += q[base]! * v;
      a1 += q[base + 1]! * v;
      a2 += q[base + 2]! * v;
      a3 += q[base + 3]! * v;
      a4 += q[base + 4]! * v;
      a5 += q[base + 5]! * v;
      a6 += q[base + 6]! * v;
      a7 += q[base + 7]! * v;
    }
    storeScaled(out, at, c, k, a0, steps);
    storeScaled(out, at, c + 1, k, a1, steps);
    storeScaled(out, at, c + 2, k, a2, steps);
    storeScaled(out, at, c + 3, k, a3, steps);
    storeScaled(out, at, c + 4, k, a4, steps);
    storeScaled(out, at, c + 5, k, a5, steps);
    storeScaled(out, at, c + 6, k, a6, steps);
    storeScaled(out, at, c + 7, k, a7, steps);
  }
}

/** A class's logit back from units of its step (nothing for the padding past the last class). */
function storeScaled(out: Float64Array, at: number, c: number, k: number, sum: number, steps: Float64Array): void {
  if (c < k) out[at + c] = sum * steps[c]!;
}

/** A class's bias in units of its step (0 for the padding past the last class). */
function scaledBias(bias: Float32Array, steps: Float64Array, c: number): number {
  return c < bias.length ? bias[c]! / steps[c]! : 0;
}

/**
 * The geometric blend of row `at` of the head's probabilities with the wide part's logits at wideAt, written back
 * over the head's probabilities (the wide logits are used as scratch). One definition for serving and for the
 * trainer's choice of the weights, so the tuned blend is the served one.
 */
export function blendCategoryRow(probabilities: Float32Array, at: number, wideLogits: Float64Array, wideAt: number, k: number, blend: CategoryBlendWeights): void {
  const w = blend.headWeight;
  for (let c = 0; c < k; c++) {
    wideLogits[wideAt + c] = w * Math.log(Math.max(probabilities[at + c]!, 1e-12)) + (1 - w) * wideLogits[wideAt + c]! + blend.logOffsets[c]!;
  }
  softmaxInPlace(wideLogits, wideAt, k);
  for (let c = 0; c < k; c++) probabilities[at + c] = wideLogits[wideAt + c]!;
}

/** Numerically stable softmax of out[at .. at + k). */
export function softmaxInPlace(out: Float64Array | Float32Array, at: number, k: number): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, out[at + c]!);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += out[at + c] = Math.exp(out[at + c]! - max);
  for (let c = 0; c < k; c++) out[at + c]! /= sum;
}
