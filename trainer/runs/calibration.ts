/**
 * Calibration of the sentiment head: does a confidence of 0.8 mean right 8 times in 10? Top-label
 * reliability bins (the predicted class's probability against whether it was right), the expected and
 * maximum calibration error, and the multi-class Brier score.
 */
import type { Prediction } from '../../core/model/types.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { round4 } from '../metrics.js';

export interface ReliabilityBin {
  /** Confidence range [lower, upper) (the last bin includes 1). */
  lower: number;
  upper: number;
  count: number;
  /** null for an empty bin. */
  meanConfidence: number | null;
  accuracy: number | null;
}

export interface CalibrationReport {
  rows: number;
  bins: ReliabilityBin[];
  /** Expected calibration error: sum over bins of share of rows x |accuracy - mean confidence|. */
  ece: number;
  /** Maximum calibration error over the non-empty bins. */
  mce: number;
  /** Mean over rows of the squared distance between the probabilities and the one-hot label. */
  brier: number;
  meanConfidence: number;
  accuracy: number;
}

/** `labels[i]`: index into SENTIMENTS of row i's true class. */
export function calibrationReport(predictions: readonly Prediction[], labels: ArrayLike<number>, binCount = 10): CalibrationReport {
  const counts = new Array<number>(binCount).fill(0);
  const confidenceSums = new Array<number>(binCount).fill(0);
  const correctCounts = new Array<number>(binCount).fill(0);
  let brier = 0;
  let confidenceTotal = 0;
  let correctTotal = 0;
  predictions.forEach((prediction, i) => {
    const bin = Math.min(binCount - 1, Math.max(0, Math.floor(prediction.confidence * binCount)));
    const correct = SENTIMENTS.indexOf(prediction.sentiment) === labels[i];
    counts[bin]!++;
    confidenceSums[bin]! += prediction.confidence;
    if (correct) correctCounts[bin]!++;
    confidenceTotal += prediction.confidence;
    if (correct) correctTotal++;
    SENTIMENTS.forEach((sentiment, k) => {
      const target = labels[i] === k ? 1 : 0;
      brier += (prediction.probabilities[sentiment] - target) ** 2;
    });
  });
  const rows = predictions.length;
  const bins: ReliabilityBin[] = counts.map((count, b) => ({
    lower: round4(b / binCount),
    upper: round4((b + 1) / binCount),
    count,
    meanConfidence: count === 0 ? null : round4(confidenceSums[b]! / count),
    accuracy: count === 0 ? null : round4(correctCounts[b]! / count),
  }));
  let ece = 0;
  let mce = 0;
  counts.forEach((count, b) => {
    if (count === 0) return;
    const gap = Math.abs(correctCounts[b]! / count - confidenceSums[b]! / count);
    ece += (count / rows) * gap;
    mce = Math.max(mce, gap);
  });
  return {
    rows,
    bins,
    ece: round4(ece),
    mce: round4(mce),
    brier: round4(rows === 0 ? 0 : brier / rows),
    meanConfidence: round4(rows === 0 ? 0 : confidenceTotal / rows),
    accuracy: round4(rows === 0 ? 0 : correctTotal / rows),
  };
}
