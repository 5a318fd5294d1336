/**
 * The trainer's own types: the contract between the API's job queue (api/jobs.ts) and the trainer's job runner
 * (job-runner.ts) — a training request, its progress and outcome — and what an evaluation is given.
 */
import type { Logger } from '../core/logger.js';
import type { PromotionPublisher } from '../core/model/promotions.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import type { ModelService } from '../core/model/types.js';
import type { VersionRef } from '../core/model/version-ref.js';
import type { BaseVersion } from './base-model.js';
import type { RunStore } from './runs/store.js';

export interface TrainRequest {
  /** A JSONL/CSV file readable by this process. */
  datasetPath?: string;
  /** Inline labelled reviews (dataset JSONL shape). */
  reviews?: Array<Record<string, unknown>>;
  /** The version training continues from (warm start): a number, latest, production (default) or none (scratch). */
  baseVersion?: BaseVersion;
  /** Model name of the base version (default: the served model's name). */
  baseModel?: string;
  /** Refit the featurizer's statistics, category classes and wide idf instead of keeping the base model's. */
  rebuildVocabulary?: boolean;
  /** Trainer parameters (override the base version's). */
  params?: Record<string, unknown>;
  /** Promote the new version to production when its held-out macro-F1 allows it. */
  promote?: boolean;
  /** Who asked (for the registry's history). */
  actor: string;
}

export interface JobProgress {
  phase: string;
  /** 0..1 */
  fraction: number;
  message?: string;
}

export interface TrainOutcome {
  version: number;
  stage?: string;
  metrics?: Record<string, unknown>;
  /** What the version was trained from (see trainer/base-model.ts). */
  base?: BaseView;
  /** The job's run (GET /v1/runs/{id}); null when it could not be recorded. */
  run_id?: string | null;
}

/** ResolvedBase as the API shows it. */
export interface BaseView {
  model: string;
  requested: BaseVersion;
  parent_version: number | null;
  rebuild_vocabulary: boolean;
  note: string | null;
}

/** Runs one training; reports progress; should stop early when the signal aborts. */
export type TrainExecutor = (request: TrainRequest, report: (progress: JobProgress) => void, signal: AbortSignal) => Promise<TrainOutcome>;

export interface EvaluateOptions {
  registry: ModelRegistry;
  modelService: ModelService;
  name: string;
  /** A number, latest or production; default: the serving version (for the served model) or the production one. */
  version: VersionRef | undefined;
  /** Record the evaluation as a run there (trainer/runs/); a failure to record is only warned about. */
  runs?: { store: RunStore; warn: (message: string) => void };
}

export interface TrainerExecutorOptions {
  /** The registry the API uses (a publishing one when promotions are published). */
  registry: ModelRegistry;
  modelName: string;
  logger: Logger;
  /** Publishes the new version's 'register' event (the worker has no Kafka client). */
  publish?: PromotionPublisher;
}
