/**
 * The drift-metric family's one small interface: a metric compares a reference distribution with a
 * current one, both given as counts over the same bins (numeric: the baseline's quantile bins;
 * categorical: the baseline's categories + 'other' + 'unseen').
 */
export interface BinnedDistribution {
  /** Bin counts, same length and order for reference and current. */
  counts: number[];
  /** Numeric bins only: the inner edges (counts.length - 1 of them). */
  edges?: number[];
  /** Categorical bins only: one label per count. */
  labels?: string[];
  /** Numeric only, optional: observed range (closes the open outer bins for Wasserstein) and moments. */
  min?: number;
  max?: number;
  mean?: number;
  /** Population standard deviation; Wasserstein's effect size divides by the reference's. */
  std?: number;
  /**
   * Numeric only, optional: per bin, the sum of the values in it. With both sides' sums (and min/max)
   * Wasserstein integrates the CDFs exactly per bin instead of assuming values uniform within bins.
   */
  sums?: number[];
}

export interface MetricResult {
  /** The metric in its own units: PSI, KS statistic D, JS distance, W1 (feature units), chi-square statistic, KL (nats). */
  value: number;
  /** Tests only (KS, chi-square): the p-value, before any multiple-testing correction. */
  pValue?: number;
  /**
   * The effect size the status thresholds are compared with: equal to `value` except for Wasserstein
   * (W1 / reference standard deviation) and chi-square (Cramér's V).
   */
  effect: number;
  /** Extra numbers (degrees of freedom, unseen rate, sample sizes) for logs and the compare report. */
  details?: Record<string, number>;
}

export type DriftMetricName = 'psi' | 'ks' | 'js_distance' | 'wasserstein' | 'chi_square' | 'kl_divergence';

export interface DriftMetric {
  readonly name: DriftMetricName;
  readonly appliesTo: ReadonlyArray<'numeric' | 'categorical'>;
  /** false for a divergence whose value depends on the direction (KL); omitted: symmetric. */
  readonly symmetric?: false;
  compute(reference: BinnedDistribution, current: BinnedDistribution): MetricResult;
}
