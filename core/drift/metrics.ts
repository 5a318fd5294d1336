/**
 * The drift metrics. Every DriftMetric compares a reference BinnedDistribution with a current one on
 * the same bins (numeric: the baseline's quantile edges; categorical: categories + other + unseen).
 *
 * Conventions shared by all of them:
 * - An empty side (total 0) is "no evidence": value 0, effect 0, p-value 1. The status rules report
 *   such windows as insufficient before any threshold is looked at.
 * - Binned metrics see bins, not values: KS reads the CDFs at the bin edges (exact there; inside a bin
 *   it can miss at most that bin's share), Wasserstein is exact per bin when both sides carry per-bin
 *   sums (see wassersteinMetric) and otherwise assumes values uniform inside each bin.
 *
 * One file on purpose (~390 lines): the DriftMetric family (PSI, KS, JS, Wasserstein, chi-square, KL)
 * and the summary statistics share these conventions and helpers, and tests/core/drift runs one
 * conformance suite over DRIFT_METRICS; each metric itself is a few dozen lines.
 */
import { DriftlineError } from '../errors.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { UNSEEN_LABEL } from '../sketch/categorical.js';
import type { SummaryState } from '../sketch/summary.js';
import { chiSquareSurvival, ksPValue } from './stats.js';
import type { BinnedDistribution, DriftMetric, DriftMetricName, MetricResult } from './types.js';

/**
 * PSI floor for empty bins: a proportion of 0 would make ln(q/p) infinite, so proportions are floored
 * at 1e-4 (one in ten thousand) before the sum. A bin empty on both sides then contributes 0, and one
 * empty on a single side contributes a large but finite (q - 1e-4)·ln(q / 1e-4).
 */
export const PSI_EPSILON = 1e-4;

function total(counts: readonly number[]): number {
  let sum = 0;
  for (const count of counts) sum += count;
  return sum;
}

function proportions(counts: readonly number[], sum: number): number[] {
  return counts.map((count) => count / sum);
}

function checkSameBins(name: string, reference: BinnedDistribution, current: BinnedDistribution): void {
  if (reference.counts.length !== current.counts.length || reference.counts.length === 0) {
    throw new DriftlineError('INTERNAL', `${name}: reference has ${reference.counts.length} bins, current has ${current.counts.length}`);
  }
}

const NO_EVIDENCE: MetricResult = { value: 0, effect: 0 };

/** Population Stability Index Σ (q - p)·ln(q / p) over bins, p = reference share, q = current share. */
export const psiMetric: DriftMetric = {
  name: 'psi',
  appliesTo: ['numeric', 'categorical'],
  compute(reference, current) {
    checkSameBins('psi', reference, current);
    const n = total(reference.counts);
    const m = total(current.counts);
    if (n === 0 || m === 0) return { ...NO_EVIDENCE };
    const p = proportions(reference.counts, n);
    const q = proportions(current.counts, m);
    let value = 0;
    for (let i = 0; i < p.length; i++) {
      const pi = Math.max(p[i]!, PSI_EPSILON);
      const qi = Math.max(q[i]!, PSI_EPSILON);
      value += (qi - pi) * Math.log(qi / pi);
    }
    return { value, effect: value };
  },
};

/** Jensen–Shannon distance √JSD with base-2 logarithms, so it lies in [0, 1]. Empty bins need no floor (0·log 0 = 0). */
export function jsDistance(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  const n = total(referenceCounts);
  const m = total(currentCounts);
  if (n === 0 || m === 0) return 0;
  let divergence = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const p = referenceCounts[i]! / n;
    const q = currentCounts[i]! / m;
    const mid = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log2(p / mid);
    if (q > 0) divergence += 0.5 * q * Math.log2(q / mid);
  }
  // Rounding can leave a tiny negative divergence for identical inputs.
  return Math.sqrt(Math.min(1, Math.max(0, divergence)));
}

export const jsDistanceMetric: DriftMetric = {
  name: 'js_distance',
  appliesTo: ['numeric', 'categorical'],
  compute(reference, current) {
    checkSameBins('js_distance', reference, current);
    const value = jsDistance(reference.counts, current.counts);
    return { value, effect: value };
  },
};

