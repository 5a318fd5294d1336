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
 * One category segment's reference: the same features binned on the global baseline's edges and
 * categories (so a window's segment sketch compares with it directly), and its own quality figures.
 */
export interface SegmentBaseline {
  rows: number;
  features: Record<string, FeatureBaseline>;
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
}

