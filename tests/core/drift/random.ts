/** Seeded random numbers for the drift tests (the project's mulberry32 + Box–Muller): same data every run. */
import { seededRandom } from '../../../core/model/prng.js';

export { seededRandom };

export function seededNormal(seed: number, mean = 0, std = 1): () => number {
  const uniform = seededRandom(seed);
  return () => {
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export function sample(count: number, next: () => number): number[] {
  return Array.from({ length: count }, next);
}

/** Empirical quantile edges (the k - 1 inner cut points of k equal-mass bins), de-duplicated. */
export function quantileEdges(values: readonly number[], bins: number): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / bins))];
    if (edge === undefined) break; // no values, no edges
    const last = edges[edges.length - 1];
    if (last === undefined || edge > last) edges.push(edge);
  }
  return edges;
}
