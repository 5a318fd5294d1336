/** The scorer's Prometheus metrics (all prefixed driftline_scorer_), registered on one prom-client Registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { coreSettings } from '../core/config.js';
import { ModelVersionSeries } from '../core/metrics.js';

export interface ScorerMetrics {
  consumed: Counter<string>;
  scored: Counter<'model_version'>;
  deadLettered: Counter<'error_code'>;
  replacementChar: Counter<string>;
  duplicates: Counter<string>;
  transactions: Counter<'result'>;
  batchSize: Histogram<string>;
  scoringSeconds: Histogram<string>;
  transactionSeconds: Histogram<string>;
  endToEndSeconds: Histogram<string>;
  modelVersion: Gauge<'model_name'>;
  modelSwaps: Counter<'result'>;
  modelRefusedVersion: Gauge<'model_name'>;
  consumerLag: Gauge<'partition'>;
  assignedPartitions: Gauge<string>;
  /** Shadow scoring (DRIFTLINE_SHADOW=staging): events committed to the shadow topic, by candidate version. */
  shadowScored: Counter<'model_version'>;
  /** Shadow failures by stage: load (the candidate could not be loaded) | score (a batch went without shadow events). */
  shadowFailures: Counter<'stage'>;
  shadowModelVersion: Gauge<'model_name'>;
  shadowScoringSeconds: Histogram<string>;
  /** Bounds the series labelled by model version (scored): DRIFTLINE_METRICS_MODEL_VERSIONS. */
  versionSeries: ModelVersionSeries;
}

export function createScorerMetrics(registry: Registry, keepVersions = coreSettings.load().metricsModelVersions): ScorerMetrics {
  const registers = [registry];
  return {
    versionSeries: new ModelVersionSeries(keepVersions),
    consumed: new Counter({ name: 'driftline_scorer_consumed_total', help: 'Input messages taken from the reviews topic (committed or not).', registers }),
    scored: new Counter({ name: 'driftline_scorer_scored_total', help: 'ScoredReview events committed, by model version.', labelNames: ['model_version'], registers }),
    deadLettered: new Counter({ name: 'driftline_scorer_dead_lettered_total', help: 'Input messages committed to the dead-letter topic, by error code.', labelNames: ['error_code'], registers }),
    replacementChar: new Counter({
      name: 'driftline_scorer_replacement_char_total',
      help: 'Reviews scored whose text or title contains U+FFFD (an upstream decoder lost bytes); flagged has_replacement_char on the scored event.',
      registers,
    }),
    duplicates: new Counter({ name: 'driftline_scorer_duplicates_total', help: 'Reviews not scored again: their review_id was scored within DRIFTLINE_DEDUPE_HORIZON_S (or earlier in the batch).', registers }),
    transactions: new Counter({ name: 'driftline_scorer_transactions_total', help: 'Scorer transactions by result (committed | aborted).', labelNames: ['result'], registers }),
    batchSize: new Histogram({
      name: 'driftline_scorer_batch_size',
      help: 'Input records per transaction.',
      buckets: [1, 10, 50, 100, 250, 500, 1_000, 2_000, 5_000],
      registers,
    }),
    scoringSeconds: new Histogram({
      name: 'driftline_scorer_scoring_seconds',
      help: 'Time to decode, validate and score one transaction batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    transactionSeconds: new Histogram({
      name: 'driftline_scorer_transaction_seconds',
      help: 'Time to send, add offsets and commit one transaction.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    endToEndSeconds: new Histogram({
      name: 'driftline_scorer_end_to_end_seconds',
      help: 'From the review\'s ingest_time_ms to the commit of its scored event.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    modelVersion: new Gauge({ name: 'driftline_scorer_model_version', help: 'Model version currently scoring.', labelNames: ['model_name'], registers }),
    modelSwaps: new Counter({ name: 'driftline_scorer_model_swaps_total', help: 'Hot model reloads by result (swapped | refused).', labelNames: ['result'], registers }),
    modelRefusedVersion: new Gauge({
      name: 'driftline_scorer_model_refused_version',
      help: 'A model version this process was asked to serve and could not load or check (it serves the previous one); 0 when the last swap succeeded. Alert on > 0.',
      labelNames: ['model_name'],
      registers,
    }),
    consumerLag: new Gauge({ name: 'driftline_scorer_consumer_lag', help: 'Reviews not yet committed by the scorer group, per input partition.', labelNames: ['partition'], registers }),
    assignedPartitions: new Gauge({ name: 'driftline_scorer_assigned_partitions', help: 'Input partitions this process owns.', registers }),
    shadowScored: new Counter({ name: 'driftline_scorer_shadow_scored_total', help: 'Shadow ScoredReview events committed to the shadow topic, by candidate model version.', labelNames: ['model_version'], registers }),
    shadowFailures: new Counter({
      name: 'driftline_scorer_shadow_failures_total',
      help: 'Shadow model failures by stage: load (the staging candidate could not be loaded) | score (a batch was committed without shadow events). Production scoring is not affected.',
      labelNames: ['stage'],
      registers,
    }),
    shadowModelVersion: new Gauge({ name: 'driftline_scorer_shadow_model_version', help: 'Staging candidate version scoring in shadow; 0 when none.', labelNames: ['model_name'], registers }),
    shadowScoringSeconds: new Histogram({
      name: 'driftline_scorer_shadow_scoring_seconds',
      help: 'Time the shadow model took to score one transaction batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}
