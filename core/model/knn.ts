/**
 * The shift score's density estimate: mean Euclidean distance from a review's vector to its k nearest
 * neighbours in a fixed, seeded sample of training reviews' vectors, turned into a percentile by an ECDF
 * of the same distance on held-out reviews (core/model/outlier.ts). k-NN distance follows the shape of the
 * training data (several topics, long tails) where distance to a handful of centroids only sees blobs.
 *
 * The index knows nothing about where vectors come from: the runtime passes the standardised pooled
 * embedding today, and any other representation (e.g. a teacher-distilled student's sentence vector)
 * can be used by fitting the sample and scoring with vectors of that representation (the runtime's
 * `ModelForward.shiftVectors` is the one place that chooses it).
 */
import { DriftlineError } from '../errors.js';
import { round7 } from './outlier.js';
import { type Random, sampleIndices } from './prng.js';

export interface KnnIndex {
  k: number;
  dims: number;
  /** sample x dims, row-major. */
  points: number[];
}

/** A seeded sample of `sampleSize` rows of `vectors` (n x dims) as the index. */
export function fitKnnIndex(vectors: Float32Array, dims: number, sampleSize: number, k: number, random: Random): KnnIndex {
  const n = Math.floor(vectors.length / dims);
  if (n < 2) throw new DriftlineError('TRAINING_FAILED', 'the k-NN shift index needs at least 2 rows');
  const chosen = sampleIndices(n, sampleSize, random);
  const points: number[] = [];
  for (const r of chosen) for (let d = 0; d < dims; d++) points.push(round7(vectors[r * dims + d]!));
  return { k: Math.max(1, Math.min(k, chosen.length)), dims, points };
}

/** Compiled form: the sample as one Float32Array, plus a scratch list of the k best distances. */
export interface CompiledKnn {
  k: number;
  dims: number;
  size: number;
  points: Float32Array;
  best: Float64Array;
}

export function compileKnn(index: KnnIndex): CompiledKnn {
  const size = index.points.length / index.dims;
  if (!Number.isInteger(size) || size < 1 || !(index.k >= 1 && index.k <= size)) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `k-NN index invalid: ${index.points.length} values of width ${index.dims}, k ${index.k}`);
  }
  return { k: index.k, dims: index.dims, size, points: Float32Array.from(index.points), best: new Float64Array(index.k) };
}

/**
 * Mean distance to the k nearest sample points of the vector at vectors[offset..offset+dims). A plain scan:
 * with a sample of a few hundred points it costs about as much as the isolation forest.
 */
export function knnDistance(index: CompiledKnn, vectors: Float32Array, offset: number): number {
  const { k, dims, size, points, best } = index;
  best.fill(Infinity);
  let worst = Infinity;
  for (let p = 0, base = 0; p < size; p++, base += dims) {
    let sq: number;
    if (dims === 16) {
      // The sum of the first 8 squares already reaching the k-th best rules the point out: the remaining
      // terms are >= 0 and rounding is monotone, so the full sum (the same additions in the same order)
      // could only be larger. Most points go here after half the work; the kept ones get exactly the old sum.
      const half = halfSquaredDistance16(vectors, offset, points, base);
      if (half >= worst) continue;
      sq = restSquaredDistance16(half, vectors, offset, points, base);
    } else sq = squaredDistance(vectors, offset, points, base, dims);
    if (sq >= worst) continue;
    // Insert into the sorted list of the k best (k is small).
    let i = k - 1;
    while (i > 0 && best[i - 1]! > sq) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = sq;
    worst = best[k - 1]!;
  }
  let sum = 0;
  for (let i = 0; i < k; i++) sum += Math.sqrt(best[i]!);
  return sum / k;
}

function squaredDistance(a: Float32Array, ao: number, b: Float32Array, bo: number, dims: number): number {
  let sq = 0;
  for (let d = 0; d < dims; d++) {
    const diff = a[ao + d]! - b[bo + d]!;
    sq += diff * diff;
  }
  return sq;
}

/**
 * The default width unrolled (independent sums: ~2x the loop on V8), in two halves so a far point costs
 * half: the squared distance is ((g0 + g1) + g2) + g3 over groups of four dimensions, g = d0² + d1² + d2² + d3²
 * left to right; the first half returns g0 + g1, the rest adds g2, then g3 (the sum the one-piece version had).
 */
function halfSquaredDistance16(a: Float32Array, ao: number, b: Float32Array, bo: number): number {
  const d0 = a[ao]! - b[bo]!, d1 = a[ao + 1]! - b[bo + 1]!, d2 = a[ao + 2]! - b[bo + 2]!, d3 = a[ao + 3]! - b[bo + 3]!; // prettier-ignore
  const d4 = a[ao + 4]! - b[bo + 4]!, d5 = a[ao + 5]! - b[bo + 5]!, d6 = a[ao + 6]! - b[bo + 6]!, d7 = a[ao + 7]! - b[bo + 7]!; // prettier-ignore
  return (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3) + (d4 * d4 + d5 * d5 + d6 * d6 + d7 * d7); // prettier-ignore
}

function restSquaredDistance16(half: number, a: Float32Array, ao: number, b: Float32Array, bo: number): number {
  const d8 = a[ao + 8]! - b[bo + 8]!, d9 = a[ao + 9]! - b[bo + 9]!, d10 = a[ao + 10]! - b[bo + 10]!, d11 = a[ao + 11]! - b[bo + 11]!; // prettier-ignore
  const d12 = a[ao + 12]! - b[bo + 12]!, d13 = a[ao + 13]! - b[bo + 13]!, d14 = a[ao + 14]! - b[bo + 14]!, d15 = a[ao + 15]! - b[bo + 15]!; // prettier-ignore
  return half + (d8 * d8 + d9 * d9 + d10 * d10 + d11 * d11) + (d12 * d12 + d13 * d13 + d14 * d14 + d15 * d15); // prettier-ignore
}
