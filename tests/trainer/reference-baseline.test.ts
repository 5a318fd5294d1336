import { describe, expect, it } from 'vitest';
import { binIndex, buildCategoricalBaseline, DEFAULT_NUMERIC_BINS, buildNumericBaseline, nextDown, buildReferenceBaseline, monitoredValues, type MonitoredInput } from '../../core/drift/baseline.js';

describe('numeric baseline', () => {
  it('uses equal-mass quantile bins whose counts and per-bin sums cover every value', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    // Ten equal-mass bins, plus the empty bins outside the range and (1000 values, 64 equal-width
    // edges) the width cap's edges between the quantile ones.
    const coarse = buildNumericBaseline(values, 10);
    expect(coarse.edges.filter((edge) => edge % 100 === 99)).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
    expect(coarse.counts[0]).toBe(0);
    expect(coarse.counts[coarse.counts.length - 1]).toBe(0);
    const b = buildNumericBaseline(values);
    // Every bin holds at most the 4 values of an equal-mass bin (1000 / 256), the outer two none.
    expect(Math.max(...b.counts)).toBe(4);
    expect(b.edges.length).toBeGreaterThanOrEqual(DEFAULT_NUMERIC_BINS - 1);
    expect(b.sums!.reduce((a, c) => a + c, 0)).toBe(499_500);
    expect(b.std).toBeCloseTo(Math.sqrt((1000 * 1000 - 1) / 12), 9);
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(1000);
    expect(b.min).toBe(0);
    expect(b.max).toBe(999);
    expect(b.mean).toBeCloseTo(499.5, 9);
  });

  it('deduplicates edges of heavily tied values', () => {
    const values = [...Array(900).fill(0), ...Array.from({ length: 100 }, (_, i) => i + 1)];
    const b = buildNumericBaseline(values);
    expect(new Set(b.edges).size).toBe(b.edges.length);
    expect(b.edges[1]).toBe(0);
    expect(b.counts.slice(0, 2)).toEqual([0, 900]);
    expect(b.counts.reduce((a, c) => a + c, 0)).toBe(1000);
    // The bins the tie used up go to the values after it: the 100 distinct values keep 10 bins of 10.
    const ten = buildNumericBaseline(values, 11);
    for (const edge of [10, 20, 30, 40, 50, 60, 70, 80, 90]) expect(ten.edges).toContain(edge);
  });

  it('bins (-inf, e0], (e0, e1], ..., (e_last, +inf)', () => {
    expect([-5, 1, 1.5, 2, 3, 99].map((v) => binIndex([1, 2, 3], v))).toEqual([0, 0, 1, 1, 2, 3]);
  });

  it('handles a constant feature: one bin at the value, the empty ones below and above it', () => {
    const b = buildNumericBaseline([7, 7, 7]);
    expect(b.edges).toEqual([nextDown(7), 7]);
    expect(b.counts).toEqual([0, 3, 0]);
  });

  it('keeps values outside the reference range in their own bins', () => {
    const b = buildNumericBaseline([0, 1, 2, 3, 4, 5]);
    expect(binIndex(b.edges, -0.5)).toBe(0);
    expect(binIndex(b.edges, 0)).toBe(1);
    expect(binIndex(b.edges, 5.5)).toBe(b.edges.length);
    expect(b.counts[b.edges.length]).toBe(0);
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
