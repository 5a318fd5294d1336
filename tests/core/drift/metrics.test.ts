/**
 * Drift metrics with known answers (hand-computed vectors, textbook tables, analytic values for shifted
 * normals) and one conformance suite run over every DriftMetric.
 */
import { describe, expect, it } from 'vitest';
import {
  DRIFT_METRICS,
  KL_SMOOTHING,
  PSI_EPSILON,
  chiSquareMetric,
  klDivergenceMetric,
  confidenceDrop,
  jsDistanceMetric,
  ksMetric,
  livePerformance,
  outlierRate,
  predictionDrift,
  psiMetric,
  binBounds,
  binnedMoments,
  wassersteinMetric,
} from '../../../core/drift/metrics.js';
import { histogramDistribution } from '../../../core/drift/distribution.js';
import { normalCdf } from '../../../core/drift/stats.js';
import type { BinnedDistribution, DriftMetric } from '../../../core/drift/types.js';
import { BinnedHistogramSketch } from '../../../core/sketch/histogram.js';
import { UNSEEN_LABEL } from '../../../core/sketch/categorical.js';
import { SummarySketch } from '../../../core/sketch/summary.js';
import { quantileEdges, sample, seededNormal } from './random.js';

function numeric(counts: number[], edges: number[], extra: Partial<BinnedDistribution> = {}): BinnedDistribution {
  return { counts, edges, ...extra };
}

function binned(values: number[], edges: number[]): BinnedDistribution {
  const sketch = new BinnedHistogramSketch(edges);
  const state = sketch.zero();
  for (const value of values) sketch.add(state, value);
  return histogramDistribution(sketch, state);
}

describe('PSI', () => {
  it('matches a direct computation on a small hand-made vector', () => {
    // p = [.1,.2,.3,.4], q = [.2,.2,.3,.3]: 0.1·ln 2 + (-0.1)·ln(0.75)
    const result = psiMetric.compute(numeric([10, 20, 30, 40], [1, 2, 3]), numeric([20, 20, 30, 30], [1, 2, 3]));
    expect(result.value).toBeCloseTo(0.1 * Math.log(2) - 0.1 * Math.log(0.75), 12);
    expect(result.effect).toBe(result.value);
  });

  it('floors an empty bin at PSI_EPSILON instead of dividing by zero', () => {
    const result = psiMetric.compute(numeric([0, 10], [0]), numeric([5, 5], [0]));
    const expected = (0.5 - PSI_EPSILON) * Math.log(0.5 / PSI_EPSILON) + (0.5 - 1) * Math.log(0.5);
    expect(result.value).toBeCloseTo(expected, 12);
  });
});

describe('KL divergence D(current ‖ reference), shares smoothed by KL_SMOOTHING', () => {
  const e = KL_SMOOTHING;
  it('matches the formula written out on a hand-made 3-bin vector, and the unsmoothed value closely', () => {
    // reference shares 0.2 0.3 0.5, current 0.4 0.3 0.3; smoothed s̃ = (s + ε) / (1 + 3ε).
    const smooth = (share: number): number => (share + e) / (1 + 3 * e);
    const expected = smooth(0.4) * Math.log(smooth(0.4) / smooth(0.2)) + smooth(0.3) * Math.log(smooth(0.3) / smooth(0.3)) + smooth(0.3) * Math.log(smooth(0.3) / smooth(0.5));
    const result = klDivergenceMetric.compute({ counts: [2, 3, 5], labels: ['a', 'b', 'c'] }, { counts: [40, 30, 30], labels: ['a', 'b', 'c'] });
    expect(result.value).toBeCloseTo(expected, 12);
    expect(result.effect).toBe(result.value);
    // Without smoothing: 0.4·ln 2 + 0.3·ln 0.6 = 0.12401; the smoothing moves it by less than 2e-4.
    expect(Math.abs(result.value - (0.4 * Math.LN2 + 0.3 * Math.log(0.6)))).toBeLessThan(2e-4);
    expect(result.value).toBeCloseTo(0.123932, 5);
  });

  it('stays finite when the reference has an empty bin, and is larger in that direction', () => {
    // reference 10 | 0, current 9 | 1: the current bin the reference never saw dominates.
    const smooth = (share: number): number => (share + e) / (1 + 2 * e);
    const expected = smooth(0.9) * Math.log(smooth(0.9) / smooth(1)) + smooth(0.1) * Math.log(smooth(0.1) / smooth(0));
    const forward = klDivergenceMetric.compute(numeric([10, 0], [5]), numeric([9, 1], [5]));
    expect(forward.value).toBeCloseTo(expected, 12);
    expect(forward.value).toBeCloseTo(0.596622, 5);
    const backward = klDivergenceMetric.compute(numeric([9, 1], [5]), numeric([10, 0], [5]));
    expect(backward.value).toBeCloseTo(0.104648, 5);
    expect(forward.value).toBeGreaterThan(backward.value);
  });

  it('is 0 for identical shares whatever the sample sizes, and 0 without evidence', () => {
    expect(klDivergenceMetric.compute(numeric([1, 2, 0], [1, 2]), numeric([100, 200, 0], [1, 2])).value).toBe(0);
    expect(klDivergenceMetric.compute(numeric([0, 0], [1]), numeric([3, 4], [1])).value).toBe(0);
  });
});

