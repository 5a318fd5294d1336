/** Settings of the model runtime (shared by the scorer and the API, which both serve models). */
import { defineSettings, setting } from '../config.js';

export const modelSettings = defineSettings('model', {
  outlierPercentile: setting({
    env: 'DRIFTLINE_OUTLIER_PERCENTILE',
    kind: 'number',
    default: 0.99,
    min: 0.5,
    max: 1,
    description: 'Outlier flag threshold: a review is flagged when its outlier score (a training percentile) is above this.',
  }),
  disagreementProbability: setting({
    env: 'DRIFTLINE_DISAGREEMENT_PROBABILITY',
    kind: 'number',
    default: 0.7,
    min: 0.34,
    max: 1,
    description: 'Rating/text disagreement: rating >= 4 with p(negative) at least this, or rating <= 2 with p(positive) at least this.',
  }),
  maxSentences: setting({
    env: 'DRIFTLINE_MAX_SENTENCES',
    kind: 'int',
    default: 50,
    min: 1,
    description: 'Most sentences scored per review when sentence-level sentiment is requested.',
  }),
  tier: setting({
    env: 'DRIFTLINE_MODEL_TIER',
    kind: 'string',
    default: 'fast',
    choices: ['fast', 'accurate'],
    description: 'fast: the stream model alone (tens of thousands of reviews/s); accurate: also the pretrained sentence encoder + its head, blended (tens of reviews/s per process on 2 vCPUs, docs/models.md; needs DRIFTLINE_ENCODER_DIR).',
  }),
  encoderDir: setting({
    env: 'DRIFTLINE_ENCODER_DIR',
    kind: 'string',
    default: '.cache/teacher/bge-small-en-v15-q',
    description: 'Folder with the pretrained sentence encoder (model.onnx + tokenizer.json), filled by scripts/fetch-teacher.sh; relative to the repository root. Used by the trainer (teacher) and the accurate tier.',
  }),
  encoderThreads: setting({
    env: 'DRIFTLINE_ENCODER_THREADS',
    kind: 'int',
    default: 2,
    min: 1,
    max: 64,
    description: 'onnxruntime threads of the sentence encoder in each accurate-tier runtime.',
  }),
});
