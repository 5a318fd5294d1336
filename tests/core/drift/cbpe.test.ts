/**
 * Confidence-based performance estimation: a hand-computed window, the counted confusion matrix as the
 * special case of certain probabilities, the estimate of a merge, and the property CBPE rests on — when
 * labels are drawn from the (calibrated) probabilities, the estimate converges to the realized figures.
 */
import { describe, expect, it } from 'vitest';
import { estimatePerformance } from '../../../core/drift/cbpe.js';
import { livePerformance } from '../../../core/drift/metrics.js';
import { ExpectedConfusionSketch, type ExpectedConfusionState } from '../../../core/sketch/expected-confusion.js';
import { seededRandom } from './random.js';

const sketch = new ExpectedConfusionSketch();

function stateOf(rows: Array<{ probabilities: number[]; predicted: number }>): ExpectedConfusionState {
  const state = sketch.zero();
  for (const row of rows) sketch.add(state, row);
  return state;
}

/** Random probability vectors (positive leaning, like review traffic), with their argmax. */
function randomRows(count: number, seed: number): Array<{ probabilities: number[]; predicted: number }> {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const raw = [random() ** 2, random() ** 3, random() * 1.5].map((x) => x + 0.01);
    const sum = raw.reduce((a, b) => a + b, 0);
    const probabilities = raw.map((x) => x / sum);
    return { probabilities, predicted: probabilities.indexOf(Math.max(...probabilities)) };
  });
}

describe('estimatePerformance', () => {
  it('computes a hand-checked window: accuracy = mean probability of the prediction, F1 from the expected cells', () => {
    const estimate = estimatePerformance(
      stateOf([
        { probabilities: [0.8, 0.1, 0.1], predicted: 0 },
        { probabilities: [0.2, 0.2, 0.6], predicted: 2 },
      ]),
    )!;
    expect(estimate.reviews).toBe(2);
    expect(estimate.accuracy).toBeCloseTo(0.7, 12);
    // negative: tp 0.8, fp 0.2, fn 0.2 -> 0.8; neutral: tp 0 -> 0; positive: tp 0.6, fp 0.4, fn 0.1 -> 1.2 / 1.7.
    expect(estimate.perClass.map((c) => c.f1)).toEqual([expect.closeTo(0.8, 12), 0, expect.closeTo(1.2 / 1.7, 12)]);
    expect(estimate.macroF1).toBeCloseTo((0.8 + 0 + 1.2 / 1.7) / 3, 12);
    expect(estimate.perClass.map((c) => c.support)).toEqual([expect.closeTo(1, 12), expect.closeTo(0.3, 12), expect.closeTo(0.7, 12)]);
  });

  it('equals the realized figures when every probability is 0 or 1 (the counted confusion matrix)', () => {
    const random = seededRandom(5);
    const rows = Array.from({ length: 300 }, () => {
      const label = Math.floor(random() * 3);
      const predicted = random() < 0.7 ? label : Math.floor(random() * 3);
      return { label, predicted, probabilities: [0, 1, 2].map((k) => (k === label ? 1 : 0)) };
    });
    const counted = [0, 1, 2].map((label) => [0, 1, 2].map((predicted) => rows.filter((r) => r.label === label && r.predicted === predicted).length));
    const realized = livePerformance(counted);
    const estimate = estimatePerformance(stateOf(rows))!;
    expect(estimate.accuracy).toBe(realized.accuracy);
    expect(estimate.macroF1).toBeCloseTo(realized.macroF1, 12);
  });

  it('is null for a window without reviews (invalid values do not count)', () => {
    expect(estimatePerformance(sketch.zero())).toBeNull();
    expect(estimatePerformance(sketch.add(sketch.zero(), { probabilities: [Number.NaN, 0.5, 0.5], predicted: 1 }))).toBeNull();
  });

  it('the estimate of merged windows is the estimate of all their reviews', () => {
    const rows = randomRows(900, 17);
    const merged = sketch.merge(sketch.merge(stateOf(rows.slice(0, 250)), stateOf(rows.slice(250, 700))), stateOf(rows.slice(700)));
    const whole = estimatePerformance(stateOf(rows))!;
    const fromMerge = estimatePerformance(merged)!;
    expect(fromMerge.reviews).toBe(900);
    expect(fromMerge.accuracy).toBeCloseTo(whole.accuracy, 12);
    expect(fromMerge.macroF1).toBeCloseTo(whole.macroF1, 12);
  });

  it('converges to the realized accuracy and macro-F1 when labels follow the probabilities (calibrated by construction)', () => {
    const rows = randomRows(40_000, 29);
    const random = seededRandom(41);
    const counted = [0, 1, 2].map(() => [0, 0, 0]);
    for (const row of rows) {
      const u = random();
      const label = u < row.probabilities[0]! ? 0 : u < row.probabilities[0]! + row.probabilities[1]! ? 1 : 2;
      counted[label]![row.predicted]!++;
    }
    const realized = livePerformance(counted);
    const estimate = estimatePerformance(stateOf(rows))!;
    // Standard error of the realized accuracy here is ~0.0025: 0.01 is four of them.
    expect(Math.abs(estimate.accuracy - realized.accuracy)).toBeLessThan(0.01);
    expect(Math.abs(estimate.macroF1 - realized.macroF1)).toBeLessThan(0.015);
    // Not trivially so: an over-confident version of the same probabilities overestimates clearly.
    const sharpened = rows.map((row) => {
      const q = row.probabilities.map((p) => p ** 3);
      const sum = q.reduce((a, b) => a + b, 0);
      return { probabilities: q.map((x) => x / sum), predicted: row.predicted };
    });
    expect(estimatePerformance(stateOf(sharpened))!.accuracy - realized.accuracy).toBeGreaterThan(0.05);
  });
});