describe('Jensen–Shannon distance', () => {
  it('equals √(H(M) - (H(P) + H(Q))/2) in bits', () => {
    const p = [0.1, 0.2, 0.3, 0.4];
    const q = [0.25, 0.25, 0.5, 0];
    const entropy = (dist: number[]): number => -dist.reduce((sum, x) => (x > 0 ? sum + x * Math.log2(x) : sum), 0);
    const mid = p.map((x, i) => (x + q[i]!) / 2);
    const expected = Math.sqrt(entropy(mid) - (entropy(p) + entropy(q)) / 2);
    const result = jsDistanceMetric.compute(numeric([10, 20, 30, 40], [1, 2, 3]), numeric([25, 25, 50, 0], [1, 2, 3]));
    expect(result.value).toBeCloseTo(expected, 12);
  });

  it('is 1 for disjoint supports (base 2)', () => {
    expect(jsDistanceMetric.compute(numeric([5, 0], [0]), numeric([0, 7], [0])).value).toBeCloseTo(1, 12);
  });
});

describe('KS and Wasserstein on N(0,1) vs N(0.5,1), 200 quantile bins', () => {
  const reference = sample(50_000, seededNormal(101));
  const current = sample(50_000, seededNormal(202, 0.5));
  const edges = quantileEdges(reference, 200);
  const ref = binned(reference, edges);
  const cur = binned(current, edges);

  it('KS statistic ≈ 2Φ(0.25) - 1 ≈ 0.1974 and a tiny p-value', () => {
    const result = ksMetric.compute(ref, cur);
    expect(result.value).toBeCloseTo(2 * normalCdf(0.25) - 1, 2);
    expect(Math.abs(result.value - 0.1974)).toBeLessThan(0.01);
    expect(result.pValue).toBeLessThan(1e-50);
  });

  it('Wasserstein-1 ≈ 0.5 (the mean shift), effect ≈ 0.5 reference std', () => {
    const result = wassersteinMetric.compute(ref, cur);
    expect(Math.abs(result.value - 0.5)).toBeLessThan(0.02);
    expect(result.details?.referenceStd).toBeCloseTo(1, 1);
    expect(Math.abs(result.effect - 0.5)).toBeLessThan(0.03);
  });

  it('two samples of the same N(0,1): small KS with a large p-value, W1 near 0', () => {
    const same = binned(sample(50_000, seededNormal(303)), edges);
    const ks = ksMetric.compute(ref, same);
    expect(ks.value).toBeLessThan(0.015);
    expect(ks.pValue).toBeGreaterThan(0.01);
    expect(wassersteinMetric.compute(ref, same).value).toBeLessThan(0.03);
  });
});

describe('Wasserstein on hand-made bins', () => {
  it('mass uniform on [1,2] vs uniform on [2,3] is exactly 1', () => {
    const result = wassersteinMetric.compute(numeric([0, 10, 0, 0], [1, 2, 3], { min: 1, max: 2 }), numeric([0, 0, 10, 0], [1, 2, 3], { min: 2, max: 3 }));
    expect(result.value).toBeCloseTo(1, 12);
  });

  it("closes the outer bins with the reference's range for both sides", () => {
    // reference uniform on [-2, 2]; current all in (0, +inf), which on the reference geometry is uniform on [0, 2]:
    // ∫_{-2}^{0} (x+2)/4 dx + ∫_{0}^{2} (1/2 - x/4) dx = 1/2 + 1/2.
    const result = wassersteinMetric.compute(numeric([4, 4], [0], { min: -2, max: 2 }), numeric([0, 8], [0], { min: 1, max: 5 }));
    expect(result.value).toBeCloseTo(1, 12);
  });
});

