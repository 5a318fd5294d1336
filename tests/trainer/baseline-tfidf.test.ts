import { describe, expect, it } from 'vitest';
import { SENTIMENTS } from '../../schemas/types.js';
import { evaluateTfidf } from '../../trainer/baseline-tfidf.js';
import { splitByReviewId } from '../../trainer/data.js';
import { auroc, classificationReport } from '../../trainer/metrics.js';
import { syntheticReviews } from './fixtures.js';

describe('classification metrics', () => {
  it('computes accuracy, per-class P/R/F1, macro-F1 and the confusion matrix', () => {
    const actual = [0, 0, 1, 1, 2, 2, 2, 2];
    const predicted = [0, 1, 1, 1, 2, 2, 0, 2];
    const r = classificationReport(actual, predicted, SENTIMENTS);
    expect(r.accuracy).toBe(0.75);
    expect(r.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 3],
    ]);
    expect(r.perClass.negative).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(r.perClass.neutral?.precision).toBeCloseTo(2 / 3, 4);
    expect(r.perClass.neutral?.f1).toBe(0.8);
    expect(r.perClass.positive).toEqual({ precision: 1, recall: 0.75, f1: 0.8571, support: 4 });
    expect(r.macroF1).toBeCloseTo((0.5 + 0.8 + 0.857142) / 3, 3);
  });

  it('skips classes absent from the labels in macro-F1 (e.g. no 3-star reviews)', () => {
    const r = classificationReport([0, 2, 2], [0, 2, 2], SENTIMENTS);
    expect(r.macroF1).toBe(1);
  });

  it('computes AUROC with ties counted half', () => {
    expect(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(auroc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });
});

describe('TF-IDF + logistic regression baseline', () => {
  it('learns the synthetic sentiment on the held-out part', () => {
    const { rest, held } = splitByReviewId(syntheticReviews(1500, 8), 0.2, 1);
    const { report, features } = evaluateTfidf(rest, held);
    expect(features).toBeGreaterThan(20);
    expect(report.rows).toBe(held.length);
    expect(report.macroF1).toBeGreaterThan(0.85);
  });
});
