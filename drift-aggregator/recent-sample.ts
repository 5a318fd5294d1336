/**
 * The recent-sample store: per counted window, a bounded sample of its scored reviews with their ratings
 * (what a retrain on recent traffic learns from, and what people drill into from Grafana), written to
 * ClickHouse's recent_reviews table when the window closes.
 *
 * A priority reservoir, not Algorithm R: a window keeps the K reviews with the smallest hash of their
 * review_id. That sample depends only on the set of reviews counted in the window — not on their order,
 * on how they were split into batches or instances — so it merges (union, keep the K smallest) and is
 * replay-safe: the apply script ZADDs members whose score is the hash and trims the window's zset to K
 * inside the same atomic apply that counts the batch, so a batch counted once is sampled once, and a
 * replay after lost Redis state adds the very same members again. Every review has the same chance
 * K / n of being kept (the hash is uniform), so the sample is a uniform one of the window.
 */
import type { RecentReviewRow, WindowRowKey } from '../core/drift/tables.js';
import type { ScoredReview } from '../schemas/types.js';
import { windowRowKey, type WindowRef } from './windows.js';

/**
 * What one sampled review keeps (the zset member, as JSON): the recent_reviews columns of the review itself
 * (product id, helpful votes and verified are monitored features a retrain learns from besides text and
 * rating), with JSON's booleans where the table has 0/1, and its segment.
 */
export type SampledReview = Omit<RecentReviewRow, keyof WindowRowKey | 'sample_hash' | 'written_at' | 'verified' | 'outlier_flag'> & {
  segment: string;
  verified: boolean | null;
  outlier_flag: boolean;
};

/**
 * A 48-bit hash of the review_id: uniform, the same on every instance, exact as a Redis zset score (a double).
 * Two 32-bit multiply–xorshift lanes over the UTF-16 code units, each finalised with the other mixed in (the
 * structure of the public-domain cyrb53). Not SHA-1 any more: a cryptographic digest per event was 6 % of the
 * aggregator's main thread (docs/benchmarks.md), and nothing here needs collision resistance against an adversary —
 * a crafted id can only choose whether its own review is sampled.
 */
export function sampleHash(reviewId: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < reviewId.length; i++) {
    const code = reviewId.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 & 0xffff) * 2 ** 32 + (h1 >>> 0);
}

export function sampledReview(event: ScoredReview, segment: string): SampledReview {
  return {
    review_id: event.review_id,
    segment,
    category: event.category,
    product_id: event.product_id,
    helpful_votes: event.helpful_votes,
    verified: event.verified,
    rating: event.rating,
    title: event.title ?? null,
    text: event.text ?? null,
    sentiment: event.sentiment,
    confidence: event.confidence,
    prob_negative: event.prob_negative,
    prob_neutral: event.prob_neutral,
    prob_positive: event.prob_positive,
    outlier_score: event.outlier_score,
    outlier_flag: event.outlier_flag,
    event_time_ms: event.event_time_ms,
  };
}

interface Candidate {
  hash: number;
  event: ScoredReview;
  segment: string;
  member?: string;
}

function memberOf(candidate: Candidate): string {
  return (candidate.member ??= JSON.stringify(sampledReview(candidate.event, candidate.segment)));
}

/**
 * The K smallest-hash reviews of one window within a batch (so a batch sends Redis at most K members per window).
 * The member JSON is made only for the candidates that survive: once K are held, a review whose hash is above
 * the K-th smallest so far can never be kept, and most reviews of a large batch are dropped on their hash alone.
 */
export class WindowSample {
  private entries: Candidate[] = [];
  /** The K-th smallest hash after the last trim (Infinity until K are held). */
  private cutoff = Infinity;

  constructor(readonly keep: number) {}

  add(event: ScoredReview, segment: string): void {
    if (this.keep <= 0) return;
    const hash = sampleHash(event.review_id);
    if (hash > this.cutoff) return;
    this.entries.push({ hash, event, segment });
    // Trimmed in chunks: sorting on every add would be quadratic for a large batch.
    if (this.entries.length >= 2 * this.keep) this.trim();
  }

  /** [hash, member] pairs, smallest hash first, at most `keep`. */
  members(): Array<[number, string]> {
    this.trim();
    return this.entries.map((entry) => [entry.hash, memberOf(entry)]);
  }

  private trim(): void {
    // Equal hashes (a 48-bit collision) order by member, as the Redis zset does.
    this.entries.sort((a, b) => a.hash - b.hash || (memberOf(a) < memberOf(b) ? -1 : memberOf(a) > memberOf(b) ? 1 : 0));
    if (this.entries.length > this.keep) this.entries.length = this.keep;
    if (this.keep > 0 && this.entries.length === this.keep) this.cutoff = this.entries[this.keep - 1]!.hash;
  }
}

/** The recent_reviews rows of a closed counted window from its zset (member JSON, hash score). */
export function recentReviewRows(ref: WindowRef, windowMs: number, members: ReadonlyArray<[string, number]>, writtenAt: number): RecentReviewRow[] {
  return members.map(([member, hash]) => {
    const review = JSON.parse(member) as SampledReview;
    return {
      ...windowRowKey(ref, windowMs, review.segment),
      sample_hash: hash,
      review_id: review.review_id,
      category: review.category,
      product_id: review.product_id ?? null,
      helpful_votes: review.helpful_votes ?? null,
      verified: review.verified === undefined || review.verified === null ? null : review.verified ? 1 : 0,
      rating: review.rating,
      title: review.title,
      text: review.text,
      sentiment: review.sentiment,
      confidence: review.confidence,
      prob_negative: review.prob_negative,
      prob_neutral: review.prob_neutral,
      prob_positive: review.prob_positive,
      outlier_score: review.outlier_score,
      outlier_flag: review.outlier_flag ? 1 : 0,
      event_time_ms: review.event_time_ms,
      written_at: writtenAt,
    };
  });
}
