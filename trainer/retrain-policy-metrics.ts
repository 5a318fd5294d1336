/**
 * Prometheus metrics of the retrain policy (all prefixed driftline_retrain_policy_), on the Registry of the
 * process that runs it: `driftline serve`'s /metrics, or DRIFTLINE_RETRAIN_METRICS_PORT of `driftline retrain-policy`.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What a check ended in: the TickOutcome actions, 'skipped' (another instance held the lock) and 'failed'. */
export type CheckOutcome = 'none' | 'trained' | 'promoted' | 'waiting' | 'skipped' | 'failed';
/** Which rule triggered a retrain (decideRetrain). */
export type TriggerReason = 'red_windows' | 'macro_f1_floor';

export interface RetrainPolicyMetrics {
  checks: Counter<'outcome'>;
  triggers: Counter<'reason'>;
  candidatesTrained: Counter<string>;
  /** The shadow gate's answers to the policy's candidates: promoted | refused. */
  gateDecisions: Counter<'decision'>;
  lastOutcome: Gauge<'outcome'>;
  trainingSeconds: Histogram<string>;
}

export function createRetrainPolicyMetrics(registry: Registry): RetrainPolicyMetrics {
  const registers = [registry];
  return {
    checks: new Counter({
      name: 'driftline_retrain_policy_checks_total',
      help: 'Retrain policy checks by outcome: none (nothing to do), trained, promoted, waiting (a staging candidate), skipped (another instance held the lock), failed.',
      labelNames: ['outcome'],
      registers,
    }),
    triggers: new Counter({
      name: 'driftline_retrain_policy_triggers_total',
      help: 'Checks whose windows called for a retrain, by rule: red_windows | macro_f1_floor (counted also when the recent sample was still too small to train).',
      labelNames: ['reason'],
      registers,
    }),
    candidatesTrained: new Counter({ name: 'driftline_retrain_policy_candidates_trained_total', help: 'Candidates trained and registered as staging by the retrain policy.', registers }),
    gateDecisions: new Counter({
      name: 'driftline_retrain_policy_gate_decisions_total',
      help: "The shadow gate's decisions on the policy's candidates (DRIFTLINE_RETRAIN_AUTO_PROMOTE): promoted | refused.",
      labelNames: ['decision'],
      registers,
    }),
    lastOutcome: new Gauge({ name: 'driftline_retrain_policy_last_outcome_timestamp_seconds', help: 'Unix time of the last check that ended in each outcome.', labelNames: ['outcome'], registers }),
    trainingSeconds: new Histogram({
      name: 'driftline_retrain_policy_training_seconds',
      help: 'Time to train, evaluate and register one candidate (from reading the recent sample to the staging registration).',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1_200, 3_600],
      registers,
    }),
  };
}
