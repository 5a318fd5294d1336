/**
 * The show of the label-free estimate: on the shipped sample's held-out reviews (never seen in
 * training; the calibration was fitted on other, validation, rows), scored by the shipped model and
 * windowed by the aggregator's own code, the CBPE accuracy estimate of every window is within ±0.05 of
 * the realized accuracy. Windows of 200 reviews: the realized accuracy of 200 reviews alone has a
 * standard error of ~0.025, so the bound is about two of them — smaller windows are noisier than the
 * bound (docs/drift.md shows windows of 100). `npx tsx bench/cbpe.ts` prints the same table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { heldOutEstimateTable, type EstimateTable } from '../../fixtures/cbpe-windows.js';

const BOUND = 0.05;
let table: EstimateTable;

beforeAll(async () => {
  table = await heldOutEstimateTable({ perWindow: 200 });
}, 120_000);

describe('CBPE on the shipped sample, held-out traffic', () => {
  it('windows every held-out review of the sample (the trainer split: ~20 %)', () => {
    expect(table.heldOutReviews).toBeGreaterThan(500);
    expect(table.windows.length).toBe(Math.floor(table.heldOutReviews / 200));
    expect(table.windows.reduce((sum, w) => sum + w.reviews, 0)).toBe(table.heldOutReviews);
    expect(table.overall.reviews).toBe(table.heldOutReviews);
  });

  it('estimates each window’s accuracy within ±0.05 of the realized accuracy', () => {
    for (const window of table.windows) expect(Math.abs(window.estimatedAccuracy - window.accuracy), `window ${window.window}`).toBeLessThanOrEqual(BOUND);
    expect(Math.abs(table.overall.estimatedAccuracy - table.overall.accuracy)).toBeLessThanOrEqual(BOUND);
  });

  it('is closer overall than the uncalibrated served probabilities (the calibration is what makes it work)', () => {
    const calibratedError = Math.abs(table.overall.estimatedAccuracy - table.overall.accuracy);
    const servedError = Math.abs(table.overall.estimatedAccuracyUncalibrated - table.overall.accuracy);
    expect(calibratedError).toBeLessThan(servedError);
  });

  it('gives a macro-F1 estimate for every window (reported, not bounded: macro-F1 of 200 reviews with ~16 neutral ones is noisy)', () => {
    for (const window of table.windows) {
      expect(window.estimatedMacroF1).toBeGreaterThan(0.3);
      expect(window.estimatedMacroF1).toBeLessThan(1);
    }
  });
});
