import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { type IsolationForest, averagePathLength, compileForest, fitIsolationForest, isolationScores } from '../../../core/model/outlier.js';
import { seededRandom } from '../../../core/model/prng.js';

/** The forest walked as fitted, one row at a time: the definition the compiled, branch-free scoring must equal. */
function referenceScore(forest: IsolationForest, vectors: Float32Array, offset: number): number {
  let total = 0;
  for (const tree of forest.trees) {
    let node = 0;
    while (tree.feature[node]! >= 0) node = vectors[offset + tree.feature[node]!]! < tree.threshold[node]! ? 2 * node + 1 : 2 * node + 2;
    total += Math.floor(Math.log2(node + 1)) + averagePathLength(tree.size[node]!);
  }
  return 2 ** (-(total / forest.trees.length) / averagePathLength(forest.sampleSize));
}

function scores(forest: IsolationForest, vectors: Float32Array, dims: number): Float64Array {
  const out = new Float64Array(vectors.length / dims);
  isolationScores(compileForest(forest), vectors, out.length, dims, out);
  return out;
}

describe('isolation forest scoring', () => {
  it('equals the walk of the fitted trees bit for bit (leaves at every depth, outliers, NaN and values on a threshold)', () => {
    const dims = 6;
    const random = seededRandom(31);
    const training = Float32Array.from({ length: 400 * dims }, () => random() * 2 - 1);
    const forest = fitIsolationForest(training, dims, { trees: 40, sampleSize: 64, seed: 5 });
    const rows = [...training.subarray(0, 100 * dims), ...Float32Array.from({ length: 60 * dims }, () => (random() - 0.5) * 20)];
    // A threshold value itself (goes right), and NaN (compares false: goes right).
    const split = forest.trees[0]!;
    rows.push(...Array.from({ length: dims }, (_, d) => (d === split.feature[0] ? split.threshold[0]! : 0)));
    rows.push(...Array.from({ length: dims }, (_, d) => (d % 2 === 0 ? Number.NaN : 0.1)));
    const vectors = Float32Array.from(rows);
    const got = scores(forest, vectors, dims);
    for (let r = 0; r < got.length; r++) expect(got[r]).toBe(referenceScore(forest, vectors, r * dims));
  });

  it('credits a leaf that ends early with its own depth and size', () => {
    // Depth 2: the root splits, its left child is a leaf at depth 1 (size 3), the right one splits again.
    const forest: IsolationForest = {
      sampleSize: 4,
      maxDepth: 2,
      dims: 2,
      trees: [{ feature: [0, -1, 1, -1, -1, -1, -1], threshold: [0, 0, 0.5, 0, 0, 0, 0], size: [0, 3, 0, 0, 0, 1, 2] }],
    };
    const vectors = new Float32Array([-1, 0, 1, 0, 1, 1]);
    const got = scores(forest, vectors, 2);
    const expected = (pathLength: number) => 2 ** (-pathLength / averagePathLength(4));
    expect(Array.from(got)).toEqual([expected(1 + averagePathLength(3)), expected(2 + averagePathLength(1)), expected(2 + averagePathLength(2))]);
  });

  it('refuses a tree that splits at its max depth (MODEL_LOAD_FAILED)', () => {
    const forest: IsolationForest = { sampleSize: 2, maxDepth: 1, dims: 1, trees: [{ feature: [0, 0, -1], threshold: [0, 0, 0], size: [0, 1, 1] }] };
    expect(() => compileForest(forest)).toThrow(DriftlineError);
  });
});
