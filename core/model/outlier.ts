/**
 * Outlier and shift scoring pieces that are plain arithmetic (no tfjs): an isolation forest,
 * empirical-CDF calibration and seeded k-means. The autoencoder half of the outlier score is a tfjs
 * model (core/model/text-model.ts); both halves score the same compact vector.
 */
import { DriftlineError } from '../errors.js';
import { type Random, sampleIndices, seededRandom } from './prng.js';

// ---------------------------------------------------------------------------------------------
// Empirical CDF: "which percentile of the calibration data is this value"

export interface Ecdf {
  /** Ascending sample of calibration values (at most a few thousand). */
  points: number[];
}

const MAX_ECDF_POINTS = 2000;

export function fitEcdf(values: ArrayLike<number>): Ecdf {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length <= MAX_ECDF_POINTS) return { points: Array.from(sorted, round7) };
  const points: number[] = [];
  for (let i = 0; i < MAX_ECDF_POINTS; i++) points.push(round7(sorted[Math.floor(((i + 0.5) * sorted.length) / MAX_ECDF_POINTS)]!));
  return { points };
}

/** Fraction of calibration points <= value, in [0, 1]. */
export function ecdfPercentile(ecdf: Ecdf, value: number): number {
  const p = ecdf.points;
  if (p.length === 0 || Number.isNaN(value)) return 0;
  let lo = 0;
  let hi = p.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo / p.length;
}

/** Seven significant digits: JSON-compact, and the in-memory model equals the saved one. */
export function round7(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(7)) : x;
}

// ---------------------------------------------------------------------------------------------
// Isolation forest (Liu, Ting, Zhou 2008), trees stored as implicit complete binary trees

export interface IsolationTree {
  /** Split feature per node; -1 marks a leaf. Node i has children 2i+1 and 2i+2. */
  feature: number[];
  threshold: number[];
  /** Training points that reached a leaf (0 for inner nodes). */
  size: number[];
}

export interface IsolationForest {
  sampleSize: number;
  maxDepth: number;
  dims: number;
  trees: IsolationTree[];
}

/** Average path length of an unsuccessful BST search among n points (the c(n) of the paper). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649) - (2 * (n - 1)) / n;
}

export interface IsolationForestOptions {
  trees?: number;
  sampleSize?: number;
  seed?: number;
}

/** rows: n x dims, row-major. */
export function fitIsolationForest(rows: Float32Array, dims: number, options: IsolationForestOptions = {}): IsolationForest {
  const n = Math.floor(rows.length / dims);
  if (n < 2) throw new DriftlineError('TRAINING_FAILED', 'isolation forest needs at least 2 rows');
  const random = seededRandom(options.seed ?? 17);
  const sampleSize = Math.min(options.sampleSize ?? 256, n);
  const maxDepth = Math.ceil(Math.log2(sampleSize));
  const trees: IsolationTree[] = [];
  for (let t = 0; t < (options.trees ?? 100); t++) {
    const nodes = 2 ** (maxDepth + 1) - 1;
    const tree: IsolationTree = { feature: new Array(nodes).fill(-1), threshold: new Array(nodes).fill(0), size: new Array(nodes).fill(0) };
    growNode(tree, 0, 0, Array.from(sampleIndices(n, sampleSize, random)), rows, dims, maxDepth, random);
    trees.push(tree);
  }
  return { sampleSize, maxDepth, dims, trees };
}

