import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { BinnedHistogramSketch } from '../../../core/sketch/histogram.js';
import { CategoricalCountSketch } from '../../../core/sketch/categorical.js';
import { SummarySketch, ratingLabel } from '../../../core/sketch/summary.js';
import { incrementsToLuaArgs, mergeIncrements } from '../../../core/sketch/redis-increments.js';

describe('BinnedHistogramSketch', () => {
  const sketch = new BinnedHistogramSketch([0, 10, 20]);

  it('bins on (-inf, e0], (e0, e1], ..., (e_last, +inf): an edge value falls in the lower bin', () => {
    const state = sketch.zero();
    for (const value of [-5, 0, 0.0001, 10, 15, 20, 20.5, 1e9]) sketch.add(state, value);
    expect(state.counts).toEqual([2, 2, 2, 2]);
    expect(state.min).toBe(-5);
    expect(state.max).toBe(1e9);
    expect(state.count).toBe(8);
  });

  it('keeps sum and sum of squares for mean and std', () => {
    const state = sketch.zero();
    for (const value of [2, 4, 4, 4, 5, 5, 7, 9]) sketch.add(state, value);
    expect(sketch.mean(state)).toBe(5);
    expect(sketch.std(state)).toBeCloseTo(2, 12);
  });

  it('refuses edges that are not strictly ascending or not finite', () => {
    expect(() => new BinnedHistogramSketch([1, 1])).toThrow(DriftlineError);
    expect(() => new BinnedHistogramSketch([1, Number.NaN])).toThrow(DriftlineError);
  });

  it('refuses to merge or read states made on other bins', () => {
    const other = new BinnedHistogramSketch([0, 10]);
    expect(() => sketch.merge(sketch.zero(), other.zero())).toThrow(DriftlineError);
    expect(() => sketch.deserialize(other.serialize(other.zero()))).toThrow(/different bin edges/);
  });

  it('detects a torn hash whose bins do not add up to the count', () => {
    expect(() => sketch.fromHash({ n: '3', b0: '1' })).toThrow(/add up/);
  });

  it('writes min/max as compare-and-set increments only when it has values', () => {
    const state = sketch.add(sketch.zero(), 3.25);
    const increments = sketch.toIncrements(state);
    expect(increments.mins).toEqual({ min: 3.25 });
    expect(increments.maxes).toEqual({ max: 3.25 });
    expect(increments.ints).toEqual({ n: 1, b1: 1 });
    expect(increments.floats).toEqual({ sum: 3.25, sq: 3.25 * 3.25, s1: 3.25 });
  });

  it('writes a touched bin\'s sum even when it is 0, and only touched bins', () => {
    const state = sketch.add(sketch.add(sketch.zero(), 0), 0);
    const increments = sketch.toIncrements(state);
    expect(increments.ints).toEqual({ n: 2, b0: 2 });
    expect(increments.floats).toEqual({ s0: 0 });
  });

  it('reads format 1 (no per-bin sums) from serialize and from Redis as binSums null, and merges them as unknown', () => {
    const v1 = JSON.stringify({ kind: 'binned-histogram', v: 1, state: { edges: [0, 10, 20], counts: [0, 1, 0, 0], count: 1, sum: 5, sumSquares: 25, min: 5, max: 5, invalid: 0 } });
    const old = sketch.deserialize(v1);
    expect(old.binSums).toBeNull();
    expect(old.counts).toEqual([0, 1, 0, 0]);
    // A format-1 hash: a counted bin without its sum field.
    expect(sketch.fromHash({ n: '1', b1: '1', sum: '5', sq: '25', min: '5', max: '5' }).binSums).toBeNull();
    expect(sketch.fromHash({ n: '1', b1: '1', s1: '5', sum: '5', sq: '25', min: '5', max: '5' }).binSums).toEqual([0, 5, 0, 0]);
    const fresh = sketch.add(sketch.zero(), 12);
    expect(sketch.merge(old, fresh).binSums).toBeNull();
    expect(sketch.merge(old, fresh).counts).toEqual([0, 1, 1, 0]);
    expect(sketch.deserialize(sketch.serialize(old)).binSums).toBeNull();
  });
});

