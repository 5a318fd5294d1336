/**
 * What the scorer's unit tests share: a review event, its Avro encoding, and a small in-test ModelRuntime
 * (unit scope only; integration tests use models/default).
 */
import { codecFor } from '../../core/avro.js';
import { DriftlineError } from '../../core/errors.js';
import type { ModelRuntime, Prediction } from '../../core/model/types.js';
import type { ReviewInput } from '../../core/review.js';
import type { ReviewEvent } from '../../schemas/types.js';

export function review(id: string, overrides: Partial<ReviewEvent> = {}): ReviewEvent {
  return {
    review_id: id,
    product_id: 'P1',
    category: 'Books',
    rating: 4,
    title: 'fine',
    text: `a good book ${id}`,
    event_time_ms: Date.UTC(2020, 1, 2),
    helpful_votes: 1,
    verified: true,
    source: 'test',
    ingest_time_ms: 1_700_000_000_000,
    ...overrides,
  };
}

export function encoded(r: ReviewEvent): Buffer {
  return codecFor('ReviewEvent').encode(r);
}

/** Scores by text length; throws for any text containing "poison", once per call that includes it. */
export class TestRuntime implements ModelRuntime {
  readonly backend = 'cpu';
  calls: number[] = [];
  constructor(readonly name = 'm', readonly version = 7, private readonly failure: (input: ReviewInput) => boolean = (i) => i.text.includes('poison')) {}
  async score(reviews: readonly ReviewInput[]): Promise<Prediction[]> {
    this.calls.push(reviews.length);
    if (reviews.some(this.failure)) throw new DriftlineError('MODEL_SCORING_FAILED', 'poisoned input');
    return reviews.map((r) => ({
      review_id: r.review_id,
      sentiment: 'positive',
      probabilities: { negative: 0.1, neutral: 0.2, positive: 0.7 },
      confidence: 0.7,
      category: 'Books',
      categoryConfidence: 0.9,
      outlierScore: 0.3,
      outlierFlag: false,
      shiftScore: 0.4,
      ratingTextDisagreement: false,
      features: { text_chars: r.text.length },
    }));
  }
  async check(): Promise<void> {}
  dispose(): void {}
}
