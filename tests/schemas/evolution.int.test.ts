/**
 * Schema evolution on real Kafka: messages written with one version of ReviewEvent are read by a reader
 * of another, resolved by the writer's fingerprint (core/avro.ts). A producer already writing v2 (a
 * new optional field) is scored by today's scorer pipeline with the shipped model once v2's release
 * line reaches it — and is dead-lettered as AVRO_UNKNOWN_SCHEMA before, which is why readers are
 * upgraded first (docs/architecture.md, "Schema releases"). A v1 message is read by a v2 reader with
 * the new field at its default.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, codecFor, codecWithReleases, compatibilityProblems, loadReleases, loadSchema, releaseOf } from '../../core/avro.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import type { ModelRuntime } from '../../core/model/types.js';
import { repoPath } from '../../core/paths.js';
import { processBatch } from '../../scorer/pipeline.js';
import type { ReviewEvent } from '../../schemas/types.js';
import { createTestTopics, readAll, type TestTopics } from '../support/kafka.js';

type ReviewEventV2 = ReviewEvent & { language: string | null };
type Field = { name: string; type: avro.Schema; default?: unknown };

/** The next ReviewEvent: today's fields plus one optional field with a default (the one-line release). */
const V2_SCHEMA: avro.schema.RecordType = (() => {
  const v1 = loadSchema('ReviewEvent');
  const fields = [...(v1.fields as Field[]), { name: 'language', type: ['null', 'string'], default: null }];
  return { ...v1, fields: fields as avro.schema.RecordType['fields'] };
})();

const COUNT = 24;

/** Real reviews from the shipped sample as ReviewEvents. */
function sampleReviews(): ReviewEvent[] {
  const lines = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').trim().split('\n').slice(0, COUNT);
  return lines.map((line) => {
    const raw = JSON.parse(line) as Record<string, unknown>;
    return {
      review_id: String(raw.review_id),
      product_id: (raw.product_id as string | null) ?? null,
      category: (raw.category as string | null) ?? null,
      rating: Number(raw.rating),
      title: (raw.title as string | null) ?? null,
      text: String(raw.text),
      event_time_ms: typeof raw.ts === 'string' ? Date.parse(raw.ts) : null,
      helpful_votes: (raw.helpful_votes as number | null) ?? null,
      verified: (raw.verified as boolean | null) ?? null,
      source: (raw.source as string | null) ?? null,
      ingest_time_ms: Date.now(),
    };
  });
}

let topics: TestTopics;
let kafka: Kafka;
let runtime: ModelRuntime;
const reviews = sampleReviews();

async function produce(topic: string, values: Buffer[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value, i) => ({ key: reviews[i]!.review_id, value })) });
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  topics = await createTestTopics('schema-evolution', { partitions: 1 });
  kafka = topics.kafka;
  runtime = await loadModelRuntime(repoPath('models', 'default'), { name: 'default', version: 1 });
});

afterAll(async () => {
  runtime?.dispose?.();
});

describe('ReviewEvent v2 producer, today\'s scorer', () => {
  it('v2 is a compatible next release of ReviewEvent', () => {
    expect(compatibilityProblems(loadReleases('ReviewEvent'), V2_SCHEMA)).toEqual([]);
  });

  it('dead-letters v2 messages as AVRO_UNKNOWN_SCHEMA until v2 is released to it, then scores every one', async () => {
    const writer = new AvroCodec<ReviewEventV2>(V2_SCHEMA, 'ReviewEvent');
    await produce(topics.reviews, reviews.map((review) => writer.encode({ ...review, language: 'en' })));
    const consumed = await readAll(topics.reviews, { count: COUNT, kafka });
    expect(consumed).toHaveLength(COUNT);
    const input = consumed.map((message) => ({ offset: message.offset, key: message.key, value: message.value }));
    const source = { topic: topics.reviews, partition: 0 };

    const before = await processBatch(input, source, runtime);
    expect(before.scored).toHaveLength(0);
    expect(new Set(before.deadLetters.map((letter) => letter.errorCode))).toEqual(new Set(['AVRO_UNKNOWN_SCHEMA']));

    // What loading the release line `releaseOf(V2_SCHEMA, 2)` from schemas/releases does in a reader.
    codecFor('ReviewEvent').acceptWriterSchema(releaseOf(V2_SCHEMA, 2).schema);
    const after = await processBatch(input, source, runtime);
    expect(after.deadLetters).toEqual([]);
    expect(after.scored.map((output) => output.reviewId)).toEqual(reviews.map((review) => review.review_id));
    for (const [i, output] of after.scored.entries()) {
      const record = codecFor('ScoredReview').decode(output.message.value as Buffer);
      expect(record.rating).toBe(reviews[i]!.rating);
      expect(record.category).toBe(reviews[i]!.category);
      expect(record.review_id).toBe(reviews[i]!.review_id);
    }
  });
});

describe('ReviewEvent v1 producer, v2 reader', () => {
  it('reads today\'s messages with the new field at its default and every other field unchanged', async () => {
    // A second fresh topic of this test's set (its name does not matter here).
    await produce(topics.scored, reviews.map((review) => codecFor('ReviewEvent').encode(review)));
    const consumed = await readAll(topics.scored, { count: COUNT, kafka });
    expect(consumed).toHaveLength(COUNT);
    const reader = codecWithReleases<ReviewEventV2>(V2_SCHEMA, 'ReviewEvent');
    const decoded = consumed.map((message) => reader.decode(message.value));
    expect(decoded).toEqual(reviews.map((review) => ({ ...review, language: null })));
  });
});
