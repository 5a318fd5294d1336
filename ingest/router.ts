/** Ingest's per-record decision: publish a review, or dead-letter the record with its reason. */
import { buildDeadLetter } from '../core/deadletter.js';
import { DriftlineError } from '../core/errors.js';
import { hasReplacementCharacter } from '../core/utf8.js';
import { reviewIdOf, validateReview, type ValidationOptions } from '../core/validation.js';
import { RecentIds } from './recent-ids.js';
import type { InputRecord, IngestSummary } from './types.js';
import { Batcher } from './publisher.js';

/** Decides per record: publish it, or dead-letter it with the reason; keeps the summary counts. */
export class RecordRouter {
  private readonly seen: RecentIds; // review_id → line of its first published occurrence, bounded

  constructor(
    private readonly batcher: Batcher,
    private readonly summary: IngestSummary,
    private readonly validation: ValidationOptions,
    private readonly maxRawBytes: number,
    dedupeIds: number,
  ) {
    this.seen = new RecentIds(dedupeIds);
  }

  route(record: InputRecord): void {
    this.summary.read++;
    if (record.error) return this.deadLetter(record, record.error);
    const result = validateReview(record.value, { ...this.validation, nowMs: Date.now() });
    if (!result.ok) return this.deadLetter(record, result.error);
    const { review } = result;
    const firstLine = this.seen.lineOf(review.review_id);
    if (firstLine !== undefined) {
      return this.deadLetter(
        record,
        new DriftlineError('DUPLICATE_REVIEW', `review_id: ${review.review_id} was already published from line ${firstLine}`, {
          field: 'review_id',
          details: { review_id: review.review_id, first_line: firstLine },
        }),
      );
    }
    this.seen.remember(review.review_id, record.line);
    this.batcher.addReview(review);
    this.summary.published++;
    if (hasReplacementCharacter(review.text) || hasReplacementCharacter(review.title)) this.summary.withReplacementChar++;
  }

  private deadLetter(record: InputRecord, error: DriftlineError): void {
    const location = { file: this.summary.source, line: record.line };
    this.batcher.addDeadLetter(buildDeadLetter({ stage: 'ingest', error, raw: record.raw, location, reviewId: reviewIdOf(record.value), maxRawBytes: this.maxRawBytes }));
    this.summary.deadLettered++;
    this.summary.byErrorCode[error.code] = (this.summary.byErrorCode[error.code] ?? 0) + 1;
  }
}