describe('outer-bin bounds (binBounds) and binned moments', () => {
  it('shrink a tail stretched by one extreme value so the binned mean equals the known mean', () => {
    // 90 zeros, nine values 0.1 and one 1.0: mean 0.019; the tail (0, +inf) holds 10 values with mean 0.19,
    // so the tail bin must end at 0.38 (uniform on [0, 0.38] has mean 0.19), not at the maximum 1.0.
    const distribution = numeric([90, 10], [0], { min: 0, max: 1, mean: 0.019 });
    const bounds = binBounds(distribution, [0]);
    expect(bounds[0]).toBe(0);
    expect(bounds[2]).toBeCloseTo(0.38, 12);
    expect(binnedMoments(distribution).mean).toBeCloseTo(0.019, 12);
  });

  it('keep the observed range without a mean, and one bin width beyond the edges without min/max', () => {
    expect(binBounds(numeric([1, 1, 1], [0, 2], { min: -1, max: 10 }), [0, 2])).toEqual([-1, 0, 2, 10]);
    expect(binBounds(numeric([1, 1, 1], [0, 2]), [0, 2])).toEqual([-2, 0, 2, 4]);
  });

  it('make Wasserstein ignore a single extreme current value (reference geometry)', () => {
    const edges = [1, 2, 3];
    const reference = numeric([100, 100, 100, 100], edges, { min: 0, max: 4, mean: 2 });
    const withOutlier = numeric([100, 100, 100, 100], edges, { min: 0, max: 1e6, mean: 2 + 1e6 / 400 });
    expect(wassersteinMetric.compute(reference, withOutlier).value).toBeCloseTo(0, 12);
  });
});

describe('Wasserstein with a single bin (constant reference: no edges)', () => {
  it('falls back to the distance of the means, 0 without them', () => {
    expect(wassersteinMetric.compute({ counts: [10], edges: [], mean: 0, min: 0, max: 0 }, { counts: [5], edges: [], mean: 0.25, min: 0, max: 1 }).value).toBeCloseTo(0.25, 12);
    expect(wassersteinMetric.compute({ counts: [10], edges: [] }, { counts: [5], edges: [] }).value).toBe(0);
  });
});

describe('chi-square test of homogeneity', () => {
  it('matches the hand-computed 2x3 table (χ² = 16/3, df = 2, p = e^{-8/3}, V = √(χ²/N))', () => {
    // Rows [10,20,30] and [20,20,20]: expected 15, 20, 25 in both rows.
    const result = chiSquareMetric.compute({ counts: [10, 20, 30], labels: ['a', 'b', 'c'] }, { counts: [20, 20, 20], labels: ['a', 'b', 'c'] });
    expect(result.value).toBeCloseTo(16 / 3, 12);
    expect(result.details?.df).toBe(2);
    expect(result.pValue).toBeCloseTo(Math.exp(-8 / 3), 10);
    expect(result.effect).toBeCloseTo(Math.sqrt(16 / 3 / 120), 12);
  });

  it('matches the textbook 2x2 value without continuity correction (χ² = N(ad - bc)² / (r1 r2 c1 c2))', () => {
    const [a, b, c, d] = [12, 5, 7, 9];
    const n = a + b + c + d;
    const expected = (n * (a * d - b * c) ** 2) / ((a + b) * (c + d) * (a + c) * (b + d));
    const result = chiSquareMetric.compute({ counts: [a, b] }, { counts: [c, d] });
    expect(result.value).toBeCloseTo(expected, 12);
    expect(result.details?.df).toBe(1);
  });

  it('drops columns empty on both sides and reports the unseen bucket and rate', () => {
    const labels = ['x', 'y', '__other__', UNSEEN_LABEL];
    const result = chiSquareMetric.compute({ counts: [50, 50, 0, 0], labels }, { counts: [40, 40, 0, 20], labels });
    expect(result.details?.df).toBe(2);
    expect(result.details?.unseen).toBe(20);
    expect(result.details?.unseenRate).toBeCloseTo(0.2, 12);
    // χ² = 4·25/45 + 2·100/10 = 200/9 with df 2, so p = e^{-100/9}.
    expect(result.value).toBeCloseTo(200 / 9, 10);
    expect(result.pValue).toBeCloseTo(Math.exp(-100 / 9), 12);
  });
});

