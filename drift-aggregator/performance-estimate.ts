/**
 * The label-free performance estimate's part of the aggregator: what one scored event adds to its
 * window's expected confusion sums (core/sketch/expected-confusion.ts), and the estimate read back at
 * close (core/drift/cbpe.ts). The event's served probabilities are calibrated with the model version's
 * calibration from its reference baseline (core/drift/calibration.ts); the served prediction is the column.
 * The sums live in one more hash per window × segment, `<segment>|__cbpe__`, applied in the same atomic
 * batch as the other sketches, so they are exactly-once and mergeable like them.
 */
import { sentimentCalibrator } from '../core/drift/calibration.js';
import { estimatePerformance } from '../core/drift/cbpe.js';
import type { ReferenceBaseline } from '../core/drift/baseline.js';
import { ExpectedConfusionSketch, type ExpectedConfusionState, type ExpectedConfusionValue } from '../core/sketch/index.js';
import { SENTIMENTS, type ScoredReview } from '../schemas/types.js';

export const EXPECTED_CONFUSION_HASH = '__cbpe__';
export const EXPECTED_CONFUSION = new ExpectedConfusionSketch();

type Calibrate = (served: readonly number[]) => number[];
const calibrators = new WeakMap<ReferenceBaseline, Calibrate>();
const UNCALIBRATED = sentimentCalibrator(null);

/** The calibration map of a version (built once per baseline; none: the served probabilities). */
function calibratorOf(baseline: ReferenceBaseline | null): Calibrate {
  if (!baseline) return UNCALIBRATED;
  let calibrate = calibrators.get(baseline);
  if (!calibrate) calibrators.set(baseline, (calibrate = sentimentCalibrator(baseline.sentimentCalibration)));
  return calibrate;
}

/** What a scored event adds to the expected confusion sums (an unknown sentiment is counted invalid by the sketch). */
export function expectedConfusionValue(event: Pick<ScoredReview, 'sentiment' | 'prob_negative' | 'prob_neutral' | 'prob_positive'>, baseline: ReferenceBaseline | null): ExpectedConfusionValue {
  return { probabilities: calibratorOf(baseline)([event.prob_negative, event.prob_neutral, event.prob_positive]), predicted: SENTIMENTS.indexOf(event.sentiment) };
}

/** A window's expected confusion sums from its Redis hash (missing: none). */
export function expectedConfusionFromHash(hash: Record<string, string> | undefined): ExpectedConfusionState {
  return EXPECTED_CONFUSION.fromHash(hash ?? {});
}

/** The estimated accuracy and macro-F1 of a window segment (null without reviews). */
export function estimatedFigures(state: ExpectedConfusionState | undefined): { estimatedAccuracy: number | null; estimatedMacroF1: number | null } {
  const estimate = state ? estimatePerformance(state) : null;
  return { estimatedAccuracy: estimate?.accuracy ?? null, estimatedMacroF1: estimate?.macroF1 ?? null };
}
