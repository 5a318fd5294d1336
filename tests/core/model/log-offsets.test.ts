import { describe, expect, it } from 'vitest';
import { applyLogOffsets, hasLogOffsets, offsetRow } from '../../../core/model/log-offsets.js';

describe('log offsets (shared by the trainer and the runtimes)', () => {
  it('all-zero offsets are the identity, bit for bit', () => {
    const row = [0.1 + 1e-12, 0.2, 0.7 - 1e-12];
    const copy = [...row];
    offsetRow(row, 0, [0, 0, 0]);
    expect(row).toEqual(copy);
    const probs = Float32Array.from([0.3, 0.3, 0.4, 0.05, 0.05, 0.9]);
    expect(applyLogOffsets(probs, [0, 0, 0])).toEqual(probs);
    expect(hasLogOffsets([0, 0, 0])).toBe(false);
    expect(hasLogOffsets([0, -0.1, 0])).toBe(true);
  });

  it('normalise(p * exp(offsets)) on each row, in place at the given position', () => {
    const rows = [9, 0.2, 0.3, 0.5, 9];
    offsetRow(rows, 1, [0, Math.log(2), 0]);
    expect(rows[0]).toBe(9);
    expect(rows[4]).toBe(9);
    expect(rows[1]).toBeCloseTo(0.2 / 1.3, 12);
    expect(rows[2]).toBeCloseTo(0.6 / 1.3, 12);
    expect(rows[3]).toBeCloseTo(0.5 / 1.3, 12);
    const out = applyLogOffsets(Float32Array.from([0.2, 0.3, 0.5, 0.6, 0.2, 0.2]), [Math.log(3), 0, 0]);
    expect([...out].map((x) => Number(x.toFixed(5)))).toEqual([0.42857, 0.21429, 0.35714, 0.81818, 0.09091, 0.09091]);
  });

  it('a zero probability stays usable (clamped before the offset), so the row still sums to 1', () => {
    const row = [0, 0.5, 0.5];
    offsetRow(row, 0, [5, 0, 0]);
    expect(row[0]! + row[1]! + row[2]!).toBeCloseTo(1, 12);
    expect(row[0]).toBeGreaterThan(0);
  });
});
