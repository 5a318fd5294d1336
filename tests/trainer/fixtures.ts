/** Seeded synthetic labelled reviews for model tests: small, self-contained, learnable. */
import { seededRandom } from '../../core/model/prng.js';
import type { LabeledReview } from '../../trainer/data.js';

const POSITIVE = ['great', 'excellent', 'love', 'perfect', 'amazing', 'wonderful', 'happy', 'recommend'];
const NEGATIVE = ['terrible', 'awful', 'broke', 'refund', 'worst', 'disappointed', 'useless', 'waste'];
const NEUTRAL = ['okay', 'average', 'fine', 'decent', 'mediocre', 'acceptable'];
const TOPICS: Record<string, string[]> = {
  Kitchen: ['pan', 'knife', 'blender', 'kettle', 'spatula', 'oven'],
  Music: ['guitar', 'strings', 'amp', 'pedal', 'cable', 'tuner'],
  Books: ['novel', 'author', 'chapter', 'plot', 'characters', 'story'],
};
const FILLER = ['the', 'it', 'is', 'was', 'this', 'and', 'with', 'for', 'my', 'product', 'after', 'using', 'days'];

export function syntheticReviews(n: number, seed = 1): LabeledReview[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const categories = Object.keys(TOPICS);
  const rows: LabeledReview[] = [];
  for (let i = 0; i < n; i++) {
    const rating = 1 + Math.floor(random() * 5);
    const category = pick(categories);
    const mood = rating <= 2 ? NEGATIVE : rating === 3 ? NEUTRAL : POSITIVE;
    const words: string[] = [];
    const length = 8 + Math.floor(random() * 25);
    for (let w = 0; w < length; w++) {
      const r = random();
      words.push(r < 0.3 ? pick(mood) : r < 0.55 ? pick(TOPICS[category]!) : pick(FILLER));
    }
    rows.push({
      review_id: `syn-${seed}-${i}`,
      text: `${words.join(' ')}${rating >= 4 ? '!' : '.'}`,
      title: random() < 0.5 ? `${pick(mood)} ${pick(TOPICS[category]!)}` : null,
      rating,
      category,
      helpful_votes: random() < 0.2 ? null : Math.floor(random() * 10),
      verified: random() < 0.2 ? null : random() < 0.7,
      product_id: `p${i % 37}`,
      event_time_ms: 1_600_000_000_000 + i * 1000,
      source: i % 2 === 0 ? 'synthetic/a' : 'synthetic/b',
    });
  }
  return rows;
}

/**
 * Reviews after a vocabulary shift: the same topics, but sentiment carried by words the synthetic training data
 * never had (a model trained on syntheticReviews reads them as noise). What a retrain on recent traffic fixes.
 */
export function shiftedReviews(n: number, seed = 2): LabeledReview[] {
  const moods = { negative: ['janky', 'flimsy', 'rattles', 'returned', 'cracked', 'leaking'], neutral: ['meh', 'so-so', 'passable', 'middling'], positive: ['stellar', 'flawless', 'superb', 'delightful', 'sturdy', 'gorgeous'] };
  const random = seededRandom(seed * 7919);
  return syntheticReviews(n, seed).map((row) => {
    const mood = row.rating <= 2 ? moods.negative : row.rating === 3 ? moods.neutral : moods.positive;
    // Only the words change: lengths, punctuation and titles stay, so the shift is the vocabulary alone.
    const swap = (text: string): string =>
      text
        .split(' ')
        .map((word) => {
          const bare = word.replace(/[.!]$/, '');
          return POSITIVE.includes(bare) || NEGATIVE.includes(bare) || NEUTRAL.includes(bare) ? `${mood[Math.floor(random() * mood.length)]!}${word.slice(bare.length)}` : word;
        })
        .join(' ');
    return { ...row, review_id: `shift-${row.review_id}`, text: swap(row.text), title: row.title ? swap(row.title) : null, source: 'shifted' };
  });
}

import { loadTf } from '../../core/model/tf.js';
import { DEFAULT_TRAIN_PARAMS, type TrainParams, type TrainResult, trainModel } from '../../trainer/train.js';

/** Small and fast: trains in a few seconds on the synthetic data. */
export const TINY_PARAMS: TrainParams = {
  ...DEFAULT_TRAIN_PARAMS,
  buckets: 1 << 12,
  embeddingDim: 8,
  hidden: 16,
  epochs: 3,
  batchSize: 64,
  autoencoderEpochs: 3,
  forestTrees: 20,
  forestSampleSize: 64,
  centroids: 4,
  outlierFitRows: 400,
  categoryMinRows: 20,
};

export async function trainTiny(rows = syntheticReviews(600, 11), params: Partial<TrainParams> = {}): Promise<TrainResult> {
  const { tf } = await loadTf('wasm');
  return trainModel(tf, rows, { ...TINY_PARAMS, ...params });
}
