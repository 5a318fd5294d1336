/** Evaluation splits: the random held-out split and leave-one-source-out splits over `source`. */
import { type LabeledReview, splitByReviewId } from '../data.js';

/** Salt of the sampling hash, distinct from the split's so that a sample is not biased towards one side. */
const SAMPLE_SALT = 0x7eac4e;
const SPLIT_SALT = 0x5eed;

/** The sources held out by the leave-one-source-out splits unless a run names others. */
export const DEFAULT_SOURCES = ['blitzer2007-mds/books', 'amazon2014-5core/Musical_Instruments', 'amazon2018-5core-sample20/Luxury_Beauty', 'amazon2018-5core/Gift_Cards_5'];

/** The share `fraction` of rows, chosen by review-id hash (deterministic; 1 keeps all rows). */
export function sampleRows<T extends { review_id: string }>(rows: readonly T[], fraction: number): T[] {
  return fraction >= 1 ? [...rows] : splitByReviewId(rows, fraction, SAMPLE_SALT).held;
}

export interface EvalSplit {
  name: string;
  /** Row indices into the evaluated set. */
  train: number[];
  test: number[];
}

/** Train on 1 - holdout of the rows, test on the rest (by review-id hash). */
export function randomSplit(rows: readonly LabeledReview[], holdout: number): EvalSplit {
  const indexed = rows.map((r, i) => ({ review_id: r.review_id, i }));
  const { rest, held } = splitByReviewId(indexed, holdout, SPLIT_SALT);
  return { name: 'random', train: rest.map((r) => r.i), test: held.map((r) => r.i) };
}

/** Train on every other source, test on the whole of `source` (the reviews users send are not from our files). */
export function leaveSourceOut(rows: readonly LabeledReview[], source: string): EvalSplit {
  const train: number[] = [];
  const test: number[] = [];
  rows.forEach((r, i) => (r.source === source ? test : train).push(i));
  return { name: `without ${source}`, train, test };
}
