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
});
