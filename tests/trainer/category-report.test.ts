import { describe, expect, it } from 'vitest';
import type { Prediction } from '../../core/model/types.js';
import { evaluateCategoryTfidf } from '../../trainer/category-baseline.js';
import { splitByReviewId } from '../../trainer/data.js';
import { categoryClass, evaluatePredictions } from '../../trainer/evaluate.js';
import { syntheticReviews } from './fixtures.js';

function prediction(id: string, category: string | null): Prediction {
  return {
    review_id: id,
    sentiment: 'positive',
    probabilities: { negative: 0, neutral: 0, positive: 1 },
    confidence: 1,
    category,
    categoryConfidence: 1,
    outlierScore: 0.5,
    outlierFlag: false,
    shiftScore: 0.5,
    ratingTextDisagreement: false,
    features: {},
  };
}

describe('category report', () => {
  it('has per-class precision/recall/F1 and macro-F1; categories that are no class count as other', () => {
    const rows = syntheticReviews(6, 1).map((r, i) => ({ ...r, rating: 5, category: ['Books', 'Books', 'Music', 'Music', 'Rare', null][i] }));
    const predicted = ['Books', 'Music', 'Music', 'Music', 'other', 'Books'];
    const report = evaluatePredictions(rows, rows.map((r, i) => prediction(r.review_id, predicted[i]!)), ['Books', 'Music', 'other']);
    const category = report.category!;
    expect(category.rows).toBe(5);
    expect(category.accuracy).toBe(0.8);
    expect(category.perClass.Books).toEqual({ precision: 1, recall: 0.5, f1: 0.6667, support: 2 });
    expect(category.perClass.Music).toEqual({ precision: 0.6667, recall: 1, f1: 0.8, support: 2 });
    expect(category.perClass.other).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(category.macroF1).toBe(0.8222);
  });

  it('maps a category to its class, to other, or to nothing', () => {
    expect(categoryClass('Music', ['Books', 'Music'])).toBe(1);
    expect(categoryClass('Rare', ['Books', 'Music', 'other'])).toBe(2);
    expect(categoryClass('Rare', ['Books', 'Music'])).toBe(-1);
    expect(categoryClass(null, ['Books'])).toBe(-1);
  });

  it('the TF-IDF + LR category baseline learns the topics on the same split and reports the same classes', () => {
    const { rest, held } = splitByReviewId(syntheticReviews(900, 5), 0.25, 3);
    const baseline = evaluateCategoryTfidf(rest, held, ['Books', 'Kitchen', 'Music'])!;
    expect(baseline.report.classes).toEqual(['Books', 'Kitchen', 'Music']);
    expect(baseline.report.rows).toBe(held.length);
    expect(baseline.report.macroF1).toBeGreaterThan(0.9);
    expect(evaluateCategoryTfidf(rest, held, ['Books'])).toBeNull();
  });
});
