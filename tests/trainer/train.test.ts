import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { sentimentLabel, splitByReviewId, toReview } from '../../trainer/data.js';
import { chooseCategories } from '../../trainer/train.js';
import { syntheticReviews, trainTiny } from './fixtures.js';

describe('deterministic split', () => {
  it('puts each review on the same side every time, about the asked share held out', () => {
    const rows = syntheticReviews(2000, 4);
    const a = splitByReviewId(rows, 0.2, 9);
    const b = splitByReviewId([...rows].reverse(), 0.2, 9);
    expect(new Set(b.held.map((r) => r.review_id))).toEqual(new Set(a.held.map((r) => r.review_id)));
    expect(a.held.length / rows.length).toBeGreaterThan(0.17);
    expect(a.held.length / rows.length).toBeLessThan(0.23);
    expect(a.held.length + a.rest.length).toBe(rows.length);
  });
});

describe('labels and categories', () => {
  it('maps ratings to sentiment classes', () => {
    expect([1, 2, 3, 4, 5].map(sentimentLabel)).toEqual([0, 0, 1, 2, 2]);
  });

  it('merges rare categories into other', () => {
    const rows = syntheticReviews(100, 2).map((r, i) => ({ ...r, category: i < 5 ? 'Rare' : r.category }));
    const categories = chooseCategories(rows, 10);
    expect(categories).not.toContain('Rare');
    expect(categories.at(-1)).toBe('other');
  });
});

describe('seeded training', () => {
  it('is repeatable: same data + seed give identical weights; another seed gives other weights', async () => {
    const rows = syntheticReviews(300, 21);
    const first = await trainTiny(rows, { epochs: 2 });
    const second = await trainTiny(rows, { epochs: 2 });
    const third = await trainTiny(rows, { epochs: 2, seed: 7 });
    expect(Buffer.from(second.bundle.embedding.buffer).equals(Buffer.from(first.bundle.embedding.buffer))).toBe(true);
    const weights = (r: typeof first) => r.bundle.head.getWeights().map((w) => Array.from(w.dataSync()));
    expect(weights(second)).toEqual(weights(first));
    expect(second.bundle.outlier).toEqual(first.bundle.outlier);
    expect(Buffer.from(second.bundle.wide.kernel.buffer).equals(Buffer.from(first.bundle.wide.kernel.buffer))).toBe(true);
    expect(second.bundle.manifest.blend).toEqual(first.bundle.manifest.blend);
    expect(Buffer.from(third.bundle.wide.kernel.buffer).equals(Buffer.from(first.bundle.wide.kernel.buffer))).toBe(false);
    expect(second.history.map((h) => h.loss)).toEqual(first.history.map((h) => h.loss));
    expect(Buffer.from(third.bundle.embedding.buffer).equals(Buffer.from(first.bundle.embedding.buffer))).toBe(false);
    for (const r of [first, second, third]) {
      r.bundle.head.dispose();
      r.bundle.autoencoder.dispose();
    }
  }, 120_000);

  it('refuses too little data with TRAINING_FAILED', async () => {
    await expect(trainTiny(syntheticReviews(20, 1))).rejects.toSatisfy((err: unknown) => err instanceof DriftlineError && err.code === 'TRAINING_FAILED');
  });
});

describe('training rows with oversized free-text fields', () => {
  it('fails the job naming the line for a category over 200 characters (it would become a segment and a Redis key)', () => {
    const row = { review_id: 'r1', text: 'fine', rating: 4, category: 'c'.repeat(20_000) };
    expect(() => toReview(row, 'train.jsonl:7')).toThrow(DriftlineError);
    expect(() => toReview(row, 'train.jsonl:7')).toThrow(/train\.jsonl:7: category is 20000 characters, the limit is 200/);
    expect(toReview({ ...row, category: 'c'.repeat(200) }, 'train.jsonl:7').category).toHaveLength(200);
  });
});
