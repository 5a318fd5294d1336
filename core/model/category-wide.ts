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
import { CATEGORY_BLOCK_OFFSET, type WideScratch, wideBucket, wideRow } from './wide-scoring.js';

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
  const k = model.bias.length;
  for (let c = 0; c < k; c++) out[at + c] = model.bias[c]!;
  const n = wideRow(batch, r, model.idf, scratch);
  for (let j = 0; j < n; j++) {
    const base = wideBucket(scratch, j) * k;
    const v = scratch.values[j]!;
    for (let c = 0; c < k; c++) out[at + c]! += model.kernel[base + c]! * v;
  }
}

/**
 * categoryWideLogits of the row the scratch collected last, for a serving scratch that holds the part's kernel in its
 * blocks (createServingScratch with it): the weights come with the gather the pooling and the wide sentiment part have
 * made, where the separate 3.7 MB kernel costs a cache miss per entry. The same sums in the same order, so the same
 * doubles.
 */
export function packedCategoryRowLogits(scratch: WideScratch, bias: Float32Array, out: Float64Array, at: number): void {
  const k = bias.length;
  if (scratch.categoryClasses !== k) throw new DriftlineError('MODEL_SCORING_FAILED', `the scratch holds ${scratch.categoryClasses} category weights per block, the part has ${k} classes`);
  const { floats, ids, values, count } = scratch;
  // Four classes per pass in local accumulators (as the pooling's sumRowsBlocked): a class-inner loop over the output
  // array costs a load and a store per product and ran ~2x slower. Each class still sums its products in entry order.
  let c = 0;
  for (; c + 4 <= k; c += 4) {
    let a0 = bias[c]!;
    let a1 = bias[c + 1]!;
    let a2 = bias[c + 2]!;
    let a3 = bias[c + 3]!;
    for (let j = 0; j < count; j++) {
      const base = ids[j]! + CATEGORY_BLOCK_OFFSET + c;
      const v = values[j]!;
      a0 += floats[base]! * v;
      a1 += floats[base + 1]! * v;
      a2 += floats[base + 2]! * v;
      a3 += floats[base + 3]! * v;
    }
    out[at + c] = a0;
    out[at + c + 1] = a1;
    out[at + c + 2] = a2;
    out[at + c + 3] = a3;
  }
  for (; c + 2 <= k; c += 2) {
    let a0 = bias[c]!;
    let a1 = bias[c + 1]!;
    for (let j = 0; j < count; j++) {
      const base = ids[j]! + CATEGORY_BLOCK_OFFSET + c;
      const v = values[j]!;
      a0 += floats[base]! * v;
      a1 += floats[base + 1]! * v;
    }
    out[at + c] = a0;
    out[at + c + 1] = a1;
  }
  if (c < k) {
    let a = bias[c]!;
    for (let j = 0; j < count; j++) a += floats[ids[j]! + CATEGORY_BLOCK_OFFSET + c]! * values[j]!;
    out[at + c] = a;
  }
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
