import { describe, expect, it } from 'vitest';
import { binIndex, buildCategoricalBaseline, buildNumericBaseline, buildReferenceBaseline, monitoredValues, type MonitoredInput } from '../../core/drift/baseline.js';

describe('numeric baseline', () => {
  it('uses ~10 quantile bins whose counts cover every value', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const b = buildNumericBaseline(values);
    expect(b.edges.length).toBe(9);
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(1000);
    for (const c of b.counts) expect(c).toBeGreaterThanOrEqual(99);
    expect(b.min).toBe(0);
    expect(b.max).toBe(999);
    expect(b.mean).toBeCloseTo(499.5, 9);
  });

  it('deduplicates edges of heavily tied values', () => {
    const values = [...Array(900).fill(0), ...Array.from({ length: 100 }, (_, i) => i + 1)];
    const b = buildNumericBaseline(values);
    expect(new Set(b.edges).size).toBe(b.edges.length);
    expect(b.edges[0]).toBe(0);
    expect(b.counts[0]).toBe(900);
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(1000);
  });

  it('bins (-inf, e0], (e0, e1], ..., (e_last, +inf)', () => {
    expect([-5, 1, 1.5, 2, 3, 99].map((v) => binIndex([1, 2, 3], v))).toEqual([0, 0, 1, 1, 2, 3]);
  });

  it('handles a constant feature with no edges and one bin', () => {
    const b = buildNumericBaseline([7, 7, 7]);
    expect(b.edges).toEqual([]);
    expect(b.counts).toEqual([3]);
  });
});

describe('categorical baseline', () => {
  it('counts categories most frequent first and caps the rest into other', () => {
    const b = buildCategoricalBaseline(['a', 'b', 'a', 'c', 'a', 'b'], 2);
    expect(b).toEqual({ kind: 'categorical', categories: ['a', 'b'], counts: [3, 2], other: 1, total: 6 });
  });
});

describe('buildReferenceBaseline', () => {
  it('has one histogram per monitored value of the inputs', () => {
    const inputs: MonitoredInput[] = Array.from({ length: 50 }, (_, i) => ({
      rating: 1 + (i % 5),
      helpful_votes: i % 3 === 0 ? null : i,
      verified: i % 4 === 0 ? null : i % 2 === 0,
      category: i % 2 ? 'Books' : null,
      features: { text_chars: 10 * i, upper_ratio: (i % 7) / 10 },
      sentiment: i % 3 === 0 ? 'negative' : 'positive',
      confidence: 0.5 + (i % 5) / 10,
      outlier_score: i / 50,
      shift_score: (50 - i) / 50,
    }));
    const baseline = buildReferenceBaseline(inputs, { modelName: 'm', modelVersion: 3, reference: { accuracy: 0.9, macroF1: 0.8, meanConfidence: 0.7, outlierRate: 0.01 } });
    const names = new Set<string>();
    for (const input of inputs) {
      const v = monitoredValues(input);
      Object.keys(v.numeric).forEach((n) => names.add(n));
      Object.keys(v.categorical).forEach((n) => names.add(n));
    }
    expect(new Set(Object.keys(baseline.features))).toEqual(names);
    expect(baseline.rows).toBe(50);
    expect(baseline.features['helpful_votes']!.total).toBe(33);
    expect(baseline.features['feature.text_chars']!.kind).toBe('numeric');
    const verified = baseline.features['verified']!;
    expect(verified.kind === 'categorical' && verified.categories.includes('(null)')).toBe(true);
    expect(baseline.modelVersion).toBe(3);
  });
});
