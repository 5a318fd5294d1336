/**
 * Every kind of bad input between good reviews: each lands on the dead-letter topic (in the scorer's
 * transaction) with its error code, reason, original bytes and input position; the good ones are scored once.
 */
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, codecFor, loadSchema } from '../../core/avro.js';
import type { ReviewEvent } from '../../schemas/types.js';
import { countById, createSetup, loadReviews, produce, readDeadLetters, readScored, reviewMessage, startScorer, waitForCaughtUp, killAllScorers, type TestSetup } from './helpers.js';

describe('scorer: bad input', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('bad');
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('dead-letters garbage, truncated Avro, unknown fingerprints and invalid records; scores the good ones', async () => {
    const good = loadReviews(60, 9_000);
    const template = { ...good[0]!, ingest_time_ms: Date.now() };
    const loose = new AvroCodec<ReviewEvent>(loadSchema('ReviewEvent')); // encodes without ingest's validation
    const valid = codecFor('ReviewEvent').encode({ ...template, review_id: 'bad-template' });
    const unknownFingerprint = Buffer.from(valid);
    unknownFingerprint[9] = unknownFingerprint[9]! ^ 0xff;
    const bad: Array<{ name: string; value: Buffer | null; code: string }> = [
      { name: 'garbage', value: Buffer.from('garbage: this is not Avro at all \u00ff'), code: 'AVRO_BAD_HEADER' },
      { name: 'truncated', value: valid.subarray(0, valid.length - Math.floor(valid.length / 2)), code: 'AVRO_DECODE_FAILED' },
      { name: 'unknown-fingerprint', value: unknownFingerprint, code: 'AVRO_UNKNOWN_SCHEMA' },
      { name: 'other-schema', value: codecFor('ModelPromotion').encode({ event_id: 'e', model_name: 'm', version: 1, action: 'promote', from_stage: null, to_stage: 'production', previous_production_version: null, reason: null, actor: 'x', time_ms: 1 }), code: 'AVRO_UNKNOWN_SCHEMA' },
      { name: 'rating-9', value: loose.encode({ ...template, review_id: 'bad-rating-9', rating: 9 }), code: 'FIELD_RANGE' },
      { name: 'empty-text', value: loose.encode({ ...template, review_id: 'bad-empty-text', text: '' }), code: 'TEXT_EMPTY' },
      { name: 'blank-text', value: loose.encode({ ...template, review_id: 'bad-blank-text', text: ' \n\t ' }), code: 'TEXT_EMPTY' },
      { name: 'tombstone', value: null, code: 'AVRO_BAD_HEADER' },
    ];
    // Interleave: good, bad, good, bad, ... all under one key so they share one partition and its order.
    const messages: Message[] = [];
    good.forEach((review, i) => {
      messages.push({ ...reviewMessage(review), key: 'mixed' });
      const item = bad[i];
      if (item) messages.push({ key: 'mixed', value: item.value });
    });
    await produce(setup.kafka, setup.topics.reviews, messages);

    const scorer = startScorer(setup, 'bad-1');
    await waitForCaughtUp(setup, 120_000, [scorer]);
    expect(await scorer.kill('SIGTERM')).toBe(0);

    const scored = await readScored(setup);
    const counts = countById(scored);
    expect(counts.size).toBe(good.length);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);

    const dead = await readDeadLetters(setup);
    expect(dead).toHaveLength(bad.length);
    const inputPartition = scored[0]!.value.input_partition;
    const offsets = dead.map(({ value }) => value.source_offset ?? -1);
    expect(new Set(offsets).size).toBe(bad.length);
    for (const item of bad) {
      const expectedRaw = item.value ?? Buffer.alloc(0);
      const letter = dead.find(({ value }) => Buffer.compare(value.raw, expectedRaw) === 0);
      expect(letter, item.name).toBeDefined();
      expect(letter!.value, item.name).toMatchObject({ stage: 'scorer', error_code: item.code, source_topic: setup.topics.reviews, source_partition: inputPartition });
      expect(letter!.value.reason.length, item.name).toBeGreaterThan(0);
    }
    expect(dead.find(({ value }) => value.error_code === 'FIELD_RANGE')!.value).toMatchObject({ review_id: 'bad-rating-9', field: 'rating' });
  });
});
