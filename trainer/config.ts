/** Trainer settings (CLI flags override them). */
import { defineSettings, setting } from '../core/config.js';

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
