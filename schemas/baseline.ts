/**
 * The shape of a reference baseline (baseline.json beside each model version): per monitored value, the
 * training data's histogram. A stored format, like the Avro records, so it lives with the schemas: the
 * model registry stores it and the drift family builds and reads it, neither importing the other.
 * Building and binning are in core/drift/baseline.ts.
 */
export const BASELINE_FORMAT_VERSION = 1;

export interface NumericBaseline {
  kind: 'numeric';
  /** Inner bin edges, ascending; k edges make k + 1 bins: (-inf, e0], (e0, e1], ..., (e_{k-1}, +inf). */
  edges: number[];
  /** counts.length === edges.length + 1 */
  counts: number[];
  total: number;
  mean: number;
  min: number;
  max: number;
  /**
   * Per bin, the sum of the reference values in it (same length as counts): makes the per-bin integral of
   * the CDF exact, hence Wasserstein-1 (core/drift/metrics.ts). Absent in baselines written before it.
   */
  sums?: number[];
  /** Population standard deviation of the reference values. Absent in older baselines (estimated from the bins). */
  std?: number;
}

export interface CategoricalBaseline {
  kind: 'categorical';
  /** Known categories, most frequent first (capped); everything else counts as 'other'. */
  categories: string[];
  counts: number[];
  other: number;
  total: number;
}

export type FeatureBaseline = NumericBaseline | CategoricalBaseline;

/**
 * The reference of embedding drift (core/drift/embedding.ts): the random Fourier features of the model's
 * pooled review representation (which ones: dims, features, seed, bandwidth; core/sketch/embedding.ts)
 * averaged over the reference rows, and their covariance, which the window's test statistic needs.
 */
export interface EmbeddingBaseline {
  dims: number;
  features: number;
  seed: number;
  bandwidth: number;
  /** Reference rows with a representation. */
  count: number;
  /** Mean random-feature vector (length features). */
  mean: number[];
  /** Covariance of the random-feature vector over the reference rows (features × features, row-major). */
  covariance: number[];
}

/**
 * One category segment's reference: the same features binned on the global baseline's edges and
 * categories (so a window's segment sketch compares with it directly), and its own quality figures.
 */
export interface SegmentBaseline {
  rows: number;
  features: Record<string, FeatureBaseline>;
  /** The segment's own embedding reference (absent: none, or too few rows). */
  embedding?: EmbeddingBaseline;
  reference: ReferenceBaseline['reference'];
}

export interface ReferenceBaseline {
  formatVersion: number;
  modelName: string;
  modelVersion: number;
  createdAtMs: number;
  rows: number;
  features: Record<string, FeatureBaseline>;
  /** Training-set quality of the sentiment model (for live-performance comparison). */
  reference: { accuracy: number; macroF1: number; meanConfidence: number; outlierRate: number };
  /**
   * Per category (every category of features.category), that category's rows alone. Absent in baselines
   * written before per-segment references: every segment is then compared with the global reference.
   */
  segments?: Record<string, SegmentBaseline>;
  /**
   * Embedding-drift reference (core/drift/embedding.ts). Absent in baselines written before it, or when the
   * model's predictions carried no representation: no embedding metric is then computed.
   */
  embedding?: EmbeddingBaseline;
  /**
   * How to turn the served sentiment probabilities into calibrated ones for the label-free performance
   * estimate (core/drift/calibration.ts); fitted on the validation rows at training time. Absent in
   * baselines written before it: the served probabilities are then used as they are.
   */
  sentimentCalibration?: SentimentCalibration;
}

/**
 * Calibration of the served sentiment probabilities p (SENTIMENTS order): q = normalise((p * exp(-logOffsets))^(1/temperature)).
 * The served blend multiplies calibrated probabilities by exp(logOffsets) (a prior shift that helps
 * macro-F1 and moves probability mass to the rare classes); dividing it out and one temperature fitted
 * on the validation rows (log loss) give calibrated probabilities without changing what is served.
 */
export interface SentimentCalibration {
  method: 'prior-offsets-temperature';
  logOffsets: number[];
  temperature: number;
  /** Validation rows the temperature was fitted on. */
  rows: number;
  /** Top-label expected calibration error (10 equal-width bins) on those rows, served probabilities / calibrated. */
  eceServed: number;
  eceCalibrated: number;
}

