import { describe, expect, it } from 'vitest';
import {
  bonferroniAdjust,
  chiSquareSurvival,
  erfc,
  holmAdjust,
  kolmogorovSurvival,
  ksPValue,
  logGamma,
  normalCdf,
  regularizedGammaP,
  regularizedGammaQ,
} from '../../../core/drift/stats.js';

/** Q(n, x) for integer n has the closed form e^{-x} Σ_{k<n} x^k / k!: an independent check of both branches. */
function integerGammaQ(n: number, x: number): number {
  let term = 1;
  let sum = 1;
  for (let k = 1; k < n; k++) {
    term *= x / k;
    sum += term;
  }
  return Math.exp(-x) * sum;
}

describe('special functions', () => {
  it('logGamma matches log((n-1)!) and Γ(1/2) = √π', () => {
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('regularized incomplete gamma matches the closed form for integer a (series and continued-fraction branches)', () => {
    for (const [a, x] of [
      [1, 0.3],
      [3, 2],
      [3, 9],
      [10, 4],
      [10, 15],
      [25, 40],
    ] as const) {
      expect(regularizedGammaQ(a, x)).toBeCloseTo(integerGammaQ(a, x), 12);
      expect(regularizedGammaP(a, x) + regularizedGammaQ(a, x)).toBeCloseTo(1, 12);
    }
  });

  it('Q(1/2, x) = erfc(√x)', () => {
    expect(regularizedGammaQ(0.5, 2)).toBeCloseTo(0.04550026389635842, 7); // erfc(√2)
    expect(erfc(Math.sqrt(2))).toBeCloseTo(0.04550026389635842, 7);
  });

  it('chi-square survival hits the textbook critical values', () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 7);
    expect(chiSquareSurvival(6.634896601021214, 1)).toBeCloseTo(0.01, 7);
    expect(chiSquareSurvival(11.070497693516351, 5)).toBeCloseTo(0.05, 7);
    expect(chiSquareSurvival(23.209251158954356, 10)).toBeCloseTo(0.01, 7);
    expect(chiSquareSurvival(124.34211340400407, 100)).toBeCloseTo(0.05, 6);
    expect(chiSquareSurvival(0, 4)).toBe(1);
  });

  it('Kolmogorov survival matches tabulated values of the Kolmogorov distribution', () => {
    expect(kolmogorovSurvival(0.5)).toBeCloseTo(0.9639, 4);
    expect(kolmogorovSurvival(1.0)).toBeCloseTo(0.2700, 4);
    expect(kolmogorovSurvival(1.22)).toBeCloseTo(0.1019, 4);
    expect(kolmogorovSurvival(1.36)).toBeCloseTo(0.0495, 4);
    expect(kolmogorovSurvival(1.63)).toBeCloseTo(0.0098, 4);
    // The two series agree where they switch.
    expect(Math.abs(kolmogorovSurvival(1.1799999) - kolmogorovSurvival(1.18))).toBeLessThan(1e-6);
  });

  it('two-sample KS p-value is 0.05 at the large-sample 5% critical value c = 1.3581·√((n+m)/(nm))', () => {
    const n = 100_000;
    const m = 100_000;
    const critical = 1.3581 * Math.sqrt((n + m) / (n * m));
    expect(ksPValue(critical, n, m)).toBeCloseTo(0.05, 3);
    expect(ksPValue(0, n, m)).toBe(1);
  });

  it('normal CDF: Φ(1.96) ≈ 0.975, Φ(0) = 0.5, symmetric', () => {
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(-1.3) + normalCdf(1.3)).toBeCloseTo(1, 7);
  });
});

describe('multiple-testing corrections', () => {
  it('Holm: step-down, monotone in the sorted order, input order kept', () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    const expected = [0.03, 0.06, 0.06, 0.02];
    adjusted.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 12));
  });

  it('Holm caps at 1 and ignores NaN entries in the family size', () => {
    const adjusted = holmAdjust([0.6, Number.NaN, 0.2]);
    expect(adjusted[0]).toBeCloseTo(0.6, 12);
    expect(adjusted[1]).toBeNaN();
    expect(adjusted[2]).toBeCloseTo(0.4, 12);
    expect(holmAdjust([0.7, 0.8])).toEqual([1, 1]);
  });

  it('Bonferroni multiplies by the number of tests; Holm is never larger', () => {
    const p = [0.001, 0.02, 0.3, 0.04];
    const bonferroni = bonferroniAdjust(p);
    expect(bonferroni).toEqual([0.004, 0.08, 1, 0.16]);
    holmAdjust(p).forEach((value, i) => expect(value).toBeLessThanOrEqual(bonferroni[i]! + 1e-15));
  });
});
