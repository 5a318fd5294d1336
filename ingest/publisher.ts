/** The output side of ingest: Avro messages keyed per product, the idempotent producer, and the batcher that keeps one request in flight. */
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { deadLetterTopicMessages } from '../core/deadletter.js';
import { DriftlineError } from '../core/errors.js';
import { kafkaError } from '../core/kafka.js';
import type { Logger } from '../core/logger.js';
import { injectTraceHeaders, SpanKind, tracingEnabled, withSpan } from '../core/tracing.js';
import type { DeadLetter, ReviewEvent } from '../schemas/types.js';
import { sendThroughOutage, type OutagePolicy, type OutageRetry } from './outage.js';

const REVIEW_HEADERS = { 'content-type': 'avro/binary', schema: 'ReviewEvent' } as const;

export function reviewKey(review: ReviewEvent): string {
  return review.product_id ?? review.review_id;
}

export function reviewMessage(review: ReviewEvent): Message {
  return { key: reviewKey(review), value: codecFor('ReviewEvent').encode(review), headers: { ...REVIEW_HEADERS } };
}

/**
 * Idempotent, one request in flight: a retried request can neither duplicate nor reorder. The client's
 * retries stay finite (kafkajs warns about that): when they run out, the Batcher resends the same batch on
 * this same producer within the outage budget (ingest/outage.ts), then fails with KAFKA_UNAVAILABLE
 * instead of hanging, and nothing after the failed batch was sent. The Java-compatible murmur2
 * partitioner keeps key → partition the same as any other Kafka client.
 */
export function createIngestProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
}

/**
 * Collects one batch while the previous one is on the wire: reading and validating overlap the broker
 * round trip, yet only one produce request is ever in flight, so order holds. A batch Kafka did not take
 * is resent (same messages, same producer) through an outage; when that gives up, the failure is kept and
 * rethrown by the next flush/drain (never an unhandled rejection). Reading stops meanwhile: the next flush
 * waits for the batch on the wire, so at most two batches are held in memory.
 */
export class Batcher {
  private reviews: Message[] = [];
  private deadLetters: DeadLetter[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: DriftlineError | null = null;
  /** Acknowledged by Kafka so far: a prefix of the records read, since batches go out one at a time in order. */
  private readonly acknowledged = { reviews: 0, deadLetters: 0 };
  sendRetries = 0;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly deadLetterTopic: string,
    private readonly outage: OutagePolicy,
    private readonly log: () => Logger,
    private readonly onSendRetry?: (retry: OutageRetry) => void,
  ) {}

  get size(): number {
    return this.reviews.length + this.deadLetters.length;
  }

  addReview(review: ReviewEvent): void {
    this.reviews.push(reviewMessage(review));
  }

  addDeadLetter(record: DeadLetter): void {
    this.deadLetters.push(record);
  }

  /** Waits for the batch on the wire, then puts the collected one on the wire (without waiting for it). */
  async flush(): Promise<void> {
    await this.settle();
    if (this.size === 0) return;
    const topicMessages: TopicMessages[] = [];
    if (this.reviews.length > 0) topicMessages.push({ topic: this.topic, messages: this.reviews });
    if (this.deadLetters.length > 0) topicMessages.push(deadLetterTopicMessages(this.deadLetterTopic, this.deadLetters));
    const count = this.size;
    const batch = { reviews: this.reviews.length, deadLetters: this.deadLetters.length };
    const reviews = this.reviews;
    this.reviews = [];
    this.deadLetters = [];
    const doing = `publishing a batch of ${count} messages`;
    // One span per batch (tracing on), resends included; each review carries its context to the scorer.
    const send = (): Promise<{ retries: number }> =>
      withSpan('ingest.publish', () => {
        if (tracingEnabled()) for (const message of reviews) message.headers = injectTraceHeaders({ ...message.headers });
        return sendThroughOutage(() => this.producer.sendBatch({ topicMessages }), { policy: this.outage, doing, onRetry: (retry) => this.warnRetry(retry, count) });
      }, { 'messaging.destination.name': this.topic, 'driftline.records': count }, { kind: SpanKind.PRODUCER });
    this.inFlight = send().then(
      ({ retries }) => {
        this.acknowledged.reviews += batch.reviews;
        this.acknowledged.deadLetters += batch.deadLetters;
        if (retries > 0) this.log().info({ retries, records: count }, 'Kafka is back: the batch was acknowledged after resending');
        this.sendRetries += retries;
      },
      (err: unknown) => {
        this.failure = this.withPublished(kafkaError(err, doing), count);
      },
    );
  }

  private warnRetry(retry: OutageRetry, count: number): void {
    const { attempt, delayMs, elapsedMs, error } = retry;
    this.log().warn(
      { attempt, waitMs: delayMs, unacknowledgedMs: elapsedMs, outageBudgetMs: this.outage.budgetMs, records: count, err: error.message },
      `Kafka did not take a batch of ${count} messages (attempt ${attempt}); resending in ${delayMs} ms`,
    );
    this.onSendRetry?.(retry);
  }

  /** The failure, with what Kafka did acknowledge before it (records before the failed batch are all on the topic). */
  private withPublished(error: DriftlineError, count: number): DriftlineError {
    const { reviews, deadLetters } = this.acknowledged;
    const published = `; before this batch Kafka acknowledged ${reviews + deadLetters} records (${reviews} reviews, ${deadLetters} dead letters); the ${count} of this batch may or may not be on the topic, nothing read after it was sent`;
    return new DriftlineError(error.code, `${error.message}${published}`, {
      cause: error.cause,
      details: { ...error.details, acknowledged_reviews: reviews, acknowledged_dead_letters: deadLetters, unacknowledged_batch: count },
    });
  }

  /** Sends what is collected and waits until everything is acknowledged. */
  async drain(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  private async settle(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    this.inFlight = null;
    if (this.failure) throw this.failure;
  }
}

export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = createIngestProducer(kafka);
  try {
    await producer.connect();
    return producer;
  } catch (err) {
    throw kafkaError(err, 'connecting the ingest producer');
  }
}