describe('model-level metrics', () => {
  it('accuracy and macro-F1 from a hand-made confusion matrix', () => {
    const performance = livePerformance([
      [5, 1, 0],
      [1, 2, 1],
      [0, 2, 8],
    ]);
    expect(performance.labelled).toBe(20);
    expect(performance.accuracy).toBeCloseTo(0.75, 12);
    const f1 = [5 / 6, (2 * 0.4 * 0.5) / 0.9, (2 * (8 / 9) * 0.8) / (8 / 9 + 0.8)];
    expect(performance.macroF1).toBeCloseTo(f1.reduce((sum, value) => sum + value, 0) / 3, 12);
  });

  it('leaves classes absent from labels and predictions out of macro-F1', () => {
    const performance = livePerformance([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 10],
    ]);
    expect(performance.macroF1).toBe(1);
    expect(performance.perClass.map((c) => c.label)).toEqual(['positive']);
  });

  it('confidence drop, outlier rate and prediction drift from a summary', () => {
    const sketch = new SummarySketch();
    const state = sketch.zero();
    sketch.add(state, { sentiment: 'positive', confidence: 0.8, outlier: false, rating: 5 });
    sketch.add(state, { sentiment: 'negative', confidence: 0.6, outlier: true, rating: 1 });
    expect(confidenceDrop(0.9, state)).toBeCloseTo(0.2, 12);
    expect(outlierRate(state)).toBe(0.5);
    expect(predictionDrift([10, 0, 10], state.predicted)).toBeCloseTo(0, 12);
    expect(predictionDrift([0, 10, 0], state.predicted)).toBeCloseTo(1, 12);
    expect(confidenceDrop(0.9, sketch.zero())).toBe(0);
  });
});

/** Every DriftMetric: the properties that make its numbers safe to threshold. */
function metricConformance(metric: DriftMetric): void {
  const kind = metric.appliesTo[0];
  const make = (counts: number[]): BinnedDistribution =>
    kind === 'numeric' ? { counts, edges: counts.slice(1).map((_, i) => i * 2), min: -3, max: 2 * counts.length } : { counts, labels: counts.map((_, i) => `c${i}`) };
  const a = make([30, 50, 0, 20, 100]);
  const b = make([10, 0, 70, 25, 5]);

  describe(`DriftMetric conformance: ${metric.name}`, () => {
    it('identical distributions give ~0 (and p-value 1 for tests)', () => {
      const result = metric.compute(a, make([60, 100, 0, 40, 200]));
      expect(Math.abs(result.value)).toBeLessThan(1e-12);
      expect(Math.abs(result.effect)).toBeLessThan(1e-12);
      if (result.pValue !== undefined) expect(result.pValue).toBeGreaterThan(0.999);
    });

    it('is non-negative and finite, also with empty bins and all-zero sides', () => {
      for (const [ref, cur] of [
        [a, b],
        [make([0, 0, 0, 0, 0]), b],
        [a, make([0, 0, 0, 0, 0])],
        [make([0, 0, 0, 0, 0]), make([0, 0, 0, 0, 0])],
        [make([1, 0, 0, 0, 0]), make([0, 0, 0, 0, 1])],
        [make([7]), make([3])],
        [make([0]), make([3])],
      ] as const) {
        const result = metric.compute(ref, cur);
        expect(Number.isFinite(result.value)).toBe(true);
        expect(Number.isFinite(result.effect)).toBe(true);
        expect(result.value).toBeGreaterThanOrEqual(0);
        if (result.pValue !== undefined) {
          expect(result.pValue).toBeGreaterThanOrEqual(0);
          expect(result.pValue).toBeLessThanOrEqual(1);
        }
      }
    });

    if (metric.symmetric === false) {
      it('declares a direction: swapping reference and current changes the value, both stay positive', () => {
        expect(metric.compute(a, b).value).not.toBeCloseTo(metric.compute(b, a).value, 3);
        expect(metric.compute(b, a).value).toBeGreaterThan(0);
      });
    } else {
      it('is symmetric in its value (swapping reference and current)', () => {
        expect(metric.compute(a, b).value).toBeCloseTo(metric.compute(b, a).value, 10);
      });
    }

    it('grows with the difference', () => {
      const near = make([30, 50, 5, 20, 95]);
      expect(metric.compute(a, b).value).toBeGreaterThan(metric.compute(a, near).value);
    });

    it('refuses bins of different length', () => {
      expect(() => metric.compute(a, make([1, 2]))).toThrow();
    });
  });
}

for (const metric of DRIFT_METRICS) metricConformance(metric);
