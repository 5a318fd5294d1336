/**
 * Glue between baselines, sketches and metrics: the sketches to use for a baseline's features, and the
 * BinnedDistribution of a baseline or of a sketch state (same bins on both sides, by construction).
 */
import { BinnedHistogramSketch, type HistogramState } from '../sketch/histogram.js';
import { CategoricalCountSketch, OTHER_LABEL, UNSEEN_LABEL, type CategoricalState } from '../sketch/categorical.js';
import type { CategoricalBaseline, FeatureBaseline, NumericBaseline } from './baseline.js';
import { binnedMoments } from './metrics.js';
import type { BinnedDistribution } from './types.js';

export function histogramSketchFor(baseline: NumericBaseline): BinnedHistogramSketch {
  return new BinnedHistogramSketch(baseline.edges);
}

/**
 * A baseline with nothing beyond its cap (other === 0) knows every reference value, so unknown values
 * are 'unseen'. With a non-empty 'other' and no list of those values, unknown values cannot be told
 * apart and count as 'other' (see CategoricalCountSketch).
 */
export function categoricalSketchFor(baseline: CategoricalBaseline, otherValues?: Iterable<string>): CategoricalCountSketch {
  if (otherValues !== undefined) return new CategoricalCountSketch(baseline.categories, { otherValues });
  return new CategoricalCountSketch(baseline.categories, { unknownAs: baseline.other > 0 ? 'other' : 'unseen' });
}

export function sketchFor(baseline: FeatureBaseline): BinnedHistogramSketch | CategoricalCountSketch {
  return baseline.kind === 'numeric' ? histogramSketchFor(baseline) : categoricalSketchFor(baseline);
}

/** Older baselines store no std: it is then estimated from their bins (uniform within bins, outer bins as in binBounds). */
export function numericBaselineDistribution(baseline: NumericBaseline): BinnedDistribution {
  const distribution: BinnedDistribution = { counts: [...baseline.counts], edges: [...baseline.edges], min: baseline.min, max: baseline.max, mean: baseline.mean };
  if (baseline.sums && baseline.sums.length === baseline.counts.length) distribution.sums = [...baseline.sums];
  distribution.std = baseline.std !== undefined && Number.isFinite(baseline.std) ? baseline.std : binnedMoments(distribution).std;
  return distribution;
}

export function histogramDistribution(sketch: BinnedHistogramSketch, state: HistogramState): BinnedDistribution {
  const distribution: BinnedDistribution = { counts: [...state.counts], edges: [...sketch.edges] };
  if (state.count > 0) {
    distribution.min = state.min;
    distribution.max = state.max;
    distribution.mean = sketch.mean(state);
    distribution.std = sketch.std(state);
    if (state.binSums) distribution.sums = [...state.binSums];
  }
  return distribution;
}

/** Bins of the coarse view PSI, JS and KL read (their thresholds were set on about ten equal-mass bins). */
export const COARSE_GROUPS = 10;

/**
 * The fine numeric bins grouped into `groups` runs of about equal reference mass (group boundaries where
 * the reference's cumulative share crosses k/groups): PSI, JS and KL read these, because their values
 * and small-sample bias (about (bins - 1)/n for PSI) depend on the number of bins and the thresholds were
 * set on ten. KS and Wasserstein read the fine bins. Already coarse distributions come back unchanged.
 * Both sides use the same grouping (decided by the reference alone); only counts, edges and sums are
 * regrouped, min/max/mean/std stay.
 */
export function coarsePair(reference: BinnedDistribution, current: BinnedDistribution, groups = COARSE_GROUPS): [BinnedDistribution, BinnedDistribution] {
  const bins = reference.counts.length;
  const fineEdges = reference.edges;
  if (bins <= groups + 1 || !fineEdges || current.counts.length !== bins) return [reference, current];
  const total = reference.counts.reduce((a, b) => a + b, 0);
  // ends[g]: index of the last fine bin of group g.
  const ends: number[] = [];
  let cumulative = 0;
  for (let i = 0; i < bins - 1; i++) {
    cumulative += reference.counts[i]!;
    const needed = total === 0 ? ((ends.length + 1) * bins) / groups - 1 : ((ends.length + 1) * total) / groups;
    if ((total === 0 ? i >= needed : cumulative >= needed) && ends.length < groups - 1) ends.push(i);
  }
  ends.push(bins - 1);
  const regroup = (distribution: BinnedDistribution): BinnedDistribution => {
    const counts: number[] = [];
    const sums: number[] = [];
    let start = 0;
    for (const end of ends) {
      let count = 0;
      let sum = 0;
      for (let i = start; i <= end; i++) {
        // ends stay below bins, and both sides have bins counts (checked above).
        count += distribution.counts[i]!;
        sum += distribution.sums?.[i] ?? 0;
      }
      counts.push(count);
      sums.push(sum);
      start = end + 1;
    }
    const { sums: fineSums, ...rest } = distribution;
    const out: BinnedDistribution = { ...rest, counts, edges: ends.slice(0, -1).map((end) => fineEdges[end]!) };
    if (fineSums) out.sums = sums;
    return out;
  };
  return [regroup(reference), regroup(current)];
}

export function categoricalLabels(categories: readonly string[]): string[] {
  return [...categories, OTHER_LABEL, UNSEEN_LABEL];
}

/** Categories + other + unseen (always 0 in the reference: it defines what is "seen"). */
export function categoricalBaselineDistribution(baseline: CategoricalBaseline): BinnedDistribution {
  return { counts: [...baseline.counts, baseline.other, 0], labels: categoricalLabels(baseline.categories) };
}

export function categoricalDistribution(sketch: CategoricalCountSketch, state: CategoricalState): BinnedDistribution {
  return { counts: [...state.counts, state.other, state.unseen], labels: categoricalLabels(sketch.categories) };
}

