/** Trainer settings (CLI flags override them). */
import { defineSettings, setting, type Settings } from '../core/config.js';

export const trainerSettings = defineSettings('trainer', {
  modelName: setting({ env: 'DRIFTLINE_TRAIN_MODEL_NAME', kind: 'string', default: 'reviews', description: 'Model name the trainer registers by default (--name overrides).' }),
  epochs: setting({ env: 'DRIFTLINE_TRAIN_EPOCHS', kind: 'int', default: 6, min: 1, max: 200, description: 'Training epochs (the best epoch by validation macro-F1 is kept).' }),
  seed: setting({ env: 'DRIFTLINE_TRAIN_SEED', kind: 'int', default: 42, description: 'Seed of initialisers, shuffles and samplers: same data + seed = same model.' }),
  holdout: setting({ env: 'DRIFTLINE_TRAIN_HOLDOUT', kind: 'number', default: 0.2, min: 0.05, max: 0.5, description: 'Share of reviews (by review_id hash) held out for the evaluation report.' }),
  buckets: setting({ env: 'DRIFTLINE_TRAIN_BUCKETS', kind: 'int', default: 65_536, min: 1024, max: 4_194_304, description: 'Hash buckets of the token featurizer (embedding rows); a power of two.' }),
  embeddingDim: setting({ env: 'DRIFTLINE_TRAIN_EMBEDDING_DIM', kind: 'int', default: 16, min: 4, max: 128, description: 'Width of the token embedding (a multiple of 4).' }),
  compareBaseline: setting({ env: 'DRIFTLINE_TRAIN_TFIDF_BASELINE', kind: 'boolean', default: true, description: 'Also train the TF-IDF + logistic-regression baseline on the same split and report it side by side.' }),
});

/** The training-time teacher (pretrained sentence encoder, DRIFTLINE_ENCODER_DIR in core/model/config.ts). */
export const teacherSettings = defineSettings('teacher', {
  threads: setting({ env: 'DRIFTLINE_TEACHER_THREADS', kind: 'int', default: 2, min: 1, max: 64, description: 'onnxruntime threads of the teacher while it embeds training data.' }),
});

/** Where training/evaluation runs and their pictures are kept (trainer/runs/store.ts). */
export const runsSettings = defineSettings('runs', {
  dir: setting({
    env: 'DRIFTLINE_RUNS_DIR',
    kind: 'string',
    default: '',
    description: "Directory of the run store (one folder per train_/eval_ run: run.json and its artifacts). Empty: '_runs' inside the registry directory.",
  }),
});

/** The drift-triggered retrain policy (trainer/retrain-policy.ts); off by default. */
export const retrainPolicySettings = defineSettings('retrain-policy', {
  enabled: setting({ env: 'DRIFTLINE_RETRAIN_POLICY', kind: 'boolean', default: false, description: 'Drift-triggered retraining (docs/models.md): train a warm-started candidate from production on the reference data plus the recent labelled sample and register it as staging when production stays red or its live macro-F1 falls below the floor.' }),
  redWindows: setting({ env: 'DRIFTLINE_RETRAIN_RED_WINDOWS', kind: 'int', default: 3, min: 1, max: 1_000, description: 'Retrain policy: consecutive red windows (newest ones, segment __all__, smallest window size) of the production version that trigger a retrain.' }),
  macroF1Floor: setting({ env: 'DRIFTLINE_RETRAIN_MACRO_F1_FLOOR', kind: 'number', default: 0, min: 0, max: 1, description: "Retrain policy: also retrain when production's live macro-F1 over those newest windows (events-weighted) is below this; 0 = only the red rule." }),
  data: setting({ env: 'DRIFTLINE_RETRAIN_DATA', kind: 'list', default: ['data/sample/reviews-sample.jsonl'], description: 'Retrain policy: the reference training data (labelled JSONL locations inside DRIFTLINE_DATA_ROOTS); its fixed hold-out is one of the two comparisons.' }),
  sampleWindows: setting({ env: 'DRIFTLINE_RETRAIN_SAMPLE_WINDOWS', kind: 'int', default: 60, min: 1, max: 100_000, description: "Retrain policy: how many of the production version's newest windows of recent_reviews the candidate learns from." }),
  minSample: setting({ env: 'DRIFTLINE_RETRAIN_MIN_SAMPLE', kind: 'int', default: 100, min: 1, description: 'Retrain policy: fewest recent labelled reviews (with text) needed to train; fewer, and it waits for more.' }),
  recentReferenceMin: setting({
    env: 'DRIFTLINE_RETRAIN_RECENT_REFERENCE_MIN',
    kind: 'int',
    default: 200,
    min: 1,
    description: "Retrain policy: the candidate's drift reference baseline is built from the held-out part of the recent sample (the traffic it will serve) when that has at least this many reviews; else from every held-out review (reference data and recent).",
  }),
  epochs: setting({ env: 'DRIFTLINE_RETRAIN_EPOCHS', kind: 'int', default: 3, min: 1, max: 200, description: 'Retrain policy: epochs of the warm-started candidate.' }),
  cooldownMs: setting({ env: 'DRIFTLINE_RETRAIN_COOLDOWN_MS', kind: 'int', default: 3_600_000, min: 0, description: 'Retrain policy: no new candidate from a production version that got one less than this long ago (and never while its candidate is still staging).' }),
  intervalMs: setting({ env: 'DRIFTLINE_RETRAIN_INTERVAL_MS', kind: 'int', default: 60_000, min: 100, description: 'Retrain policy: how often the windows are checked (and a pending candidate offered to the shadow gate).' }),
  autoPromote: setting({ env: 'DRIFTLINE_RETRAIN_AUTO_PROMOTE', kind: 'boolean', default: false, description: "Retrain policy: promote the policy's staging candidate as soon as the shadow gate passes (DRIFTLINE_SHADOW_GATE_*; needs a scorer with DRIFTLINE_SHADOW=staging and an aggregator with DRIFTLINE_AGGREGATOR_SHADOW). Off: promotion stays manual (driftline models promote --gate shadow)." }),
  lockStaleMs: setting({
    env: 'DRIFTLINE_RETRAIN_LOCK_STALE_MS',
    kind: 'int',
    default: 600_000,
    min: 1_000,
    description:
      "Retrain policy: one instance checks at a time (a lock file in the model's registry directory; others skip their check). A holder silent this long is taken over (a dead holder on the same host at once); training blocks the holder's heartbeat, so keep this above a training's duration. A holder taken over never registers its candidate.",
  }),
  metricsPort: setting({ env: 'DRIFTLINE_RETRAIN_METRICS_PORT', kind: 'int', default: 0, min: 0, max: 65_535, description: 'Port of the GET /metrics (Prometheus) and /health of `driftline retrain-policy` (driftline_retrain_policy_*); 0 = off. Inside `driftline serve` the metrics are on serve\'s --port instead.' }),
});

export type RetrainPolicyOptions = Settings<typeof retrainPolicySettings.spec>;
