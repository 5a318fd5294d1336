/** The scorer's own types: one scorer process, its consumer-side scorer and what it is built from. */
import type { Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import type { ManagedModelService } from '../core/model/service.js';
import type { ModelService } from '../core/model/types.js';
import type { ScorerSettings } from './config.js';
import type { ScoredIds } from './dedupe.js';
import type { ScorerMetrics } from './metrics.js';
import type { ShadowSource } from './shadow.js';

export interface ScorerProcess {
  readonly instanceId: string;
  readonly models: ManagedModelService;
  readonly scorer: Scorer;
  /** Bound address of the metrics server, when it runs. */
  readonly metricsPort: number | null;
  /** Graceful stop: in-flight transaction committed, group left, producers and model released. */
  stop(): Promise<void>;
}

export interface RunScorerOptions {
  env?: NodeJS.ProcessEnv;
  /** Called when the consumer dies for good (kafkajs will not restart it). */
  onFatal?: (err: Error) => void;
}

export interface ScorerTopics {
  reviews: string;
  scored: string;
  deadLetter: string;
  /** The shadow candidate's events (used only when `shadow` is given). */
  shadow?: string;
}

export interface ScorerDeps {
  kafka: Kafka;
  settings: ScorerSettings;
  topics: ScorerTopics;
  models: Pick<ModelService, 'current'>;
  metrics: ScorerMetrics;
  log: Logger;
  /** End-to-end dedupe by review_id (absent: every valid record is scored). */
  dedupe?: ScoredIds;
  /** The staging candidate scoring in shadow (DRIFTLINE_SHADOW=staging). */
  shadow?: ShadowSource;
  /** Called when the consumer crashed and kafkajs will not restart it (the process should exit non-zero). */
  onFatal?: (err: Error) => void;
}

export interface Scorer {
  start(): Promise<void>;
  /** Finishes the in-flight transaction, then leaves the group and closes every producer. */
  stop(): Promise<void>;
  assignedPartitions(): number[];
  /** In the consumer group: joined, and not crashed, stopped or disconnected since (for /ready). */
  isJoined(): boolean;
}
