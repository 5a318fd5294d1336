/**
 * ingest's DUPLICATE_REVIEW check is bounded (DRIFTLINE_INGEST_DEDUPE_IDS): on a stream, a repeated
 * review id within the most recent N distinct ids is dead-lettered, one from further back is published
 * again instead of being remembered for ever. Real Kafka, real sample reviews.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';
import { ingestRecords, type IngestSummary } from '../../ingest/index.js';
import { createTestTopics, readAll, type ReadMessage, type TestTopics } from '../support/kafka.js';

const lines = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').trim().split('\n').slice(0, 5);

let topics: TestTopics;
let summary: IngestSummary;
let deadLetters: ReadMessage[];

beforeAll(async () => {
  topics = await createTestTopics('ingest-dedupe');
  // Reviews 1-5, then 5 again (within the last 3 distinct ids), then 1 again (forgotten by then).
  const stream = Readable.from([[...lines, lines[4], lines[0]].join('\n') + '\n']);
  summary = await ingestRecords({ name: 'dedupe-bound', stream }, { settings: topics.settings, kafka: topics.kafka, createTopics: false, ingest: { dedupeIds: 3 } });
  deadLetters = await readAll(topics.deadLetter, { kafka: topics.kafka, idleMs: 2_000 });
});

describe('ingest duplicate detection with a bounded horizon', () => {
  it('dead-letters a repeat within the last DRIFTLINE_INGEST_DEDUPE_IDS ids and publishes one from further back', () => {
    expect(summary).toMatchObject({ read: 7, published: 6, deadLettered: 1, byErrorCode: { DUPLICATE_REVIEW: 1 } });
    expect(deadLetters).toHaveLength(1);
  });
});
