/**
 * The sentence model behind `options.sentences`: a wide part (TF-IDF softmax regression, trainer/wide.ts)
 * trained on single sentences that inherit their review's label. A review model judges whole reviews and
 * leans on their length and mix of sentences; a single sentence is a different input ("The battery died."
 * inside a 4-star review). Inherited labels are noisy (a 5-star review has neutral sentences), so the
 * evaluation compares the two on the same held-out sentences with the same inherited labels, and says so.
 */
import { featurizeBatch, type FeatureBatch, type FeaturizerConfig } from '../core/features/featurizer.js';
import { ModelForward, splitSentences } from '../core/model/runtime.js';
import type { ModelBundle, WideModel } from '../core/model/text-model.js';
import type { Tf } from '../core/model/tf.js';
import { createWideScratch, wideProbabilities } from '../core/model/wide-scoring.js';
import type { LabeledReview, ReviewInput } from '../core/review.js';
import { SENTIMENTS } from '../schemas/types.js';
import { sentimentLabel, splitByReviewId } from './data.js';
import { classificationReport, type ClassificationReport } from './metrics.js';
import { classWeights } from './train.js';
import { trainWide } from './wide.js';

export interface SentenceParams {
  /** Sentences taken from one review (the runtime's DRIFTLINE_MAX_SENTENCES cap applies the same way). */
  maxSentences: number;
  epochs: number;
  learningRate: number;
  l2: number;
  minDf: number;
  classWeightPower: number;
  validationFraction: number;
  seed: number;
}

/**
 * Chosen on the validation sentences of models/default's training split (class-weight power 0.5/0.75/1,
 * learning rate 0.1/0.2, min df 1/2: best 0.75, 0.1, either; see docs/models.md), never on held-out rows.
 */
export const DEFAULT_SENTENCE_PARAMS: SentenceParams = {
  maxSentences: 20,
  epochs: 8,
  learningRate: 0.1,
  l2: 0.000001,
  minDf: 2,
  classWeightPower: 0.75,
  validationFraction: 0.1,
  seed: 42,
};

export interface SentenceSet {
  inputs: ReviewInput[];
  labels: Int32Array;
}

/** Every sentence of every review, labelled with its review's sentiment. */
export function sentencesOf(rows: readonly LabeledReview[], maxSentences: number): SentenceSet {
  const inputs: ReviewInput[] = [];
  const labels: number[] = [];
  for (const row of rows) {
    const label = sentimentLabel(row.rating);
    for (const text of splitSentences(row.text ?? '', maxSentences)) {
      inputs.push({ review_id: `${row.review_id}#${inputs.length}`, text });
      labels.push(label);
    }
  }
  return { inputs, labels: Int32Array.from(labels) };
}

function labelled(set: SentenceSet, featurizer: FeaturizerConfig): { batch: FeatureBatch; sentiment: Int32Array } {
  return { batch: featurizeBatch(set.inputs, featurizer), sentiment: set.labels };
}

export interface SentenceTraining {
  model: WideModel;
  bestEpoch: number;
  fitSentences: number;
  validationSentences: number;
}

/** Trains the sentence model on the training reviews' sentences (validation split by review, not by sentence). */
export function trainSentenceModel(rows: readonly LabeledReview[], featurizer: FeaturizerConfig, params: SentenceParams = DEFAULT_SENTENCE_PARAMS): SentenceTraining {
  const { rest, held } = splitByReviewId(rows, params.validationFraction, params.seed ^ 0x5e17);
  const fit = labelled(sentencesOf(rest, params.maxSentences), featurizer);
  const val = labelled(sentencesOf(held, params.maxSentences), featurizer);
  const result = trainWide(fit, val, featurizer.buckets, {
    epochs: params.epochs,
    learningRate: params.learningRate,
    l2: params.l2,
    minDf: params.minDf,
    classWeights: classWeights(fit.sentiment, params.classWeightPower),
    seed: params.seed + 17,
  });
  return { model: result.wide, bestEpoch: result.bestEpoch, fitSentences: fit.batch.size, validationSentences: val.batch.size };
}

export interface SentenceEvaluation {
  sentences: number;
  reviews: number;
  /** The review model's heads applied to each sentence (what options.sentences did before). */
  reviewModel: ClassificationReport;
  sentenceModel: ClassificationReport;
}

function argmaxRows(probabilities: Float32Array, rows: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < 3; c++) if (probabilities[r * 3 + c]! > probabilities[r * 3 + best]!) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Both models on the held-out reviews' sentences, labels inherited. `reviewModelSentiment` scores sentences
 * with the review model (ModelForward.heads(...).sentiment of the version being evaluated).
 */
export function evaluateSentenceModel(
  held: readonly LabeledReview[],
  model: WideModel,
  featurizer: FeaturizerConfig,
  reviewModelSentiment: (sentences: readonly ReviewInput[]) => Float32Array,
  maxSentences = DEFAULT_SENTENCE_PARAMS.maxSentences,
): SentenceEvaluation {
  const set = sentencesOf(held, maxSentences);
  const classes = [...SENTIMENTS];
  const byReviewModel = argmaxRows(reviewModelSentiment(set.inputs), set.inputs.length);
  const bySentenceModel = argmaxRows(wideProbabilities(featurizeBatch(set.inputs, featurizer), model, createWideScratch(featurizer.buckets)), set.inputs.length);
  return {
    sentences: set.inputs.length,
    reviews: held.length,
    reviewModel: classificationReport(set.labels, byReviewModel, classes),
    sentenceModel: classificationReport(set.labels, bySentenceModel, classes),
  };
}

export interface SentenceReport extends SentenceEvaluation {
  bestEpoch: number;
  fitSentences: number;
  validationSentences: number;
  seconds: number;
}

/**
 * Trains the sentence model on `train`, evaluates it beside the review model on `held`'s sentences, and
 * attaches it to the bundle (written with the version's artifacts; the runtime then uses it for sentences).
 */
export function attachSentenceModel(tf: Tf, bundle: ModelBundle, train: readonly LabeledReview[], held: readonly LabeledReview[], params: SentenceParams = DEFAULT_SENTENCE_PARAMS): SentenceReport {
  const started = performance.now();
  const reviewModel = new ModelForward(tf, { ...bundle, sentences: undefined });
  const training = trainSentenceModel(train, bundle.featurizer, params);
  const evaluation = evaluateSentenceModel(held, training.model, bundle.featurizer, (sentences) => reviewModel.heads(sentences).sentiment, params.maxSentences);
  bundle.sentences = training.model;
  const { model: _model, ...counts } = training;
  return { ...evaluation, ...counts, seconds: Math.round((performance.now() - started) / 10) / 100 };
}
