/**
 * The category baseline: the TF-IDF + logistic-regression recipe of trainer/baseline-tfidf.ts trained on
 * the category label of the same training rows, scored on the same held-out rows and the same classes as
 * the model (rows of a category that is no class count as 'other' when the model has it, else are skipped).
 */
import { DEFAULT_TFIDF_PARAMS, TfidfModel } from './baseline-tfidf.js';
import type { LabeledReview } from './data.js';
import { categoryClass } from './evaluate.js';
import { type ClassificationReport, classificationReport } from './metrics.js';

export interface CategoryBaseline {
  report: ClassificationReport;
  features: number;
  seconds: number;
}

export function evaluateCategoryTfidf(train: readonly LabeledReview[], test: readonly LabeledReview[], categories: readonly string[]): CategoryBaseline | null {
  if (categories.length < 2) return null;
  const t0 = performance.now();
  const labels = Int32Array.from(train, (r) => categoryClass(r.category, categories));
  // Balanced classes (power 1), as the sentiment recipe's class_weight='balanced'.
  const model = TfidfModel.train(train, { ...DEFAULT_TFIDF_PARAMS, classWeightPower: 1 }, 256, { labels, classCount: categories.length });
  const scored = test.filter((r) => categoryClass(r.category, categories) >= 0);
  const actual = Int32Array.from(scored, (r) => categoryClass(r.category, categories));
  const report = classificationReport(actual, model.predict(scored), categories);
  return { report, features: model.features, seconds: (performance.now() - t0) / 1000 };
}
