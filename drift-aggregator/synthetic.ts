/**
 * Synthetic scored reviews and the reference baseline built from them (the same types the trainer
 * writes), for the aggregator's tests, benchmark and demos without a trained model. Seeded, so every
 * run sees the same data; `shifted` data differs on purpose (longer texts, an unseen category, worse
 * and less confident predictions, more outliers).
 */
import { BASELINE_FORMAT_VERSION, monitoredValues, type FeatureBaseline, type ReferenceBaseline } from '../core/drift/baseline.js';
import { livePerformance } from '../core/drift/metrics.js';
import { seededRandom } from '../core/model/prng.js';
import { SENTIMENTS, type ScoredReview, type Sentiment } from '../schemas/types.js';

export const CATEGORIES = ['Beauty', 'Electronics', 'Garden', 'Toys', 'Kitchen'];

export { seededRandom };

export interface SyntheticOptions {
  modelName: string;
  modelVersion: number;
  /** Shifted data: longer texts, an unseen category, worse and less confident predictions, more outliers. */
  shifted?: boolean;
  ingestTimeMs: number;
  eventTimeMs?: number | null;
}

function ratingLabel(rating: number): Sentiment {
  return rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive';
}

export function syntheticReview(index: number, random: () => number, options: SyntheticOptions): ScoredReview {
  const shifted = options.shifted ?? false;
  const rating = [1, 2, 3, 4, 5, 5, 4, 5][Math.floor(random() * 8)]!;
  const label = ratingLabel(rating);
  const correct = random() < (shifted ? 0.4 : 0.85);
  const sentiment: Sentiment = correct ? label : SENTIMENTS[(SENTIMENTS.indexOf(label) + 1 + Math.floor(random() * 2)) % 3]!;
  const outlierScore = shifted ? 0.5 + random() * 0.5 : random();
  const textLength = (shifted ? 600 : 150) + random() * 300;
  const confidence = shifted ? 0.34 + random() * 0.4 : 0.55 + random() * 0.45;
  const probs = { negative: (1 - confidence) / 2, neutral: (1 - confidence) / 2, positive: (1 - confidence) / 2, [sentiment]: confidence };
  return {
    review_id: `${options.modelName}-${options.shifted ? 's' : 'u'}-${index}`,
    product_id: `P${Math.floor(random() * 1000)}`,
    category: shifted ? 'Books' : CATEGORIES[Math.floor(random() * CATEGORIES.length)]!,
    rating,
    helpful_votes: Math.floor(random() ** 3 * 20),
    verified: random() < 0.7,
    features: { text_length: textLength, exclamation_rate: random() * (shifted ? 0.3 : 0.1), uppercase_ratio: random() * 0.2 },
    sentiment,
    prob_negative: probs.negative,
    prob_neutral: probs.neutral,
    prob_positive: probs.positive,
    confidence,
    predicted_category: null,
    category_confidence: null,
    outlier_score: outlierScore,
    outlier_flag: outlierScore > 0.97,
    shift_score: shifted ? 0.6 + random() * 0.4 : random(),
    rating_text_disagreement: false,
    model_name: options.modelName,
    model_version: options.modelVersion,
    event_time_ms: options.eventTimeMs ?? null,
    ingest_time_ms: options.ingestTimeMs,
    scored_time_ms: options.ingestTimeMs,
    input_partition: 0,
    input_offset: index,
    has_replacement_char: false,
  };
}

function quantileEdges(values: number[], bins: number): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = sorted[Math.floor((i * sorted.length) / bins)]!;
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  return edges;
}

/** A ReferenceBaseline from reference reviews: quantile bins for numbers, counts for categories. */
export function buildBaseline(modelName: string, modelVersion: number, reviews: readonly ScoredReview[], bins = 10): ReferenceBaseline {
  const numeric = new Map<string, number[]>();
  const categorical = new Map<string, Map<string, number>>();
  for (const review of reviews) {
    const values = monitoredValues(review);
    for (const [name, value] of Object.entries(values.numeric)) {
      const list = numeric.get(name) ?? [];
      list.push(value);
      numeric.set(name, list);
    }
    for (const [name, value] of Object.entries(values.categorical)) {
      const counts = categorical.get(name) ?? new Map<string, number>();
      counts.set(value, (counts.get(value) ?? 0) + 1);
      categorical.set(name, counts);
    }
  }
  const features: Record<string, FeatureBaseline> = {};
  for (const [name, values] of numeric) {
    const edges = quantileEdges(values, bins);
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const value of values) {
      let bin = 0;
      while (bin < edges.length && value > edges[bin]!) bin++;
      counts[bin]!++;
    }
    features[name] = { kind: 'numeric', edges, counts, total: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, min: Math.min(...values), max: Math.max(...values) };
  }
  for (const [name, counts] of categorical) {
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    features[name] = { kind: 'categorical', categories: sorted.map(([c]) => c), counts: sorted.map(([, n]) => n), other: 0, total: reviews.length };
  }
  const confusion = SENTIMENTS.map(() => SENTIMENTS.map(() => 0));
  for (const review of reviews) confusion[SENTIMENTS.indexOf(ratingLabel(review.rating))]![SENTIMENTS.indexOf(review.sentiment)]!++;
  const performance = livePerformance(confusion);
  return {
    formatVersion: BASELINE_FORMAT_VERSION,
    modelName,
    modelVersion,
    createdAtMs: 0,
    rows: reviews.length,
    features,
    reference: {
      accuracy: performance.accuracy,
      macroF1: performance.macroF1,
      meanConfidence: reviews.reduce((a, r) => a + r.confidence, 0) / reviews.length,
      outlierRate: reviews.filter((r) => r.outlier_flag).length / reviews.length,
    },
  };
}

/** The baseline of `rows` unshifted synthetic reviews. */
export function syntheticBaseline(modelName: string, modelVersion: number, rows = 4_000, seed = 7): ReferenceBaseline {
  const random = seededRandom(seed);
  const reviews = Array.from({ length: rows }, (_, i) => syntheticReview(i, random, { modelName, modelVersion, ingestTimeMs: 0 }));
  return buildBaseline(modelName, modelVersion, reviews);
}
