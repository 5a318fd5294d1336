/** The recent-sample reservoir within a batch: the K smallest hashes of review_id, whatever the order. */
import { describe, expect, it } from 'vitest';
import { sampleHash, WindowSample, recentReviewRows, type SampledReview } from '../../drift-aggregator/recent-sample.js';
import { seededRandom, syntheticReview } from './fixtures.js';

function reviews(count: number) {
  const random = seededRandom(7);
  return Array.from({ length: count }, (_, i) => ({ ...syntheticReview(i, random, { modelName: 'm', modelVersion: 1, ingestTimeMs: i }), text: `text ${i}`, title: i % 2 === 0 ? `title ${i}` : null }));
}

describe('recent-sample reservoir', () => {
  it('sampleHash is a deterministic 48-bit integer, different per id', () => {
    expect(sampleHash('a')).toBe(sampleHash('a'));
    expect(sampleHash('a')).not.toBe(sampleHash('b'));
    expect(Number.isSafeInteger(sampleHash('a'))).toBe(true);
    expect(sampleHash('a')).toBeLessThan(2 ** 48);
  });

  it('sampleHash is uniform on sequential ids (every review has the same chance K / n)', () => {
    // Ids that differ in one character are the hard case for a weak hash.
    const fractions = Array.from({ length: 20_000 }, (_, i) => sampleHash(`review-${i}`) / 2 ** 48).sort((a, b) => a - b);
    const ks = Math.max(...fractions.map((f, i) => Math.max(Math.abs(f - i / fractions.length), Math.abs(f - (i + 1) / fractions.length))));
    // The 1 % critical value of the one-sample KS statistic is 1.63 / sqrt(n) = 0.0115.
    expect(ks).toBeLessThan(0.0115);
    // Both halves of the 48 bits vary: the low 16 and the high 16 bits each spread over their range.
    const high = new Set(fractions.map((f) => Math.floor(f * 16)));
    const low = new Set(Array.from({ length: 2_000 }, (_, i) => sampleHash(`r${i}`) % 16));
    expect([high.size, low.size]).toEqual([16, 16]);
  });

  it('keeps the K smallest hashes, the same set in any order', () => {
    const all = reviews(500);
    const expected = all.map((r) => [sampleHash(r.review_id), r.review_id] as const).sort((a, b) => a[0] - b[0]).slice(0, 30).map(([, id]) => id);
    const forward = new WindowSample(30);
    for (const review of all) forward.add(review, 'Books');
    const backward = new WindowSample(30);
    for (const review of [...all].reverse()) backward.add(review, 'Books');
    const ids = (sample: WindowSample) => sample.members().map(([, member]) => (JSON.parse(member) as SampledReview).review_id);
    expect(ids(forward)).toEqual(expected);
    expect(ids(backward)).toEqual(expected);
    expect(forward.members()).toEqual(backward.members());
  });

  it('keeps nothing when K is 0', () => {
    const sample = new WindowSample(0);
    for (const review of reviews(10)) sample.add(review, 'Books');
    expect(sample.members()).toEqual([]);
  });

  it('turns zset members into recent_reviews rows with text, title, rating and prediction', () => {
    const [review] = reviews(1);
    const sample = new WindowSample(5);
    sample.add(review!, '__other__');
    const rows = recentReviewRows({ modelName: 'm', modelVersion: 2, start: 60_000 }, 60_000, sample.members().map(([hash, member]) => [member, hash]), 9);
    expect(rows).toEqual([
      expect.objectContaining({ window_start: 60_000, window_end: 120_000, window_size_ms: 60_000, model_version: 2, segment: '__other__', review_id: review!.review_id, rating: review!.rating, text: 'text 0', title: 'title 0', sentiment: review!.sentiment, sample_hash: sampleHash(review!.review_id), written_at: 9 }),
    ]);
  });
});