/**
 * KL smoothing: both sides' bin shares get KL_SMOOTHING added and are renormalised,
 * s̃ᵢ = (sᵢ + ε) / (1 + k·ε), so a bin empty on one side gives a large but finite term instead of an
 * infinite one. Smoothing the shares (not the counts) keeps KL at exactly 0 for identical proportions
 * whatever the two sample sizes. With ε = 1e-4 (PSI's floor) a bin holding 5 % of the current window
 * and nothing in the reference contributes about 0.05·ln(0.05/1e-4) ≈ 0.31 nats.
 */
export const KL_SMOOTHING = 1e-4;

function smoothedShares(counts: readonly number[], sum: number): number[] {
  const denominator = 1 + counts.length * KL_SMOOTHING;
  return counts.map((count) => (count / sum + KL_SMOOTHING) / denominator);
}

/**
 * Kullback–Leibler divergence of the current window from the reference, D(Q‖P) = Σ q̃·ln(q̃ / p̃) in
 * nats over smoothed shares (KL_SMOOTHING). The direction reads "how surprising is the current traffic
 * to the reference": mass arriving where the reference had little costs much, mass leaving costs
 * little. Not symmetric (PSI is the symmetrised version, D(Q‖P) + D(P‖Q) on floored shares; for small
 * shifts KL ≈ PSI / 2, hence default thresholds of half PSI's).
 */
export const klDivergenceMetric: DriftMetric = {
  name: 'kl_divergence',
  appliesTo: ['numeric', 'categorical'],
  symmetric: false,
  compute(reference, current) {
    checkSameBins('kl_divergence', reference, current);
    const n = total(reference.counts);
    const m = total(current.counts);
    if (n === 0 || m === 0) return { ...NO_EVIDENCE };
    const p = smoothedShares(reference.counts, n);
    const q = smoothedShares(current.counts, m);
    let value = 0;
    for (let i = 0; i < p.length; i++) value += q[i]! * Math.log(q[i]! / p[i]!);
    // Rounding can leave a tiny negative sum for identical inputs.
    value = Math.max(0, value);
    return { value, effect: value };
  },
};

/**
 * Two-sample Kolmogorov–Smirnov on binned data: D = max over bin edges of |F_ref - F_cur|. Binning can
 * only hide differences inside a bin, so D is a lower bound of the raw-data statistic (conservative).
 * p-value: asymptotic Kolmogorov law with effective size n·m/(n+m) (see ksPValue).
 */
export const ksMetric: DriftMetric = {
  name: 'ks',
  appliesTo: ['numeric'],
  compute(reference, current) {
    checkSameBins('ks', reference, current);
    const n = total(reference.counts);
    const m = total(current.counts);
    if (n === 0 || m === 0) return { ...NO_EVIDENCE, pValue: 1 };
    let cumulativeReference = 0;
    let cumulativeCurrent = 0;
    let statistic = 0;
    for (let i = 0; i < reference.counts.length; i++) {
      cumulativeReference += reference.counts[i]!;
      cumulativeCurrent += current.counts[i]!;
      statistic = Math.max(statistic, Math.abs(cumulativeReference / n - cumulativeCurrent / m));
    }
    return { value: statistic, effect: statistic, pValue: ksPValue(statistic, n, m), details: { n, m } };
  },
};

/**
 * Where a distribution's open outer bins (-inf, e0] and (e_last, +inf) end, for Wasserstein and the
 * binned std. Start from the observed minimum/maximum (the sketches track them, the baseline stores the
 * training min/max; without them, one average bin width beyond the outer edge). A single extreme value
 * would then spread a whole tail bin up to it — on skewed features (digit ratios: most 0, one review
 * all digits) that puts the tail's mass far too far out. So when the exact mean is known, both
 * tails are shrunk by one common factor t in [0, 1] (tail ends e0 - t·(e0 - min), e_last + t·(max - e_last))
 * chosen so the binned mean equals the true mean: the tails keep their observed direction and end up
 * where the data's first moment says their mass is.
 */