function growNode(tree: IsolationTree, node: number, depth: number, members: number[], rows: Float32Array, dims: number, maxDepth: number, random: Random): void {
  if (depth >= maxDepth || members.length <= 1) {
    tree.size[node] = members.length;
    return;
  }
  // Pick a random feature that still varies among the members (a few tries), then a random cut.
  for (let attempt = 0; attempt < 8; attempt++) {
    const f = Math.floor(random() * dims);
    let min = Infinity;
    let max = -Infinity;
    for (const m of members) {
      const v = rows[m * dims + f]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (max <= min) continue;
    const threshold = round7(min + random() * (max - min));
    const left = members.filter((m) => rows[m * dims + f]! < threshold);
    const right = members.filter((m) => rows[m * dims + f]! >= threshold);
    if (left.length === 0 || right.length === 0) continue;
    tree.feature[node] = f;
    tree.threshold[node] = threshold;
    growNode(tree, 2 * node + 1, depth + 1, left, rows, dims, maxDepth, random);
    growNode(tree, 2 * node + 2, depth + 1, right, rows, dims, maxDepth, random);
    return;
  }
  tree.size[node] = members.length;
}

/**
 * The forest flattened into typed arrays (all trees back to back) for fast scoring, every tree made complete
 * to maxDepth: below a leaf that ends early, every node passes on down (any split) and every node at
 * maxDepth below it holds that leaf's value. Then each row takes exactly maxDepth steps per tree without a
 * branch on the data (the step is arithmetic on the comparison), so the rows' independent walks overlap in
 * the CPU instead of each mispredicted left/right flushing the pipeline; every row still ends with the value
 * of the leaf it reached in the tree as fitted, and adds the same values in the same order.
 */
export interface CompiledForest {
  trees: number;
  nodesPerTree: number;
  depth: number;
  feature: Int32Array;
  threshold: Float64Array;
  /** At depth maxDepth: depth + c(size) of the leaf the row reached, the path length credited for the tree. */
  leafValue: Float64Array;
  norm: number;
}

export function compileForest(forest: IsolationForest): CompiledForest {
  const depth = forest.maxDepth;
  const nodesPerTree = 2 ** (depth + 1) - 1;
  const firstAtMaxDepth = 2 ** depth - 1;
  const trees = forest.trees.length;
  const feature = new Int32Array(trees * nodesPerTree);
  const threshold = new Float64Array(trees * nodesPerTree);
  const leafValue = new Float64Array(trees * nodesPerTree);
  // Per node of the tree being compiled: the value of the leaf above it that ended early (NaN: none).
  const carried = new Float64Array(nodesPerTree);
  forest.trees.forEach((tree, t) => {
    if (tree.feature.length !== nodesPerTree || tree.threshold.length !== nodesPerTree || tree.size.length !== nodesPerTree) {
      throw new DriftlineError('MODEL_LOAD_FAILED', `isolation tree ${t} has the wrong number of nodes`);
    }
    const base = t * nodesPerTree;
    for (let node = 0; node < nodesPerTree; node++) {
      const f = tree.feature[node]!;
      if (f >= forest.dims) throw new DriftlineError('MODEL_LOAD_FAILED', `isolation tree ${t} splits on feature ${f} of ${forest.dims}`);
      const above = node === 0 ? Number.NaN : carried[(node - 1) >> 1]!;
      const isLeaf = !Number.isNaN(above) || f < 0;
      if (node >= firstAtMaxDepth && !isLeaf) throw new DriftlineError('MODEL_LOAD_FAILED', `isolation tree ${t} splits below its max depth ${depth}`);
      const value = Number.isNaN(above) ? Math.floor(Math.log2(node + 1)) + averagePathLength(tree.size[node]!) : above;
      carried[node] = isLeaf ? value : Number.NaN;
      // A pass-through node splits on feature 0 at 0: either child carries the same value down.
      feature[base + node] = isLeaf ? 0 : f;
      threshold[base + node] = isLeaf ? 0 : tree.threshold[node]!;
      if (node >= firstAtMaxDepth) leafValue[base + node] = value;
    }
  });
  return { trees, nodesPerTree, depth, feature, threshold, leafValue, norm: averagePathLength(forest.sampleSize) };
}

/**
 * Anomaly scores 2^(-E[h(x)] / c(sampleSize)) in (0, 1] of `rows` vectors (row-major, `dims` wide);
 * higher = easier to isolate. Tree-major order: one tree's nodes stay in cache for the whole batch.
 * A row goes left when its value is below the threshold, else right (NaN too), as the forest was fitted.
 */
export function isolationScores(forest: CompiledForest, vectors: Float32Array, rows: number, dims: number, out: Float64Array): void {
  const { feature, threshold, leafValue, nodesPerTree, depth } = forest;
  out.fill(0, 0, rows);
  for (let t = 0, base = 0; t < forest.trees; t++, base += nodesPerTree) {
    for (let r = 0, offset = 0; r < rows; r++, offset += dims) {
      let node = 0;
      for (let d = 0; d < depth; d++) {
        const at = base + node;
        // 2 node + 1 (left) or 2 node + 2 (right), from the comparison as a number: no branch to mispredict.
        node = 2 * node + 2 - +(vectors[offset + feature[at]!]! < threshold[at]!);
      }
      out[r]! += leafValue[base + node]!;
    }
  }
  for (let r = 0; r < rows; r++) out[r] = 2 ** (-(out[r]! / forest.trees) / forest.norm);
}

// ---------------------------------------------------------------------------------------------
// Seeded k-means (k-means++ initialisation, Lloyd iterations)

export interface Centroids {
  k: number;
  dims: number;
  /** k x dims, row-major. */
  values: number[];
}

export function fitKMeans(rows: Float32Array, dims: number, k: number, seed = 23, iterations = 25): Centroids {
  const n = Math.floor(rows.length / dims);
  if (n === 0) throw new DriftlineError('TRAINING_FAILED', 'k-means needs at least one row');
  const kk = Math.min(k, n);
  const random = seededRandom(seed);
  const centers = new Float64Array(kk * dims);
  const nearest = new Float64Array(n).fill(Infinity);
  let chosen = Math.floor(random() * n);
  for (let c = 0; c < kk; c++) {
    for (let d = 0; d < dims; d++) centers[c * dims + d] = rows[chosen * dims + d]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i]!, squaredDistance(rows, i * dims, centers, c * dims, dims));
      total += nearest[i]!;
    }
    let target = random() * total;
    chosen = n - 1;
    for (let i = 0; i < n; i++) {
      target -= nearest[i]!;
      if (target <= 0) {
        chosen = i;
        break;
      }
    }
  }
  const assignment = new Int32Array(n);
  for (let iter = 0; iter < iterations; iter++) {
    for (let i = 0; i < n; i++) assignment[i] = nearestCenter(rows, i * dims, centers, kk, dims).index;
    const sums = new Float64Array(kk * dims);
    const counts = new Int32Array(kk);
    for (let i = 0; i < n; i++) {
      counts[assignment[i]!]!++;
      for (let d = 0; d < dims; d++) sums[assignment[i]! * dims + d]! += rows[i * dims + d]!;
    }
    for (let c = 0; c < kk; c++) {
      if (counts[c] === 0) continue;
      for (let d = 0; d < dims; d++) centers[c * dims + d] = sums[c * dims + d]! / counts[c]!;
    }
  }
  return { k: kk, dims, values: Array.from(centers, round7) };
}

function squaredDistance(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, dims: number): number {
  let s = 0;
  for (let d = 0; d < dims; d++) {
    const diff = a[ao + d]! - b[bo + d]!;
    s += diff * diff;
  }
  return s;
}

function nearestCenter(rows: ArrayLike<number>, offset: number, centers: ArrayLike<number>, k: number, dims: number): { index: number; distance: number } {
  let best = 0;
  let bestDistance = Infinity;
  for (let c = 0; c < k; c++) {
    const dist = squaredDistance(rows, offset, centers, c * dims, dims);
    if (dist < bestDistance) {
      bestDistance = dist;
      best = c;
    }
  }
  return { index: best, distance: Math.sqrt(bestDistance) };
}

/** Euclidean distance of rows[offset..offset+dims) to the nearest centroid. */
export function nearestCentroidDistance(centroids: Centroids, rows: ArrayLike<number>, offset: number): number {
  return nearestCenter(rows, offset, centroids.values, centroids.k, centroids.dims).distance;
}
