/**
 * The fast tier as it ships, as an evaluation candidate: the stream model trained by the trainer's own code path
 * (trainer/train.ts trainModel: deep token-embedding bag + wide TF-IDF softmax, calibrated, blended and offset on
 * its own validation rows) and scored through the model runtime (createModelRuntime), exactly as `driftline train`
 * and the scorer do. Only the outlier models are fitted smaller: they do not take part in the sentiment.
 */
import { createModelRuntime } from '../../core/model/runtime.js';
import type { Tf } from '../../core/model/tf.js';
import { SENTIMENTS } from '../../schemas/types.js';
import type { LabeledReview } from '../data.js';
import { scoreAll } from '../evaluate.js';
import { DEFAULT_TRAIN_PARAMS, type TrainParams, trainModel } from '../train.js';
import type { Candidate } from './evaluate.js';

export const STREAM_MODEL = 'stream model (driftline train: wide TF-IDF + 16-dim bag)';

/** Outlier-fit settings of the evaluation runs: cheaper, and without effect on the sentiment probabilities. */
const CHEAP_OUTLIERS: Partial<TrainParams> = { autoencoderEpochs: 1, outlierFitRows: 2000, forestTrees: 5 };

/** The parameters the candidate trains with: the defaults (as scripts/train-default.sh), `params`, cheap outliers. */
export function streamParams(params: Partial<TrainParams>): TrainParams {
  return { ...DEFAULT_TRAIN_PARAMS, ...params, ...CHEAP_OUTLIERS };
}

export function streamCandidate(tf: Tf, backend: string, rows: readonly LabeledReview[], params: Partial<TrainParams>, log: (m: string) => void): Candidate {
  const full = streamParams(params);
  return {
    name: STREAM_MODEL,
    fitPredict: (train, test) => trainAndScore(tf, backend, rows, train, test, full, log),
  };
}

async function trainAndScore(tf: Tf, backend: string, rows: readonly LabeledReview[], train: readonly number[], test: readonly number[], full: TrainParams, log: (m: string) => void): Promise<Float32Array> {
  const trained = await trainModel(tf, train.map((i) => rows[i]!), full, () => {});
  log(`stream model: ${trained.trainRows} fit rows, best epoch ${trained.bestEpoch}, val macro-F1 deep ${trained.wide.valMacroF1Deep.toFixed(4)} -> blended ${trained.wide.valMacroF1Blended.toFixed(4)}`);
  const runtime = createModelRuntime(tf, backend, trained.bundle, { name: 'evaluation', version: 0 });
  try {
    const predictions = await scoreAll(runtime, test.map((i) => rows[i]!));
    const out = new Float32Array(test.length * 3);
    predictions.forEach((p, r) => SENTIMENTS.forEach((s, c) => (out[r * 3 + c] = p.probabilities[s])));
    return out;
  } finally {
    runtime.dispose();
  }
}
