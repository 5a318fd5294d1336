/**
 * The sentiment calibration of a trained version (core/drift/calibration.ts): fitted on the validation
 * rows — training rows the model was tuned on but never fitted to, and never the held-out rows, which
 * stay a fair test of it — stored in the version's reference baseline, where the drift aggregator reads
 * it for the label-free performance estimate. The training report gets the calibration and how it does
 * on the held-out rows (top-label ECE served vs calibrated, estimated vs realized accuracy).
 */
import { fitSentimentCalibration, sentimentCalibrator, topLabelEce, type SentimentCalibration } from '../core/drift/calibration.js';
import { estimatePerformance } from '../core/drift/cbpe.js';
import type { LabeledReview } from '../core/review.js';
import { ExpectedConfusionSketch } from '../core/sketch/index.js';
import type { ModelRuntime, Prediction } from '../core/model/types.js';
import { SENTIMENTS } from '../schemas/types.js';
import { sentimentLabel } from './data.js';
import { scoreAll } from './evaluate.js';

/** How the calibration does on labelled rows it was not fitted on. */
export interface CalibrationCheck {
  rows: number;
  accuracy: number;
  /** CBPE accuracy estimate from the served / calibrated probabilities. */
  estimatedAccuracyServed: number;
  estimatedAccuracyCalibrated: number;
  macroF1EstimateCalibrated: number;
  eceServed: number;
  eceCalibrated: number;
}

export interface CalibrationReport {
  fitted: SentimentCalibration;
  heldOut: CalibrationCheck;
}

function servedProbabilities(predictions: readonly Prediction[]): number[][] {
  return predictions.map((p) => SENTIMENTS.map((s) => p.probabilities[s]));
}

/** Fits the calibration on the validation rows' served predictions. */
export async function fitVersionCalibration(runtime: ModelRuntime, validationRows: readonly LabeledReview[], logOffsets: readonly number[]): Promise<SentimentCalibration> {
  const predictions = await scoreAll(runtime, validationRows);
  return fitSentimentCalibration(servedProbabilities(predictions), validationRows.map((r) => sentimentLabel(r.rating)), logOffsets);
}

/** The calibration's quality on labelled rows it was not fitted on (the held-out rows). */
export function checkCalibration(calibration: SentimentCalibration, rows: readonly LabeledReview[], predictions: readonly Prediction[]): CalibrationCheck {
  const served = servedProbabilities(predictions);
  const calibrate = sentimentCalibrator(calibration);
  const calibrated = served.map(calibrate);
  const predicted = predictions.map((p) => SENTIMENTS.indexOf(p.sentiment));
  const labels = rows.map((r) => sentimentLabel(r.rating));
  const estimate = (probabilities: readonly number[][]) => {
    const sketch = new ExpectedConfusionSketch();
    const state = sketch.zero();
    probabilities.forEach((q, i) => sketch.add(state, { probabilities: q, predicted: predicted[i]! }));
    return estimatePerformance(state);
  };
  const fromCalibrated = estimate(calibrated);
  const round = (x: number | undefined) => Math.round((x ?? Number.NaN) * 1e6) / 1e6;
  return {
    rows: rows.length,
    accuracy: round(labels.filter((label, i) => label === predicted[i]).length / Math.max(rows.length, 1)),
    estimatedAccuracyServed: round(estimate(served)?.accuracy),
    estimatedAccuracyCalibrated: round(fromCalibrated?.accuracy),
    macroF1EstimateCalibrated: round(fromCalibrated?.macroF1),
    eceServed: round(topLabelEce(served, predicted, labels)),
    eceCalibrated: round(topLabelEce(calibrated, predicted, labels)),
  };
}
