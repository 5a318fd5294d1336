/**
 * The review types' one home. Every layer above core (ingest's validation aside, which works on the Avro
 * record) speaks of a review through these: the model family scores a ReviewInput, the API's items are
 * ReviewFields plus their own ids, and training and evaluation read LabeledReview rows.
 */

/** What a model needs of a review. Only review_id and text are required. */
export interface ReviewInput {
  review_id: string;
  text: string;
  title?: string | null;
  product_id?: string | null;
  category?: string | null;
  /** Never a model input (it is the sentiment label); kept for disagreement flags and evaluation. */
  rating?: number | null;
  event_time_ms?: number | null;
  helpful_votes?: number | null;
  verified?: boolean | null;
}

/** A review's fields as clients send them (the API's items carry their own id and time fields). */
export type ReviewFields = Omit<ReviewInput, 'review_id' | 'event_time_ms'>;

/** A labelled review, parsed: a training or evaluation row. */
export interface LabeledReview extends ReviewInput {
  rating: number;
  /** The dataset the row came from (`blitzer2007-mds/books`), for per-source quality; null when unknown. */
  source: string | null;
}

/**
 * A labelled review as JSON carries it: one line of a dataset JSONL file, one item of POST /v1/evaluate and
 * /v1/train. `ts` is an ISO time; parsing turns it into LabeledReview's event_time_ms.
 */
export type LabeledReviewRecord = Omit<LabeledReview, 'event_time_ms' | 'source'> & { ts?: string | null; source?: string | null };
