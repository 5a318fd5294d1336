/**
 * The model family's one small interface. A ModelRuntime is one loaded, checked model version;
 * training, the scorer and the API all go through it (and through core/features for features),
 * so there is no train/serve skew.
 */
import type { Sentiment } from '../../schemas/types.js';
import type { DriftlineError } from '../errors.js';
import type { ReviewInput } from '../review.js';

export interface SentenceSentiment {
  text: string;
  sentiment: Sentiment;
  probabilities: Record<Sentiment, number>;
}

export interface Prediction {
  review_id: string;
  sentiment: Sentiment;
  probabilities: Record<Sentiment, number>;
  /** Probability of the predicted class. */
  confidence: number;
  category: string | null;
  categoryConfidence: number | null;
  /** Outlier score in [0, 1]: percentile of the training distribution. */
  outlierScore: number;
  outlierFlag: boolean;
  /** Distance to the training data as a percentile in [0, 1], independent of the outlier flag. */
  shiftScore: number;
  /** e.g. 5 stars with clearly negative text; false when the rating is unknown. */
  ratingTextDisagreement: boolean;
  /** Monitored numeric input features (names from the featurizer), carried to the drift aggregator. */
  features: Record<string, number>;
  /**
   * The model's own representation of the review: its standardised pooled embedding (the first
   * embedding-width entries of the outlier vector), carried to the drift aggregator for embedding drift.
   */
  embedding?: number[];
  sentences?: SentenceSentiment[];
  /** With ScoreOptions.categoryProbabilities: every category class's probability, in the version's class order. */
  categoryProbabilities?: number[];
}

export interface ScoreOptions {
  sentences?: boolean;
  /**
   * Also return each review's whole category distribution (Prediction.categoryProbabilities): the stream runtime and
   * its worker pool fill it, for the accurate tier, which blends it with its own category head.
   */
  categoryProbabilities?: boolean;
}

/** Loads a version directory's runtime (the model service's seam: worker pool, accurate tier, tests). */
export type RuntimeLoader = (versionDir: string, meta: { name: string; version: number }) => Promise<ModelRuntime>;

export interface ModelRuntime {
  readonly name: string;
  readonly version: number;
  /** Which TensorFlow.js backend serves it: 'tensorflow' (tfjs-node), 'wasm' or 'cpu'. */
  readonly backend: string;
  /**
   * Scores a batch; results are in input order. Throws a DriftlineError (MODEL_SCORING_FAILED) if the
   * batch cannot be scored; callers that must isolate one bad record re-score record by record.
   */
  score(reviews: readonly ReviewInput[], options?: ScoreOptions): Promise<Prediction[]>;
  /** Smoke-checks the loaded model (shapes, finite scores); throws MODEL_CHECK_FAILED. */
  check(): Promise<void>;
  dispose(): void;
}

/**
 * Holds the serving model of one name and swaps versions atomically: a new version is loaded and
 * checked in the background, then replaces the old one between two calls of `current()`. A version
 * that fails to load or check is refused (logged) and the old one keeps serving.
 * Implemented in core/model/service.ts; used by the scorer and the API.
 */
export interface ModelService {
  readonly modelName: string;
  /** The serving runtime; throws MODEL_NOT_READY before the first load. */
  current(): ModelRuntime;
  isReady(): boolean;
  /** Loads + checks the version, then swaps it in. Rejects (and keeps the old one) on failure. */
  swapTo(version: number): Promise<ModelRuntime>;
  /** Loads the registry's production version (used at start-up). */
  loadProduction(): Promise<ModelRuntime>;
  /** Called after every successful swap (old runtime disposed once in-flight calls finish). */
  onSwap(listener: (next: ModelRuntime, previous: ModelRuntime | undefined) => void): void;
  /** Called when a version is refused (after its retries); the serving version, if any, stays. */
  onSwapFailed(listener: (error: DriftlineError, version: number) => void): void;
  /** For a liveness probe: false when nothing serves and the last swap gave up (a restart is the way out). */
  liveness(): ModelLiveness;
  close(): Promise<void>;
}

export interface ModelLiveness {
  alive: boolean;
  /** Why not alive: the error the last swap gave up with. */
  error: DriftlineError | null;
}
