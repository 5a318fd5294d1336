/**
 * Calibration of the sentiment probabilities for the label-free performance estimate (cbpe.ts).
 *
 * The served probabilities are a blend of two temperature-calibrated models multiplied by
 * exp(logOffsets) and renormalised (core/model/text-model.ts `blendSentiment`): a prior shift that moves
 * probability mass to the rare classes so that argmax gets a better macro-F1. It makes the served
 * probabilities under-confident (on the shipped model's held-out rows the mean top probability is 0.834
 * against an accuracy of 0.863) — fine for a decision, wrong for an expectation. The calibration divides
 * the shift out and applies one temperature fitted on the validation rows (log loss):
 *
 *   q = normalise((p * exp(-logOffsets))^(1/T))
 *
 * The served prediction (argmax p) is kept as it is: CBPE asks "given this prediction, how likely is
 * each true class", which is q. Nothing the runtimes serve changes, so predictions stay bit-identical
 * across runtimes; the map is applied where the estimate is accumulated (the drift aggregator) from the
 * probabilities every scored event carries.
 */
import type { SentimentCalibration } from '../../schemas/baseline.js';

export type { SentimentCalibration };

const CLASSES = 3;
/** Temperatures searched when fitting (log loss is smooth and unimodal in T; a grid keeps the fit deterministic). */
const TEMPERATURE_GRID = { from: 0.5, to: 2.5, step: 0.01 };
const ECE_BINS = 10;

/** Whether a stored calibration can be applied (three finite offsets, a positive finite temperature). */
export function isUsableCalibration(value: unknown): value is SentimentCalibration {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Partial<SentimentCalibration>;
  return (
    c.method === 'prior-offsets-temperature' &&
    Array.isArray(c.logOffsets) &&
    c.logOffsets.length === CLASSES &&
    c.logOffsets.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
    typeof c.temperature === 'number' &&
    Number.isFinite(c.temperature) &&
    c.temperature > 0
  );
}

/**
 * A function from served probabilities to calibrated ones (SENTIMENTS order). Without a usable
 * calibration (baselines written before it) it returns the served probabilities unchanged.
 */
export function sentimentCalibrator(calibration: SentimentCalibration | null | undefined): (served: readonly number[]) => number[] {
  if (!isUsableCalibration(calibration)) return (served) => [...served];
  const factors = calibration.logOffsets.map((offset) => Math.exp(-offset));
  const inverseTemperature = 1 / calibration.temperature;
  return (served) => {
    // Plain loops: the aggregator calls this once per scored event.
    const q = new Array<number>(served.length);
    let sum = 0;
    for (let k = 0; k < served.length; k++) {
      q[k] = Math.max(served[k]! * factors[k]!, 1e-30) ** inverseTemperature;
      sum += q[k]!;
    }
    for (let k = 0; k < q.length; k++) q[k] = q[k]! / sum;
    return q;
  };
}

/** Index of the largest probability (the first on ties, as argmax in the runtimes). */
export function argmax(probabilities: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
  return best;
}

/**
 * Top-label expected calibration error: reviews binned by the probability given to the predicted class
 * (10 equal-width bins), the row-weighted mean of |mean probability - accuracy| per bin.
 */
export function topLabelEce(probabilities: readonly (readonly number[])[], predicted: readonly number[], labels: readonly number[]): number {
  const bins = Array.from({ length: ECE_BINS }, () => ({ rows: 0, confidence: 0, correct: 0 }));
  probabilities.forEach((p, r) => {
    const confidence = p[predicted[r]!]!;
    const bin = bins[Math.min(ECE_BINS - 1, Math.floor(confidence * ECE_BINS))]!;
    bin.rows++;
    bin.confidence += confidence;
    bin.correct += predicted[r] === labels[r] ? 1 : 0;
  });
  const total = probabilities.length;
  return total === 0 ? 0 : bins.reduce((sum, bin) => sum + Math.abs(bin.confidence - bin.correct) / total, 0);
}

function logLoss(probabilities: readonly (readonly number[])[], labels: readonly number[]): number {
  let sum = 0;
  probabilities.forEach((q, r) => (sum -= Math.log(Math.max(q[labels[r]!]!, 1e-12))));
  return sum / Math.max(probabilities.length, 1);
}

/**
 * Fits the calibration on labelled rows the model did not train on (the validation split): the served
 * probabilities of each row, its label (SENTIMENTS index) and the blend's log offsets.
 */
export function fitSentimentCalibration(served: readonly (readonly number[])[], labels: readonly number[], logOffsets: readonly number[]): SentimentCalibration {
  if (served.length === 0 || served.length !== labels.length) throw new RangeError(`calibration needs one label per row (rows ${served.length}, labels ${labels.length}) and at least one row`);
  const calibrationAt = (temperature: number): SentimentCalibration => ({ method: 'prior-offsets-temperature', logOffsets: [...logOffsets], temperature, rows: served.length, eceServed: 0, eceCalibrated: 0 });
  let best = { temperature: 1, loss: Number.POSITIVE_INFINITY };
  const steps = Math.round((TEMPERATURE_GRID.to - TEMPERATURE_GRID.from) / TEMPERATURE_GRID.step);
  for (let i = 0; i <= steps; i++) {
    const temperature = Math.round((TEMPERATURE_GRID.from + i * TEMPERATURE_GRID.step) * 100) / 100;
    const calibrate = sentimentCalibrator(calibrationAt(temperature));
    const loss = logLoss(served.map(calibrate), labels);
    if (loss < best.loss - 1e-12) best = { temperature, loss };
  }
  const fitted = calibrationAt(best.temperature);
  const predicted = served.map(argmax);
  const calibrate = sentimentCalibrator(fitted);
  return { ...fitted, eceServed: round6(topLabelEce(served, predicted, labels)), eceCalibrated: round6(topLabelEce(served.map(calibrate), predicted, labels)) };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
