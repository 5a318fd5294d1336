import { describe, expect, it } from 'vitest';
import {
  categoricalBaselineDistribution,
  categoricalDistribution,
  categoricalSketchFor,
  histogramDistribution,
  histogramSketchFor,
  numericBaselineDistribution,
} from '../../../core/drift/distribution.js';
import { OTHER_LABEL, UNSEEN_LABEL } from '../../../core/sketch/categorical.js';

describe('baseline and sketch distributions', () => {
  const numeric = { kind: 'numeric' as const, edges: [0, 10], counts: [5, 10, 5], total: 20, mean: 5, min: -10, max: 20 };

  it('a numeric baseline keeps its bins and range and gets a std estimated from its bins', () => {
    const distribution = numericBaselineDistribution(numeric);
    expect(distribution).toMatchObject({ counts: [5, 10, 5], edges: [0, 10], min: -10, max: 20, mean: 5 });
    // Uniform within [-10,0], [0,10], [10,20] in proportions 1:2:1 -> the variance of that mixture.
    const second = 0.25 * (25 + 100 / 12) + 0.5 * (25 + 100 / 12) + 0.25 * (225 + 100 / 12);
    expect(distribution.std).toBeCloseTo(Math.sqrt(second - 25), 10);
  });

  it('a histogram state becomes the same bins with exact moments', () => {
    const sketch = histogramSketchFor(numeric);
    const state = [1, 2, 3, 15].reduce((s, v) => sketch.add(s, v), sketch.zero());
    expect(histogramDistribution(sketch, state)).toMatchObject({ counts: [0, 3, 1], edges: [0, 10], min: 1, max: 15, mean: 5.25 });
    expect(histogramDistribution(sketch, sketch.zero())).toEqual({ counts: [0, 0, 0], edges: [0, 10] });
  });

  it("categorical: categories + other + unseen on both sides, the reference's unseen always 0", () => {
    const baseline = { kind: 'categorical' as const, categories: ['a', 'b'], counts: [6, 3], other: 0, total: 9 };
    expect(categoricalBaselineDistribution(baseline)).toEqual({ counts: [6, 3, 0, 0], labels: ['a', 'b', OTHER_LABEL, UNSEEN_LABEL] });
    const sketch = categoricalSketchFor(baseline);
    const state = ['a', 'z'].reduce((s, v) => sketch.add(s, v), sketch.zero());
    expect(categoricalDistribution(sketch, state)).toEqual({ counts: [1, 0, 0, 1], labels: ['a', 'b', OTHER_LABEL, UNSEEN_LABEL] });
  });

  it("a capped baseline without the list of its other values counts unknown values as 'other'", () => {
    const capped = { kind: 'categorical' as const, categories: ['a'], counts: [6], other: 3, total: 9 };
    const sketch = categoricalSketchFor(capped);
    expect(sketch.add(sketch.zero(), 'z')).toMatchObject({ other: 1, unseen: 0 });
    const listed = categoricalSketchFor(capped, ['y']);
    expect(listed.add(listed.add(listed.zero(), 'y'), 'z')).toMatchObject({ other: 1, unseen: 1 });
  });
});
