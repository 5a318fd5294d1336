import { describe, expect, it } from 'vitest';
import { compileKnn, fitKnnIndex, knnDistance } from '../../../core/model/knn.js';
import { ecdfPercentile, fitEcdf } from '../../../core/model/outlier.js';
import { seededRandom } from '../../../core/model/prng.js';

function randomVectors(n: number, dims: number, seed: number, shift = 0): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n * dims }, () => random() * 2 - 1 + shift);
}

function bruteForce(points: number[], dims: number, query: Float32Array, offset: number, k: number): number {
  const distances: number[] = [];
  for (let p = 0; p < points.length / dims; p++) {
    let sq = 0;
    for (let d = 0; d < dims; d++) sq += (query[offset + d]! - points[p * dims + d]!) ** 2;
    distances.push(Math.sqrt(sq));
  }
  distances.sort((a, b) => a - b);
  return distances.slice(0, k).reduce((a, b) => a + b, 0) / k;
}

/** The squared distance at width 16 as the runtime groups it: ((g0 + g1) + g2) + g3, each group of four left to right. */
function grouped16(a: Float32Array, ao: number, b: Float32Array, bo: number): number {
  const sq = (d: number) => (a[ao + d]! - b[bo + d]!) * (a[ao + d]! - b[bo + d]!);
  const group = (g: number) => sq(g) + sq(g + 1) + sq(g + 2) + sq(g + 3);
  return group(0) + group(4) + group(8) + group(12);
}

describe('k-NN distance', () => {
  it('at width 16 is exactly (bit for bit) the mean of the k smallest full distances, though far points stop after half', () => {
    const dims = 16;
    const compiled = compileKnn(fitKnnIndex(randomVectors(500, dims, 11), dims, 128, 5, seededRandom(12)));
    // Queries near and far, and one equal to a sample point (a zero distance, ties at the k-th place).
    const queries = new Float32Array([...randomVectors(60, dims, 13), ...randomVectors(20, dims, 14, 3), ...compiled.points.subarray(0, dims)]);
    for (let q = 0; q < queries.length / dims; q++) {
      const all = Array.from({ length: compiled.size }, (_, p) => grouped16(queries, q * dims, compiled.points, p * dims)).sort((x, y) => x - y);
      let sum = 0;
      for (let i = 0; i < 5; i++) sum += Math.sqrt(all[i]!);
      expect(knnDistance(compiled, queries, q * dims)).toBe(sum / 5);
    }
  });

  for (const dims of [16, 8]) {
    it(`equals the brute-force mean distance to the k nearest sample points (width ${dims})`, () => {
      const index = fitKnnIndex(randomVectors(500, dims, 1), dims, 128, 5, seededRandom(2));
      const compiled = compileKnn(index);
      const queries = randomVectors(50, dims, 3);
      for (let q = 0; q < 50; q++) expect(knnDistance(compiled, queries, q * dims)).toBeCloseTo(bruteForce(index.points, dims, queries, q * dims, 5), 4);
    });
  }

  it('samples the same training rows for the same seed, others for another seed', () => {
    const vectors = randomVectors(400, 16, 4);
    expect(fitKnnIndex(vectors, 16, 64, 5, seededRandom(9))).toEqual(fitKnnIndex(vectors, 16, 64, 5, seededRandom(9)));
    expect(fitKnnIndex(vectors, 16, 64, 5, seededRandom(10)).points).not.toEqual(fitKnnIndex(vectors, 16, 64, 5, seededRandom(9)).points);
  });

  it('as a percentile of held-out distances: about uniform for new rows of the training distribution, near 1 for shifted rows', () => {
    const dims = 16;
    const compiled = compileKnn(fitKnnIndex(randomVectors(2000, dims, 5), dims, 256, 5, seededRandom(6)));
    const distances = (v: Float32Array) => Array.from({ length: v.length / dims }, (_, r) => knnDistance(compiled, v, r * dims));
    const ecdf = fitEcdf(distances(randomVectors(1000, dims, 7)));
    const same = distances(randomVectors(500, dims, 8)).map((d) => ecdfPercentile(ecdf, d));
    const shifted = distances(randomVectors(500, dims, 9, 1.5)).map((d) => ecdfPercentile(ecdf, d));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(same)).toBeGreaterThan(0.4);
    expect(mean(same)).toBeLessThan(0.6);
    expect(mean(shifted)).toBeGreaterThan(0.95);
  });

  it('refuses an index whose points do not fit its width or k (MODEL_LOAD_FAILED)', () => {
    expect(() => compileKnn({ k: 3, dims: 4, points: [1, 2, 3] })).toThrow(/k-NN index invalid/);
    expect(() => compileKnn({ k: 3, dims: 2, points: [1, 2, 3, 4] })).toThrow(/k-NN index invalid/);
  });
});
