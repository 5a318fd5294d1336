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
}

export interface MetricResult {
  value: number;
  /** Tests only (KS, chi-square): the p-value, before any multiple-testing correction. */
  pValue?: number;
}

export type DriftMetricName = 'psi' | 'ks' | 'js_distance' | 'wasserstein' | 'chi_square';

export interface DriftMetric {
  readonly name: DriftMetricName;
  readonly appliesTo: ReadonlyArray<'numeric' | 'categorical'>;
  compute(reference: BinnedDistribution, current: BinnedDistribution): MetricResult;
}
