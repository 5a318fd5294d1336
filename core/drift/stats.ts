/**
 * Special functions and small statistics used by the drift metrics, written out here (no statistics
 * package is installed). Algorithms follow Numerical Recipes (3rd ed.), chapters 6.1-6.2 and 14.3.
 */

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const c: readonly [number, ...number[]] = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0];
  for (let i = 1; i < c.length; i++) sum += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const GAMMA_EPS = 1e-15;
const GAMMA_MAX_ITER = 10_000;
const TINY = 1e-300;

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < GAMMA_MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * GAMMA_EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x >= a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < GAMMA_EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 0;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), computed directly in the tail (no cancellation). */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** P(X >= x) for X ~ chi-square with `df` degrees of freedom. */
export function chiSquareSurvival(x: number, df: number): number {
  if (df <= 0) return 1;
  if (x <= 0) return 1;
  return clampProbability(regularizedGammaQ(df / 2, x / 2));
}

/**
 * Kolmogorov distribution survival Q_KS(λ) = P(K > λ) = 2 Σ_{j≥1} (-1)^{j-1} e^{-2 j² λ²}.
 * For small λ that alternating series converges slowly, so the equivalent Jacobi-theta form
 * 1 - (√(2π)/λ) Σ_{j≥1} e^{-(2j-1)² π² / (8 λ²)} is used there (Numerical Recipes 6.14).
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const y = Math.exp(-(Math.PI * Math.PI) / (8 * lambda * lambda));
    let sum = 0;
    for (let j = 1; j <= 7; j++) sum += y ** ((2 * j - 1) * (2 * j - 1));
    return clampProbability(1 - (Math.sqrt(2 * Math.PI) / lambda) * sum);
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += (j % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return clampProbability(2 * sum);
}

/**
 * Two-sample KS p-value from the statistic D and the sample sizes: the asymptotic Kolmogorov law at
 * λ = (√nₑ + 0.12 + 0.11/√nₑ)·D with nₑ = n·m/(n+m) (Stephens' small-sample correction, NR 14.3.18).
 */
export function ksPValue(statistic: number, n: number, m: number): number {
  if (n <= 0 || m <= 0 || statistic <= 0) return 1;
  const effective = Math.sqrt((n * m) / (n + m));
  return kolmogorovSurvival((effective + 0.12 + 0.11 / effective) * statistic);
}

/** Standard normal CDF Φ(x) via erfc (W. J. Cody-style rational fit from NR 6.2, relative error < 1.2e-7). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}

/**
 * Holm's step-down adjustment of a family of p-values (controls the family-wise error rate like
 * Bonferroni, uniformly more powerful). Returns adjusted p-values in the input order, capped at 1
 * and made monotone in the sorted order. NaN inputs stay NaN and do not count as tests.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const order = pValues.map((p, i) => ({ p, i })).filter((item) => Number.isFinite(item.p)).sort((a, b) => a.p - b.p);
  const tests = order.length;
  const adjusted = pValues.map(() => Number.NaN);
  let running = 0;
  order.forEach((item, rank) => {
    running = Math.max(running, Math.min(1, (tests - rank) * item.p));
    adjusted[item.i] = running;
  });
  return adjusted;
}

/** Bonferroni: p·m capped at 1. */
export function bonferroniAdjust(pValues: readonly number[]): number[] {
  const tests = pValues.filter((p) => Number.isFinite(p)).length;
  return pValues.map((p) => (Number.isFinite(p) ? Math.min(1, p * tests) : Number.NaN));
}

function clampProbability(p: number): number {
  return Math.min(1, Math.max(0, p));
}
