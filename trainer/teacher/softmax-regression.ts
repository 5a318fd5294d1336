/**
 * Multinomial logistic regression over dense feature rows (teacher embeddings, student vectors): class-balanced
 * weights and an L2 penalty in scikit-learn's parameterisation (C), fitted full-batch with Adam. Small and
 * deterministic (zero start, no sampling), so the same rows give the same head.
 */

export interface SoftmaxParams {
  /** Inverse regularisation strength, as scikit-learn's C. */
  c: number;
  /** Weight each class by n / (k * count) as class_weight='balanced'. */
  balanced: boolean;
  iterations: number;
  learningRate: number;
}

export const DEFAULT_SOFTMAX: SoftmaxParams = { c: 10, balanced: true, iterations: 300, learningRate: 0.05 };

export interface SoftmaxModel {
  dim: number;
  classes: number;
  /** classes x dim, row-major. */
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * Rows `rows` of the row-major matrix `x` (dim columns) with labels `y` (0..classes-1). With `soft` (row-major
 * [all rows x classes], e.g. a teacher's probabilities mixed with the labels) the cross-entropy is taken against
 * those target distributions instead of the one-hot labels; class weights still come from `y`.
 */
export function fitSoftmax(x: Float32Array, dim: number, rows: readonly number[], y: ArrayLike<number>, classes: number, params: SoftmaxParams = DEFAULT_SOFTMAX, soft?: Float32Array): SoftmaxModel {
  const n = rows.length;
  const counts = new Float64Array(classes);
  for (const r of rows) counts[y[r]!]!++;
  const classWeight = Array.from(counts, (c) => (params.balanced && c > 0 ? n / (classes * c) : 1));
  const size = classes * dim;
  const w = new Float64Array(size + classes);
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  const grad = new Float64Array(w.length);
  const z = new Float64Array(classes);
  // Mean weighted loss + ||W||^2 / (2 C n): the same optimum as scikit-learn's 0.5||W||^2 + C * sum(loss).
  const l2 = 1 / (params.c * n);
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  for (let t = 1; t <= params.iterations; t++) {
    grad.fill(0);
    for (const r of rows) {
      const off = r * dim;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let s = w[size + c]!;
        const base = c * dim;
        for (let d = 0; d < dim; d++) s += w[base + d]! * x[off + d]!;
        z[c] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += z[c] = Math.exp(z[c]! - max);
      const cw = classWeight[y[r]!]! / n;
      for (let c = 0; c < classes; c++) {
        const target = soft ? soft[r * classes + c]! : y[r] === c ? 1 : 0;
        const g = (z[c]! / sum - target) * cw;
        if (g === 0) continue;
        grad[size + c]! += g;
        const base = c * dim;
        for (let d = 0; d < dim; d++) grad[base + d]! += g * x[off + d]!;
      }
    }
    for (let i = 0; i < size; i++) grad[i]! += l2 * w[i]!;
    const lr = params.learningRate;
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * grad[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * grad[i]! * grad[i]!;
      w[i]! -= (lr * (m[i]! / (1 - b1 ** t))) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + eps);
    }
  }
  return { dim, classes, weights: Float32Array.from(w.subarray(0, size)), bias: Float32Array.from(w.subarray(size)) };
}

/** Class probabilities of rows `rows` of `x`, row-major [rows.length x classes]. */
export function softmaxProbabilities(model: SoftmaxModel, x: Float32Array, rows: readonly number[]): Float32Array {
  const { dim, classes, weights, bias } = model;
  const out = new Float32Array(rows.length * classes);
  const z = new Float64Array(classes);
  rows.forEach((r, i) => {
    const off = r * dim;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = bias[c]!;
      for (let d = 0; d < dim; d++) s += weights[c * dim + d]! * x[off + d]!;
      z[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += z[c] = Math.exp(z[c]! - max);
    for (let c = 0; c < classes; c++) out[i * classes + c] = z[c]! / sum;
  });
  return out;
}

/** Index of the largest probability per row. */
export function argmaxRows(probabilities: Float32Array, classes: number): Int32Array {
  const out = new Int32Array(probabilities.length / classes);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    out[i] = best;
  }
  return out;
}