export function binBounds(distribution: BinnedDistribution, edges: readonly number[]): number[] {
  const first = edges[0];
  const last = edges[edges.length - 1];
  // Callers come with edges (binnedMoments checks, Wasserstein takes the single-bin path without them).
  if (first === undefined || last === undefined) throw new DriftlineError('INTERNAL', 'binBounds: a numeric distribution needs at least one edge');
  const width = edges.length >= 2 ? (last - first) / (edges.length - 1) : Math.max(1, Math.abs(first));
  const min = distribution.min !== undefined && Number.isFinite(distribution.min) ? Math.min(first, distribution.min) : first - width;
  const max = distribution.max !== undefined && Number.isFinite(distribution.max) ? Math.max(last, distribution.max) : last + width;
  const t = tailShrink(distribution, edges, first - min, max - last);
  return [first - t * (first - min), ...edges, last + t * (max - last)];
}

/** The common tail factor t matching the binned mean to the known mean (1 when the mean is unknown or uninformative). */
function tailShrink(distribution: BinnedDistribution, edges: readonly number[], lowSpan: number, highSpan: number): number {
  const n = total(distribution.counts);
  const mean = distribution.mean;
  if (mean === undefined || !Number.isFinite(mean) || n === 0) return 1;
  const k = distribution.counts.length;
  const lowCount = distribution.counts[0];
  const highCount = distribution.counts[k - 1];
  const firstEdge = edges[0];
  const lastEdge = edges[edges.length - 1];
  // n > 0 means at least one bin; binBounds guarantees the edges.
  if (lowCount === undefined || highCount === undefined || firstEdge === undefined || lastEdge === undefined) return 1;
  let fixed = lowCount * firstEdge + highCount * lastEdge;
  // Bin i (0 < i < k - 1) lies between edges i - 1 and i, both there since edges.length = k - 1.
  for (let i = 1; i < k - 1; i++) fixed += distribution.counts[i]! * ((edges[i - 1]! + edges[i]!) / 2);
  // n·mean = fixed + (t/2)·(c_high·highSpan - c_low·lowSpan): linear in t.
  const slope = (highCount * highSpan - lowCount * lowSpan) / 2;
  const scale = (highCount * highSpan + lowCount * lowSpan) / 2;
  // Balanced tails (symmetric data) leave t undetermined: keep the observed extent.
  if (!(scale > 0) || Math.abs(slope) < 1e-3 * scale) return 1;
  const t = (n * mean - fixed) / slope;
  return Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 1;
}

/** Mean and population std of a binned distribution, each bin uniform between its bounds (see binBounds). */
export function binnedMoments(distribution: BinnedDistribution): { mean: number; std: number } {
  const edges = distribution.edges ?? [];
  const n = total(distribution.counts);
  if (n === 0 || edges.length === 0) return { mean: 0, std: 0 };
  const bounds = binBounds(distribution, edges);
  let mean = 0;
  let secondMoment = 0;
  distribution.counts.forEach((count, i) => {
    // bounds has one more entry than there are bins (binBounds: edges plus both tail ends).
    const left = bounds[i]!;
    const right = bounds[i + 1]!;
    const share = count / n;
    const mid = (left + right) / 2;
    mean += share * mid;
    secondMoment += share * (mid * mid + ((right - left) * (right - left)) / 12);
  });
  return { mean, std: Math.sqrt(Math.max(0, secondMoment - mean * mean)) };
}

/**
 * ∫|F - G| over one segment where F - G is linear from d0 to d1: the trapezoid of |d| when the sign
 * does not change, two triangles when it does.
 */
function absoluteLinearIntegral(d0: number, d1: number, width: number): number {
  if (width <= 0) return 0;
  if (d0 * d1 >= 0) return (width * (Math.abs(d0) + Math.abs(d1))) / 2;
  return (width * (d0 * d0 + d1 * d1)) / (2 * (Math.abs(d0) + Math.abs(d1)));
}

