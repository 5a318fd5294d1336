/**
 * The trainer's public face: what other components and the CLI may import. Training data and labels,
 * the training pipeline, the job runner the API's /v1/train and /v1/evaluate drive, and the run store
 * (trainer/runs/) behind /v1/runs.
 */
export { loadLabeledJsonl, sentimentLabel, splitByReviewId, type LabeledReview } from './data.js';
export { HOLDOUT_SALT, runTrainingJob } from './pipeline.js';
export { checkWarmStartRequest, parseBaseVersion, resolveBaseModel, type BaseModelRequest, type BaseVersion, type ResolvedBase } from './base-model.js';
export { TRAIN_PARAM_NAMES, evaluateReviews, evaluateRows, trainerExecutor } from './job-runner.js';
export type { BaseView, EvaluateOptions, JobProgress, TrainExecutor, TrainOutcome, TrainRequest, TrainerExecutorOptions } from './types.js';
export { startRetrainPolicyIfEnabled } from './retrain-policy-cli.js';
export { openRunStore, runsDirFor, type RunListOptions, type RunPage, type RunStore } from './runs/store.js';
export { ARTIFACT_NAME, RUN_ID, RUN_KINDS, type RunArtifact, type RunKind, type RunRecord } from './runs/types.js';
