/**
 * Status rules: green / amber / red from effect sizes, p-value correction across the tests of a window,
 * and hysteresis so one noisy window does not flip a feature's reported status.
 *
 * Why effect sizes: with thousands of events per window a KS or chi-square test finds "significant"
 * differences nobody cares about, so a test can only raise a status when its effect size (D, Cramér's
 * V) crosses the threshold AND its corrected p-value is below alpha. The p-value guards small samples
 * against noise; the effect size guards large samples against triviality.
 */
import { DRIFT_STATUSES, type DriftStatus } from '../../schemas/types.js';
import type { PAdjustMethod, Threshold } from './config.js';
import { bonferroniAdjust, holmAdjust } from './stats.js';

export function severity(status: DriftStatus): number {
  return DRIFT_STATUSES.indexOf(status);
}

export function worstStatus(statuses: Iterable<DriftStatus>): DriftStatus {
  let worst: DriftStatus = 'green';
  for (const status of statuses) if (severity(status) > severity(worst)) worst = status;
  return worst;
}

export interface Classification {
  status: DriftStatus;
  /** Why the status is not simply the threshold band (null when it is). */
  note: string | null;
}

/**
 * Status of one effect size against its band: red at or above `red`, amber at or above `amber`.
 * `adjustedPValue` (tests only) must also be below alpha to leave green. A non-finite effect is green
 * with a note (it means a degenerate input, not drift).
 */
export function classify(effect: number, threshold: Threshold, test?: { adjustedPValue: number; alpha: number }): Classification {
  if (!Number.isFinite(effect)) return { status: 'green', note: 'metric undefined for this window' };
  const band: DriftStatus = effect >= threshold.red ? 'red' : effect >= threshold.amber ? 'amber' : 'green';
  if (band !== 'green' && test && !(test.adjustedPValue < test.alpha)) {
    return { status: 'green', note: `effect ${band} but adjusted p=${formatP(test.adjustedPValue)} >= alpha ${test.alpha}` };
  }
  return { status: band, note: null };
}

export function adjustPValues(pValues: readonly number[], method: PAdjustMethod): number[] {
  if (method === 'holm') return holmAdjust(pValues);
  if (method === 'bonferroni') return bonferroniAdjust(pValues);
  return [...pValues];
}

/**
 * Outlier-rate band: a multiple of the reference rate (relative change), floored by an absolute rate
 * so a near-zero reference rate does not turn one or two outliers into an alarm:
 * amber = max(ratio.amber · reference, absolute.amber), red = max(ratio.red · reference, absolute.red).
 */
export function outlierRateThreshold(referenceRate: number, ratio: Threshold, absolute: Threshold): Threshold {
  const reference = Number.isFinite(referenceRate) && referenceRate > 0 ? referenceRate : 0;
  return { amber: Math.max(ratio.amber * reference, absolute.amber), red: Math.max(ratio.red * reference, absolute.red) };
}

// ---------------------------------------------------------------------------------------------
// Hysteresis

/** Stored by the aggregator per (segment, feature[, metric]); JSON-serializable. */
export interface HysteresisState {
  reported: DriftStatus;
  /** Consecutive windows whose raw status was on the same side (all worse / all better) of `reported`. */
  streak: number;
  /** +1 while the streak is of worse statuses, -1 of better ones, 0 without a streak. */
  direction: -1 | 0 | 1;
  /** The raw status of the streak's window closest to `reported` (where the report moves to). */
  target: DriftStatus;
}

export const INITIAL_HYSTERESIS: HysteresisState = { reported: 'green', streak: 0, direction: 0, target: 'green' };

/**
 * One window's step: the reported status moves only after `windows` consecutive windows whose raw
 * status is on the same side of it, and then to the mildest of those windows' statuses (red, amber, red
 * from green reports amber: every window was at least amber). A window equal to the reported status
 * ends the streak. 'insufficient' (too few samples) leaves the state as it is: no data is not evidence.
 */
export function applyHysteresis(
  previous: HysteresisState | null | undefined,
  raw: DriftStatus | 'insufficient',
  windows: number,
): { state: HysteresisState; reported: DriftStatus } {
  const state = previous ?? INITIAL_HYSTERESIS;
  if (raw === 'insufficient') return { state, reported: state.reported };
  const difference = Math.sign(severity(raw) - severity(state.reported)) as -1 | 0 | 1;
  if (difference === 0) {
    const settled: HysteresisState = { reported: state.reported, streak: 0, direction: 0, target: state.reported };
    return { state: settled, reported: settled.reported };
  }
  const continuing = state.direction === difference && state.streak > 0;
  const streak = continuing ? state.streak + 1 : 1;
  // The target is the raw status nearest to the reported one seen during the streak.
  const target = continuing && Math.abs(severity(state.target) - severity(state.reported)) < Math.abs(severity(raw) - severity(state.reported)) ? state.target : raw;
  if (streak >= Math.max(1, windows)) {
    const moved: HysteresisState = { reported: target, streak: 0, direction: 0, target };
    return { state: moved, reported: target };
  }
  const pending: HysteresisState = { reported: state.reported, streak, direction: difference, target };
  return { state: pending, reported: state.reported };
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}