/** Reference scale for the Wasserstein effect size: its std (given, else from its bins), 1 for a constant reference. */
function referenceScale(reference: BinnedDistribution): number {
  const std = reference.std !== undefined && Number.isFinite(reference.std) ? reference.std : binnedMoments(reference).std;
  return std > 0 ? std : 1;
}

/**
 * Wasserstein-1 (earth mover's) distance ∫|F_ref(x) - F_cur(x)| dx.
 *
 * With per-bin sums on both sides (format-2 sketches and baselines) and both ranges known, exactly per
 * bin: over a bin (a, b] the integral of an empirical CDF is b·F(b) - a·F(a) - Σ_{a<x≤b} x / n, so the
 * signed integral I of F_ref - F_cur over every bin is exact, the open outer bins closed at the smaller
 * minimum and larger maximum of the two sides (where both CDFs are 0 and 1). Where F_ref - F_cur keeps its
 * sign inside a bin (its values at both ends do), ∫|F_ref - F_cur| over the bin is |I| exactly; where it
 * changes sign, |I| is a lower bound and a one-crossing model matching I is used when larger (crossingIntegral). So W1 equals the
 * raw-data value except inside the few bins where the two CDFs cross.
 *
 * Without sums (older baselines and sketches): on the reference's bin geometry, both CDFs piecewise
 * linear (mass uniform within each bin) over the same bounds — the edges, with the open outer bins
 * closed as binBounds does for the reference (its min/max, tails shrunk to match its mean). Mass moving
 * beyond the reference's range then counts as if it sat in the last bin (PSI and KS still see it).
 * Effect = W1 / reference std.
 */
export const wassersteinMetric: DriftMetric = {
  name: 'wasserstein',
  appliesTo: ['numeric'],
  compute(reference, current) {
    checkSameBins('wasserstein', reference, current);
    const edges = reference.edges ?? current.edges ?? [];
    if (edges.length !== reference.counts.length - 1) {
      throw new DriftlineError('INTERNAL', 'wasserstein: numeric bins need edges (counts.length - 1 of them)');
    }
    const n = total(reference.counts);
    const m = total(current.counts);
    if (n === 0 || m === 0) return { ...NO_EVIDENCE };
    const exact = exactWasserstein(reference, current, edges, n, m);
    // Without edges only the exact path (sums and both ranges) sees inside the single bin.
    if (exact === null && edges.length === 0) return singleBinWasserstein(reference, current);
    const value = exact ?? binnedWasserstein(reference, current, edges, n, m);
    const scale = referenceScale(reference);
    return { value, effect: value / scale, details: { referenceStd: scale, exact: exact === null ? 0 : 1 } };
  },
};

function finiteOr(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}

/** The per-bin-sums integral (see wassersteinMetric); null when either side lacks sums or its range. */
function exactWasserstein(reference: BinnedDistribution, current: BinnedDistribution, edges: readonly number[], n: number, m: number): number | null {
  const referenceSums = reference.sums;
  const currentSums = current.sums;
  const bins = reference.counts.length;
  if (!referenceSums || !currentSums || referenceSums.length !== bins || currentSums.length !== bins) return null;
  const mins = [finiteOr(reference.min), finiteOr(current.min)];
  const maxes = [finiteOr(reference.max), finiteOr(current.max)];
  if (mins.some((v) => v === null) || maxes.some((v) => v === null)) return null;
  const low = Math.min(mins[0]!, mins[1]!, edges[0] ?? Infinity);
  const high = Math.max(maxes[0]!, maxes[1]!, edges[edges.length - 1] ?? -Infinity);
  let value = 0;
  let cumulativeReference = 0;
  let cumulativeCurrent = 0;
  let previousGap = 0;
  let left = low;
  for (let i = 0; i < bins; i++) {
    cumulativeReference += reference.counts[i]!;
    cumulativeCurrent += current.counts[i]!;
    // The last bin ends where both CDFs are 1: the gap there is 0 (not rounding's leftovers).
    const gap = i === bins - 1 ? 0 : cumulativeReference / n - cumulativeCurrent / m;
    // edges.length = bins - 1 (checked by the caller), so edges[i] is there for every bin but the last.
    const right = i === bins - 1 ? high : edges[i]!;
    const signed = right * gap - left * previousGap - (referenceSums[i]! / n - currentSums[i]! / m);
    const magnitude = Math.abs(signed);
    value += previousGap * gap < 0 ? Math.max(magnitude, crossingIntegral(previousGap, gap, signed, right - left)) : magnitude;
    previousGap = gap;
    left = right;
  }
  return value;
}

