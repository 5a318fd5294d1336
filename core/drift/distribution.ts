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

/** The baseline stores no std: it is estimated from its bins (uniform within bins, outer bins as in binBounds). */
export function numericBaselineDistribution(baseline: NumericBaseline): BinnedDistribution {
  const distribution: BinnedDistribution = { counts: [...baseline.counts], edges: [...baseline.edges], min: baseline.min, max: baseline.max, mean: baseline.mean };
  distribution.std = binnedMoments(distribution).std;
  return distribution;
}

export function histogramDistribution(sketch: BinnedHistogramSketch, state: HistogramState): BinnedDistribution {
  const distribution: BinnedDistribution = { counts: [...state.counts], edges: [...sketch.edges] };
  if (state.count > 0) {
    distribution.min = state.min;
    distribution.max = state.max;
    distribution.mean = sketch.mean(state);
    distribution.std = sketch.std(state);
  }
  return distribution;
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

