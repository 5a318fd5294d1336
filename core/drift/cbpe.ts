/**
 * Confidence-based performance estimation (CBPE, as NannyML's): accuracy and macro-F1 of a window
 * estimated without labels, from calibrated class probabilities.
 *
 * If the probabilities q of a review are calibrated, its true class is k with probability q[k]. Summed
 * over a window, cell (true k, predicted j) of the expected confusion matrix is the sum of q[k] over
 * the reviews predicted j (core/sketch/expected-confusion.ts keeps these sums, mergeable across
 * batches, instances and windows). Everything else follows as from a counted confusion matrix:
 * expected accuracy = trace / reviews (the mean probability of the predicted class: the mean of max q
 * when the prediction is argmax q), per-class precision/recall/F1 from the expected counts, macro-F1
 * their mean — computed by the same `livePerformance` as the realized figures, so both mean the same.
 *
 * The estimate is only as good as the calibration (calibration.ts), and it cannot see a change in
 * p(label | text) that leaves the probabilities alone (concept drift): where ratings exist the realized
 * figures remain the truth; the estimate is for streams without them.
 */
import type { ExpectedConfusionState } from '../sketch/expected-confusion.js';
import { livePerformance, type LivePerformance } from './metrics.js';

export interface PerformanceEstimate {
  /** Reviews the estimate is over. */
  reviews: number;
  accuracy: number;
  macroF1: number;
  /** Expected precision/recall/F1 per class; `support` is the expected number of reviews of the class. */
  perClass: LivePerformance['perClass'];
}

/** The estimate of a window's expected confusion sums; null for a window without reviews. */
export function estimatePerformance(state: ExpectedConfusionState): PerformanceEstimate | null {
  if (state.count === 0) return null;
  const performance = livePerformance(state.cells);
  return { reviews: state.count, accuracy: performance.accuracy, macroF1: performance.macroF1, perClass: performance.perClass };
}