/**
 * ∫|D| over a bin where D = F_ref - F_cur goes from d0 to d1 of opposite signs and its signed integral is I:
 * D modelled as crossing zero once, linearly from d0 to 0 on [0, c] and from 0 to d1 on [c, w], with c
 * chosen so the model's signed integral is I (clamped into the bin). Never below |I| (the caller takes the max).
 */
function crossingIntegral(d0: number, d1: number, signed: number, width: number): number {
  if (width <= 0) return 0;
  const crossing = Math.min(width, Math.max(0, (2 * signed - width * d1) / (d0 - d1)));
  return (crossing * Math.abs(d0) + (width - crossing) * Math.abs(d1)) / 2;
}

/** The uniform-within-bin model on the reference's geometry (see wassersteinMetric). */
function binnedWasserstein(reference: BinnedDistribution, current: BinnedDistribution, edges: readonly number[], n: number, m: number): number {
  const bounds = binBounds(reference, edges);
  let value = 0;
  let cumulativeReference = 0;
  let cumulativeCurrent = 0;
  let previousGap = 0;
  for (let i = 0; i < reference.counts.length; i++) {
    cumulativeReference += reference.counts[i]! / n;
    cumulativeCurrent += current.counts[i]! / m;
    const gap = cumulativeReference - cumulativeCurrent;
    value += absoluteLinearIntegral(previousGap, gap, bounds[i + 1]! - bounds[i]!);
    previousGap = gap;
  }
  return value;
}

/**
 * One bin (the reference was constant, so its quantile edges collapsed): the bins cannot tell anything
 * apart, but the means can — |mean_ref - mean_cur| is a lower bound of W1 and equals it when either side
 * is constant. Without both means there is no evidence: 0.
 */
function singleBinWasserstein(reference: BinnedDistribution, current: BinnedDistribution): MetricResult {
  if (reference.mean === undefined || current.mean === undefined || !Number.isFinite(reference.mean) || !Number.isFinite(current.mean)) {
    return { ...NO_EVIDENCE };
  }
  const value = Math.abs(reference.mean - current.mean);
  const scale = reference.std !== undefined && reference.std > 0 ? reference.std : 1;
  return { value, effect: value / scale, details: { referenceStd: scale } };
}

/**
 * Chi-square test of homogeneity on the 2 x k table (reference row, current row). Columns empty on
 * both sides are dropped (they carry no information and would make expected counts 0);
 * df = (non-empty columns - 1). p-value from the regularized upper incomplete gamma Q(df/2, χ²/2).
 * Effect = Cramér's V = √(χ² / (N·(min(2, k) - 1))) = √(χ²/N), in [0, 1], independent of N.
 * The 'unseen' bucket (label UNSEEN_LABEL, always 0 in the reference) is part of the table and its
 * current share is reported as details.unseenRate.
 */
