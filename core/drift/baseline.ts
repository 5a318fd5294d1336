/**
 * Reference baselines: per model version, for every monitored value, the histogram of the training
 * data (quantile bin edges for numeric values, counts for categorical ones). The trainer writes one
 * with each version; the drift aggregator bins live values on the same edges and compares.
 * `monitoredValues` is the single definition of what is monitored, used on both sides.
 */
import type { ScoredReview } from '../../schemas/types.js';

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

export interface ReferenceBaseline {
  formatVersion: number;
  modelName: string;
  modelVersion: number;
  createdAtMs: number;
  rows: number;
  features: Record<string, FeatureBaseline>;
  /** Training-set quality of the sentiment model (for live-performance comparison). */
  reference: { accuracy: number; macroF1: number; meanConfidence: number; outlierRate: number };
}

/** What one scored review contributes to monitoring. The same shape comes from the trainer's own predictions. */
export type MonitoredInput = Pick<
  ScoredReview,
  'rating' | 'helpful_votes' | 'verified' | 'category' | 'features' | 'sentiment' | 'confidence' | 'outlier_score' | 'shift_score'
>;

export const CATEGORICAL_MONITORED = ['rating', 'verified', 'category', 'prediction.sentiment'] as const;

/** Monitored value name -> value. Numeric features are prefixed `feature.`; null values are `'(null)'` / skipped. */
export function monitoredValues(input: MonitoredInput): { numeric: Record<string, number>; categorical: Record<string, string> } {
  const numeric: Record<string, number> = {};
  for (const [name, value] of Object.entries(input.features)) numeric[`feature.${name}`] = value;
  if (input.helpful_votes !== null) numeric['helpful_votes'] = input.helpful_votes;
  numeric['prediction.confidence'] = input.confidence;
  numeric['prediction.outlier_score'] = input.outlier_score;
  numeric['prediction.shift_score'] = input.shift_score;
  const categorical: Record<string, string> = {
    rating: String(input.rating),
    verified: input.verified === null ? '(null)' : String(input.verified),
    category: input.category ?? '(null)',
    'prediction.sentiment': input.sentiment,
  };
  return { numeric, categorical };
}
