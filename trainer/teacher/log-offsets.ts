/**
 * Per-class log-offset tuning: additive biases on the log-probabilities, chosen on validation rows to maximise
 * macro-F1. A balanced classifier still under-predicts a small, ambiguous class (neutral) when its probabilities
 * are spread; a bias on its log-probability moves the decision boundary without refitting the model. The last
 * class is the reference (offset 0): only differences between offsets change the argmax.
 */
import { classificationReport } from '../metrics.js';
import { argmaxRows } from './softmax-regression.js';

/** Applying them is shared with the runtimes that serve them (core/model/log-offsets.ts). */
export { applyLogOffsets } from '../../core/model/log-offsets.js';

/** Searched offsets: -RANGE..RANGE by STEP (a full grid over the free classes: cheap for 3 classes). */
const RANGE = 1.5;
const STEP = 0.05;

function macroF1With(actual: Int32Array, logs: Float64Array, offsets: readonly number[], classes: readonly string[]): number {
  const k = offsets.length;
  const predicted = new Int32Array(actual.length);
  for (let r = 0; r < actual.length; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logs[r * k + c]! + offsets[c]! > logs[r * k + best]! + offsets[best]!) best = c;
    predicted[r] = best;
  }
  return classificationReport(actual, predicted, classes).macroF1;
}

/**
 * Offsets (one per class, the last 0) maximising macro-F1 on the validation rows: coordinate ascent over the grid,
 * started at 0 and repeated until no offset improves (ties keep the smaller change, so no signal means no offsets).
 */
export function tuneLogOffsets(actual: Int32Array, probabilities: Float32Array, classes: readonly string[]): number[] {
  const k = classes.length;
  const logs = Float64Array.from(probabilities, (p) => Math.log(Math.max(p, 1e-12)));
  const offsets = new Array<number>(k).fill(0);
  let best = macroF1With(actual, logs, offsets, classes);
  for (let round = 0; round < 4; round++) {
    let improved = false;
    for (let c = 0; c < k - 1; c++) {
      for (let v = -RANGE; v <= RANGE + 1e-9; v += STEP) {
        const candidate = offsets.map((o, i) => (i === c ? Math.round(v * 100) / 100 : o));
        const f1 = macroF1With(actual, logs, candidate, classes);
        if (f1 > best + 1e-9 || (Math.abs(f1 - best) <= 1e-9 && Math.abs(candidate[c]!) < Math.abs(offsets[c]!))) {
          if (f1 > best + 1e-9) improved = true;
          best = f1;
          offsets[c] = candidate[c]!;
        }
      }
    }
    if (!improved) break;
  }
  return offsets;
}

/** Convenience: macro-F1 of the argmax of `probabilities` (row-major, classes.length columns). */
export function macroF1Of(actual: Int32Array, probabilities: Float32Array, classes: readonly string[]): number {
  return classificationReport(actual, argmaxRows(probabilities, classes.length), classes).macroF1;
}
