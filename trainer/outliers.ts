/**
 * Fitting of the outlier score's text-anomaly part and of the k-NN shift index (see core/model/text-anomaly.ts
 * and core/model/knn.ts), and the calibration of both on validation rows that none of the fitted parts saw.
 */
import { fitKnnIndex } from '../core/model/knn.js';
import { fitEcdf } from '../core/model/outlier.js';
import { seededRandom } from '../core/model/prng.js';
import { ModelForward } from '../core/model/runtime.js';
import { SIGNAL_COUNT, calibrateSignals, fitTextAnomalyTables, largestTailScore } from '../core/model/text-anomaly.js';
import type { ModelBundle } from '../core/model/text-model.js';
import type { Tf } from '../core/model/tf.js';
import type { ReviewInput } from '../core/review.js';

export interface OutlierFitOptions {
  /** Training reviews sampled into the k-NN shift index, and the neighbours averaged. */
  shiftSampleSize: number;
  shiftNeighbours: number;
  seed: number;
}

/**
 * Adds the text-anomaly tables (fitted on `fitRows`' texts) and the k-NN index (a sample of `shiftVectors`,
 * rows of the representation the runtime's shift score uses) to the bundle, then calibrates on `valRows`:
 * per-signal median / 99th percentile, the ECDF of the largest tail score (the outlier score) and the ECDF
 * of the k-NN distance (the shift score).
 */
export function fitTextAnomalyAndShift(tf: Tf, bundle: ModelBundle, fitRows: readonly ReviewInput[], shiftVectors: Float32Array, valRows: readonly ReviewInput[], options: OutlierFitOptions): void {
  const dims = bundle.manifest.embeddingDim;
  const tables = fitTextAnomalyTables(fitRows.map((r) => r.text ?? ''));
  const outlier = bundle.outlier;
  outlier.textAnomaly = { ...tables, median: new Array<number>(SIGNAL_COUNT).fill(0), q99: new Array<number>(SIGNAL_COUNT).fill(1) };
  outlier.shiftKnn = fitKnnIndex(shiftVectors, dims, options.shiftSampleSize, options.shiftNeighbours, seededRandom(options.seed));
  const calibration = new ModelForward(tf, bundle).forward(valRows);
  const signals = calibration.signals!;
  Object.assign(outlier.textAnomaly, calibrateSignals(signals, valRows.length));
  outlier.combinedEcdf = fitEcdf(Array.from({ length: valRows.length }, (_, r) => largestTailScore(outlier.textAnomaly!, signals, r * SIGNAL_COUNT)));
  outlier.shiftEcdf = fitEcdf(calibration.shiftDistance);
}
