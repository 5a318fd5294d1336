import { describe, expect, it } from 'vitest';
import { segmentReference, type SegmentLayout } from '../../../core/drift/segments.js';
import { buildBaseline, seededRandom, syntheticReview } from '../../../fixtures/synthetic.js';

const random = seededRandom(5);
const reviews = Array.from({ length: 3_000 }, (_, i) => syntheticReview(i, random, { modelName: 'm', modelVersion: 1, ingestTimeMs: 0 }));
const baseline = buildBaseline('m', 1, reviews);
const layout: SegmentLayout = { named: new Set(['Beauty', 'Toys']), other: '__other__', unseen: '__unseen__', minRows: 200 };

describe('segmentReference', () => {
  it('the all-traffic segment and unseen categories use the global reference', () => {
    expect(segmentReference(baseline, '__all__', '__all__', layout)).toMatchObject({ scope: 'global', rows: 3_000 });
    expect(segmentReference(baseline, '__unseen__', '__all__', layout)).toMatchObject({ scope: 'unseen', baseline });
  });

  it('a named segment uses its own rows, with its own quality figures', () => {
    const toys = segmentReference(baseline, 'Toys', '__all__', layout);
    const expectedRows = reviews.filter((r) => r.category === 'Toys').length;
    expect(toys).toMatchObject({ scope: 'segment', rows: expectedRows });
    expect(toys.baseline.rows).toBe(expectedRows);
    expect(toys.baseline.segments).toBeUndefined();
    const rating = toys.baseline.features['rating'];
    expect(rating?.kind === 'categorical' ? rating.total : -1).toBe(expectedRows);
  });

  it('__other__ is the global reference minus the named segments (counts are additive)', () => {
    const other = segmentReference(baseline, '__other__', '__all__', layout);
    const expectedRows = reviews.filter((r) => r.category !== 'Toys' && r.category !== 'Beauty').length;
    expect(other).toMatchObject({ scope: 'segment', rows: expectedRows });
    const length = other.baseline.features['feature.text_length'];
    if (length?.kind !== 'numeric') throw new Error('numeric');
    expect(length.total).toBe(expectedRows);
    const lengths = reviews.filter((r) => r.category !== 'Toys' && r.category !== 'Beauty').map((r) => r.features['text_length']!);
    expect(length.mean).toBeCloseTo(lengths.reduce((a, b) => a + b, 0) / lengths.length, 6);
  });

  it('falls back to the global reference below the minimum rows, and for baselines without segments', () => {
    expect(segmentReference(baseline, 'Toys', '__all__', { ...layout, minRows: 10_000 })).toMatchObject({ scope: 'fallback', rows: 3_000 });
    const { segments: _s, ...old } = baseline;
    expect(segmentReference(old, 'Toys', '__all__', layout)).toMatchObject({ scope: 'fallback' });
    expect(segmentReference(old, '__other__', '__all__', layout)).toMatchObject({ scope: 'fallback' });
  });
});