export const chiSquareMetric: DriftMetric = {
  name: 'chi_square',
  appliesTo: ['categorical'],
  compute(reference, current): MetricResult {
    checkSameBins('chi_square', reference, current);
    const n = total(reference.counts);
    const m = total(current.counts);
    const unseenIndex = (current.labels ?? reference.labels ?? []).indexOf(UNSEEN_LABEL);
    // indexOf gives -1 without an unseen bucket: no such entry, so 0.
    const unseen = current.counts[unseenIndex] ?? 0;
    const unseenRate = m > 0 ? unseen / m : 0;
    if (n === 0 || m === 0) return { ...NO_EVIDENCE, pValue: 1, details: { df: 0, unseen, unseenRate } };
    const grand = n + m;
    let statistic = 0;
    let columns = 0;
    for (let j = 0; j < reference.counts.length; j++) {
      const referenceCount = reference.counts[j]!;
      const currentCount = current.counts[j]!;
      const columnTotal = referenceCount + currentCount;
      if (columnTotal === 0) continue;
      columns++;
      const expectedReference = (n * columnTotal) / grand;
      const expectedCurrent = (m * columnTotal) / grand;
      statistic += (referenceCount - expectedReference) ** 2 / expectedReference;
      statistic += (currentCount - expectedCurrent) ** 2 / expectedCurrent;
    }
    const df = columns - 1;
    const cramersV = df > 0 ? Math.sqrt(Math.min(1, statistic / grand)) : 0;
    return { value: statistic, effect: cramersV, pValue: chiSquareSurvival(statistic, df), details: { df, unseen, unseenRate, n, m } };
  },
};

export const DRIFT_METRICS: readonly DriftMetric[] = [psiMetric, ksMetric, jsDistanceMetric, wassersteinMetric, chiSquareMetric, klDivergenceMetric];

export function metricByName(name: DriftMetricName): DriftMetric {
  const metric = DRIFT_METRICS.find((candidate) => candidate.name === name);
  if (!metric) throw new DriftlineError('INTERNAL', `unknown drift metric ${name}`);
  return metric;
}

/** Metrics computed per feature kind: PSI + KS + JS + Wasserstein + KL for numbers, PSI + JS + chi-square + KL for categories. */
export function metricsFor(kind: 'numeric' | 'categorical'): DriftMetric[] {
  return DRIFT_METRICS.filter((metric) => metric.appliesTo.includes(kind));
}

// ---------------------------------------------------------------------------------------------
// Model-level metrics from the window summary (SummarySketch state).

/** Prediction drift: JS distance between the reference and current predicted-class distributions (SENTIMENTS order). */
export function predictionDrift(referencePredicted: readonly number[], currentPredicted: readonly number[]): number {
  return jsDistance(referencePredicted, currentPredicted);
}

export function meanConfidence(summary: SummaryState): number {
  return summary.count === 0 ? 0 : summary.confidenceSum / summary.count;
}

/** Reference mean confidence minus current mean confidence (positive = the model got less sure). */
export function confidenceDrop(referenceMeanConfidence: number, summary: SummaryState): number {
  return summary.count === 0 ? 0 : referenceMeanConfidence - meanConfidence(summary);
}

export function outlierRate(summary: SummaryState): number {
  return summary.count === 0 ? 0 : summary.outliers / summary.count;
}

export interface LivePerformance {
  /** Reviews with a rating-derived label (the confusion matrix total). */
  labelled: number;
  accuracy: number;
  /** Mean F1 over the classes present in the labels or the predictions of this window. */
  macroF1: number;
  perClass: Array<{ label: string; precision: number; recall: number; f1: number; support: number }>;
}

/**
 * Accuracy and macro-F1 of predicted sentiment against the rating-derived label. A class absent from
 * both labels and predictions in the window is left out of the macro average (its F1 is undefined,
 * counting it as 0 or 1 would move the average for no reason); present classes with no correct
 * prediction get F1 0.
 */
export function livePerformance(confusion: readonly (readonly number[])[]): LivePerformance {
  let labelled = 0;
  let correct = 0;
  const perClass: LivePerformance['perClass'] = [];
  for (const [c, row] of confusion.entries()) {
    // A square matrix: row c has a column c, and so has every other row.
    const truePositives = row[c]!;
    const support = total(row);
    const predicted = confusion.reduce((sum, other) => sum + other[c]!, 0);
    labelled += support;
    correct += truePositives;
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = support === 0 ? 0 : truePositives / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    if (support > 0 || predicted > 0) perClass.push({ label: SENTIMENTS[c] ?? String(c), precision, recall, f1, support });
  }
  const macroF1 = perClass.length === 0 ? 0 : perClass.reduce((sum, item) => sum + item.f1, 0) / perClass.length;
  return { labelled, accuracy: labelled === 0 ? 0 : correct / labelled, macroF1, perClass };
}