describe('CategoricalCountSketch', () => {
  it('separates known categories, reference values beyond the cap (other) and new values (unseen)', () => {
    const sketch = new CategoricalCountSketch(['a', 'b'], { otherValues: ['c'] });
    const state = sketch.zero();
    for (const value of ['a', 'a', 'b', 'c', 'z', 'z', 'z']) sketch.add(state, value);
    expect(state).toEqual({ counts: [2, 1], other: 1, unseen: 3, invalid: 0 });
    expect(sketch.total(state)).toBe(7);
  });

  it("counts unknown values as 'other' when asked to (reference had values beyond the cap, not listed)", () => {
    const sketch = new CategoricalCountSketch(['a'], { unknownAs: 'other' });
    const state = sketch.add(sketch.add(sketch.zero(), 'q'), 'a');
    expect(state).toEqual({ counts: [1], other: 1, unseen: 0, invalid: 0 });
  });

  it('keys Redis fields by category name and refuses a category it does not know', () => {
    const sketch = new CategoricalCountSketch(['x:y', 'b']);
    expect(sketch.toIncrements(sketch.add(sketch.zero(), 'x:y')).ints).toEqual({ 'c:x:y': 1 });
    expect(sketch.fromHash({ 'c:x:y': '4', unseen: '2' })).toEqual({ counts: [4, 0], other: 0, unseen: 2, invalid: 0 });
    expect(() => sketch.fromHash({ 'c:nope': '1' })).toThrow(DriftlineError);
    expect(() => new CategoricalCountSketch(['a', 'a'])).toThrow(DriftlineError);
  });
});

describe('SummarySketch', () => {
  it('derives the label from the rating: 1-2 negative, 3 neutral, 4-5 positive', () => {
    expect([1, 2, 3, 4, 5].map(ratingLabel)).toEqual(['negative', 'negative', 'neutral', 'positive', 'positive']);
    expect(ratingLabel(0)).toBeNull();
    expect(ratingLabel(3.5)).toBeNull();
  });

  it('fills the confusion matrix as [rating label][prediction] and the per-class counts', () => {
    const sketch = new SummarySketch();
    const state = sketch.zero();
    sketch.add(state, { sentiment: 'positive', confidence: 0.9, outlier: false, rating: 5 });
    sketch.add(state, { sentiment: 'positive', confidence: 0.6, outlier: true, rating: 1, late: true });
    sketch.add(state, { sentiment: 'neutral', confidence: 0.3, outlier: false, rating: 3 });
    expect(state.count).toBe(3);
    expect(state.outliers).toBe(1);
    expect(state.late).toBe(1);
    expect(state.confidenceSum).toBeCloseTo(1.8, 12);
    expect(state.predicted).toEqual([0, 1, 2]);
    expect(state.confusion).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [0, 0, 1],
    ]);
  });
});

describe('Redis increments helpers', () => {
  it('flattens increments into (op, field, value) triples after the TTL', () => {
    const args = incrementsToLuaArgs({ ints: { n: 2 }, floats: { sum: 0.1 }, mins: { min: -1 }, maxes: { max: 3 } }, 3600);
    expect(args).toEqual(['3600', 'i', 'n', '2', 'f', 'sum', '0.1', 'n', 'min', '-1', 'x', 'max', '3']);
  });

  it('merges increment sets: sums add, mins and maxes keep the extreme', () => {
    const merged = mergeIncrements(
      { ints: { n: 2 }, floats: { sum: 1.5 }, mins: { min: 0 }, maxes: { max: 3 } },
      { ints: { n: 1, b0: 1 }, floats: { sum: 2 }, mins: { min: -2 }, maxes: { max: 1 } },
    );
    expect(merged).toEqual({ ints: { n: 3, b0: 1 }, floats: { sum: 3.5 }, mins: { min: -2 }, maxes: { max: 3 } });
  });
});
