import { describe, expect, it } from 'vitest';
import { applyLogOffsets, macroF1Of, tuneLogOffsets } from '../../../trainer/teacher/log-offsets.js';
import { teacherSoftTargets } from '../../../trainer/teacher/students.js';
import { seededRandom } from '../../../core/model/prng.js';

const CLASSES = ['negative', 'neutral', 'positive'] as const;

/** Rows whose neutral probability is systematically too low: the argmax never picks neutral. */
function shyNeutral(n: number, seed: number): { actual: Int32Array; probs: Float32Array } {
  const random = seededRandom(seed);
  const actual = new Int32Array(n);
  const probs = new Float32Array(n * 3);
  for (let r = 0; r < n; r++) {
    const label = r % 3;
    actual[r] = label;
    const p = [0.2 + 0.1 * random(), 0.1 + 0.1 * random(), 0.2 + 0.1 * random()];
    p[label]! += label === 1 ? 0.12 : 0.4;
    const sum = p[0]! + p[1]! + p[2]!;
    for (let c = 0; c < 3; c++) probs[r * 3 + c] = p[c]! / sum;
  }
  return { actual, probs };
}

describe('log-offset tuning', () => {
  it('zero offsets leave the probabilities as they are', () => {
    const { probs } = shyNeutral(30, 1);
    const same = applyLogOffsets(probs, [0, 0, 0]);
    probs.forEach((p, i) => expect(same[i]).toBeCloseTo(p, 6));
  });

  it('lifts an under-predicted class on validation rows and the gain carries to other rows of the same kind', () => {
    const val = shyNeutral(300, 2);
    const test = shyNeutral(300, 3);
    const offsets = tuneLogOffsets(val.actual, val.probs, CLASSES);
    expect(offsets[2]).toBe(0);
    expect(offsets[1]).toBeGreaterThan(offsets[0]!);
    expect(macroF1Of(test.actual, applyLogOffsets(test.probs, offsets), CLASSES)).toBeGreaterThan(macroF1Of(test.actual, test.probs, CLASSES) + 0.1);
  });

  it('keeps zero offsets when the probabilities are already right', () => {
    const actual = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const probs = Float32Array.from([0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8, 0.7, 0.2, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7]);
    expect(tuneLogOffsets(actual, probs, CLASSES)).toEqual([0, 0, 0]);
  });
});

describe('teacher soft targets', () => {
  it('are distributions that lean to the label, cross-fitted on the training rows only', () => {
    const random = seededRandom(4);
    const n = 120;
    const dim = 384;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const teacher = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) teacher[r * dim + d] = (d % 3 === labels[r] ? 1 : 0) + 0.3 * random();
    const train = Array.from({ length: 90 }, (_, i) => i);
    const soft = teacherSoftTargets(teacher, train, labels);
    for (const r of train) {
      const row = [soft[r * 3]!, soft[r * 3 + 1]!, soft[r * 3 + 2]!];
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(row.indexOf(Math.max(...row))).toBe(labels[r]);
      expect(Math.max(...row)).toBeLessThan(1);
    }
    for (let r = 90; r < n; r++) expect([soft[r * 3], soft[r * 3 + 1], soft[r * 3 + 2]]).toEqual([0, 0, 0]);
  });
});
