/**
 * Per-class log offsets: additive biases on the log-probabilities, i.e. p_c * exp(offset_c) re-normalised. They move
 * the decision boundary of a model whose probabilities under-predict a small, ambiguous class (neutral) without
 * refitting it. One implementation for the trainer (which tunes them on validation rows, trainer/teacher/log-offsets.ts)
 * and the runtimes that apply them (the accurate tier), so what was tuned is exactly what is served.
 * All-zero offsets are the identity, bit for bit: such rows are returned untouched, not re-normalised.
 */

export function hasLogOffsets(offsets: readonly number[]): boolean {
  return offsets.some((o) => o !== 0);
}

/** In place on `row[at .. at + offsets.length)`: normalise(p * exp(offsets)); all-zero offsets leave it as it is. */
export function offsetRow(row: number[] | Float32Array | Float64Array, at: number, offsets: readonly number[]): void {
  if (!hasLogOffsets(offsets)) return;
  const k = offsets.length;
  const scaled = new Array<number>(k);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += scaled[c] = Math.max(row[at + c]!, 1e-12) * Math.exp(offsets[c]!);
  for (let c = 0; c < k; c++) row[at + c] = scaled[c]! / sum;
}

/** A copy of row-major `probabilities` ([rows x offsets.length]) with the offsets applied to every row. */
export function applyLogOffsets(probabilities: Float32Array, offsets: readonly number[]): Float32Array {
  const out = probabilities.slice();
  for (let at = 0; at < out.length; at += offsets.length) offsetRow(out, at, offsets);
  return out;
}
