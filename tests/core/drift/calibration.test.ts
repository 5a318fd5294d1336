/**
 * The sentiment calibration behind the label-free estimate: dividing out the blend's prior offsets
 * recovers the probabilities they were applied to, the fitted temperature recovers a known distortion,
 * and a missing or broken calibration leaves the served probabilities as they are.
 */
import { describe, expect, it } from 'vitest';
import { argmax, fitSentimentCalibration, isUsableCalibration, sentimentCalibrator, topLabelEce, type SentimentCalibration } from '../../../core/drift/calibration.js';
import { seededRandom } from './random.js';

const OFFSETS = [0.25, 0.75, 0];

function normalise(values: readonly number[]): number[] {
  const sum = values.reduce((a, b) => a + b, 0);
  return values.map((x) => x / sum);
}

/** What the served blend does to calibrated probabilities q: sharpen/flatten by 1/T0, multiply by exp(offsets). */
function serve(q: readonly number[], temperature: number): number[] {
  return normalise(q.map((p, k) => p ** (1 / temperature) * Math.exp(OFFSETS[k]!)));
}

function calibration(temperature: number, logOffsets = OFFSETS): SentimentCalibration {
  return { method: 'prior-offsets-temperature', logOffsets, temperature, rows: 1, eceServed: 0, eceCalibrated: 0 };
}

describe('sentimentCalibrator', () => {
  it('divides the prior offsets out: T = 1 recovers the probabilities the offsets were applied to', () => {
    const q = [0.1, 0.2, 0.7];
    const recovered = sentimentCalibrator(calibration(1))(serve(q, 1));
    recovered.forEach((p, k) => expect(p).toBeCloseTo(q[k]!, 12));
  });

  it('applies the temperature after the offsets', () => {
    const q = [0.1, 0.2, 0.7];
    const recovered = sentimentCalibrator(calibration(0.5))(serve(q, 2));
    recovered.forEach((p, k) => expect(p).toBeCloseTo(q[k]!, 12));
  });

  it('leaves the served probabilities alone without a usable calibration', () => {
    const served = [0.2, 0.3, 0.5];
    for (const broken of [undefined, null, calibration(0), calibration(Number.NaN), calibration(1, [0, 0]), { ...calibration(1), method: 'isotonic' }]) {
      expect(isUsableCalibration(broken)).toBe(false);
      expect(sentimentCalibrator(broken as SentimentCalibration | undefined)(served)).toEqual(served);
    }
    expect(isUsableCalibration(calibration(1.2))).toBe(true);
  });
});

describe('topLabelEce', () => {
  it('is the row-weighted gap between confidence and accuracy per bin', () => {
    // Two rows at 0.95 (one right) and two at 0.55 (both right): |0.95 - 0.5| * 2/4 + |0.55 - 1| * 2/4.
    const probs = [
      [0.95, 0.03, 0.02],
      [0.95, 0.03, 0.02],
      [0.55, 0.25, 0.2],
      [0.55, 0.25, 0.2],
    ];
    expect(topLabelEce(probs, probs.map(argmax), [0, 1, 0, 0])).toBeCloseTo(0.45 * 0.5 + 0.45 * 0.5, 12);
    expect(topLabelEce([], [], [])).toBe(0);
  });
});

describe('fitSentimentCalibration', () => {
  it('recovers a known distortion from labelled rows and lowers the calibration error', () => {
    const random = seededRandom(3);
    const served: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < 6_000; i++) {
      const q = normalise([random() ** 2 + 0.02, random() ** 3 + 0.02, random() * 1.6 + 0.02]);
      const u = random();
      labels.push(u < q[0]! ? 0 : u < q[0]! + q[1]! ? 1 : 2);
      // Served probabilities flattened by T0 = 1.5 and shifted by the offsets: the fit should find 1 / 1.5.
      served.push(serve(q, 1.5));
    }
    const fitted = fitSentimentCalibration(served, labels, OFFSETS);
    expect(fitted.method).toBe('prior-offsets-temperature');
    expect(fitted.logOffsets).toEqual(OFFSETS);
    expect(fitted.rows).toBe(6_000);
    expect(Math.abs(fitted.temperature - 1 / 1.5)).toBeLessThanOrEqual(0.04);
    expect(fitted.eceCalibrated).toBeLessThan(0.02);
    expect(fitted.eceServed).toBeGreaterThan(2 * fitted.eceCalibrated);
  });

  it('refuses rows without labels', () => {
    expect(() => fitSentimentCalibration([], [], OFFSETS)).toThrow(RangeError);
    expect(() => fitSentimentCalibration([[0.2, 0.3, 0.5]], [], OFFSETS)).toThrow(/one label per row/);
  });
});
