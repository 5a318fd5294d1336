/**
 * The scorer's per-batch pipeline without Kafka: decoding, validation, model isolation and the ScoredReview
 * fields. The model here is a small in-test ModelRuntime (unit scope only; integration tests use models/default).
 */
import { describe, expect, it } from 'vitest';
import { AvroCodec, codecFor, loadSchema } from '../../core/avro.js';
import { DriftlineError } from '../../core/errors.js';
import type { ReviewEvent } from '../../schemas/types.js';
import { processBatch, splitBySize, type BatchResult, type InputMessage, type ScoredOutput } from '../../scorer/pipeline.js';
import { encoded, review, TestRuntime } from './unit-helpers.js';

const source = { topic: 'reviews', partition: 2 };

/** The ScoredReview a scored message carries (the pipeline hands back encoded messages only). */
const record = (s: ScoredOutput) => codecFor('ScoredReview').decode(s.message.value as Buffer);
/** The DeadLetter records of a batch, decoded from its dead-letter messages. */
const dead = (result: BatchResult) => result.deadLetters.map((d) => codecFor('DeadLetter').decode(d.message.value as Buffer));

/** Encodes without schema validation, so records that break validateReview (not Avro) can be built. */
function message(offset: number, value: Buffer | null, key: string | null = null): InputMessage {
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value };
}

describe('processBatch', () => {
  it('turns every valid review into one ScoredReview naming the model version, keyed like the input', async () => {
    const runtime = new TestRuntime('sentiment', 3);
    const messages = [message(10, encoded(review('a')), 'key-a'), message(11, encoded(review('b')))];
    const result = await processBatch(messages, source, runtime, { nowMs: 1_800_000_000_000 });
    expect(result.deadLetters).toEqual([]);
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['a', 'b']);
    const first = result.scored[0]!;
    expect(first.message.key).toEqual(Buffer.from('key-a'));
    expect(result.scored[1]!.message.key).toBe('b');
    expect(record(first)).toMatchObject({
      model_name: 'sentiment',
      model_version: 3,
      input_partition: 2,
      input_offset: 10,
      ingest_time_ms: 1_700_000_000_000,
      scored_time_ms: 1_800_000_000_000,
      event_time_ms: Date.UTC(2020, 1, 2),
      prob_positive: 0.7,
      predicted_category: 'Books',
      features: { text_chars: 'a good book a'.length },
    });
    expect(runtime.calls).toEqual([2]);
  });

  it('passes the W3C trace context of a review on to its scored event', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const input = { ...message(0, encoded(review('t'))), headers: { traceparent: Buffer.from(traceparent), other: 'x' } };
    const result = await processBatch([input, message(1, encoded(review('u')))], source, new TestRuntime());
    expect(String(result.scored[0]!.message.headers?.traceparent)).toBe(traceparent);
    expect(result.scored[0]!.message.headers?.other).toBeUndefined();
    expect(result.scored[1]!.message.headers?.traceparent).toBeUndefined();
  });

  it('stamps the constant schema headers only when asked (DRIFTLINE_SCORER_SCHEMA_HEADERS), trace context either way', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const inputs = [{ ...message(0, encoded(review('t'))), headers: { traceparent: Buffer.from(traceparent) } }, message(1, encoded(review('u')))];
    const plain = await processBatch(inputs, source, new TestRuntime());
    expect(plain.scored.map((s) => Object.keys(s.message.headers ?? {}))).toEqual([['traceparent'], []]);
    const stamped = await processBatch(inputs, source, new TestRuntime(), { schemaHeaders: true });
    expect(stamped.scored[0]!.message.headers).toEqual({ 'content-type': 'avro/binary', schema: 'ScoredReview', traceparent: Buffer.from(traceparent) });
    expect(stamped.scored[1]!.message.headers).toEqual({ 'content-type': 'avro/binary', schema: 'ScoredReview' });
  });

  it('dead-letters each kind of bad input with its code and original bytes, and scores the rest', async () => {
    const good = encoded(review('good'));
    const garbage = Buffer.from('not avro at all');
    const truncated = good.subarray(0, 14);
    const unknownFingerprint = Buffer.from(good);
    unknownFingerprint.writeUInt8(unknownFingerprint[2]! ^ 0xff, 2);
    const loose = new AvroCodec<ReviewEvent>(loadSchema('ReviewEvent'));
    const badRating = loose.encode(review('r9', { rating: 9 }));
    const emptyText = loose.encode(review('empty', { text: '   ' }));
    const messages = [
      message(0, garbage),
      message(1, good),
      message(2, truncated),
      message(3, unknownFingerprint),
      message(4, badRating),
      message(5, null),
      message(6, emptyText),
    ];
    const result = await processBatch(messages, source, new TestRuntime());
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['good']);
    expect(dead(result).map((d) => [d.source_offset, d.error_code])).toEqual([
      [0, 'AVRO_BAD_HEADER'],
      [2, 'AVRO_DECODE_FAILED'],
      [3, 'AVRO_UNKNOWN_SCHEMA'],
      [4, 'FIELD_RANGE'],
      [5, 'AVRO_BAD_HEADER'],
      [6, 'TEXT_EMPTY'],
    ]);
    const first = dead(result)[0]!;
    expect(first).toMatchObject({ stage: 'scorer', source_topic: 'reviews', source_partition: 2, raw: garbage });
    expect(dead(result).find((d) => d.source_offset === 4)).toMatchObject({ review_id: 'r9', field: 'rating' });
    expect(result.deadLetters).toHaveLength(6);
    expect(codecFor('DeadLetter').decode(result.deadLetters[1]!.message.value as Buffer).error_code).toBe('AVRO_DECODE_FAILED');
  });

  it('isolates a record that makes the model throw: re-scores one by one and dead-letters only that one', async () => {
    const runtime = new TestRuntime();
    const messages = ['a', 'b', 'c'].map((id, i) => message(i, encoded(review(id, id === 'b' ? { text: 'poison pill' } : {}))));
    const result = await processBatch(messages, source, runtime);
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['a', 'c']);
    expect(result.deadLetters).toHaveLength(1);
    expect(dead(result)[0]).toMatchObject({ error_code: 'MODEL_SCORING_FAILED', review_id: 'b', source_offset: 1 });
    expect(result.isolatedRecords).toBe(3);
    expect(runtime.calls).toEqual([3, 1, 1, 1]);
  });

  it('fails the whole batch (for redelivery) when the model error is retriable', async () => {
    const runtime = new TestRuntime();
    runtime.score = async () => {
      throw new DriftlineError('MODEL_NOT_READY', 'not loaded');
    };
    await expect(processBatch([message(0, encoded(review('a')))], source, runtime)).rejects.toMatchObject({ code: 'MODEL_NOT_READY' });
  });

  it('dead-letters a prediction that does not fit the ScoredReview schema instead of failing the batch', async () => {
    const runtime = new TestRuntime();
    const original = runtime.score.bind(runtime);
    runtime.score = async (reviews) => (await original(reviews)).map((p) => (p.review_id === 'x' ? { ...p, confidence: Number.NaN, features: { bad: 'x' as unknown as number } } : p));
    const result = await processBatch([message(0, encoded(review('x'))), message(1, encoded(review('y')))], source, runtime);
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['y']);
    expect(dead(result)[0]).toMatchObject({ review_id: 'x', error_code: 'AVRO_ENCODE_FAILED' });
  });
});

describe('processBatch: U+FFFD, bytes that are not UTF-8, absurd times', () => {
  const loose = new AvroCodec<ReviewEvent>(loadSchema('ReviewEvent'));
  /** A ReviewEvent whose text holds `bytes` where the text has '~#~' (Avro strings are length-prefixed, so same length). */
  function withTextBytes(id: string, bytes: number[]): Buffer {
    const value = loose.encode(review(id, { text: 'works ~#~ well' }));
    const at = value.indexOf(Buffer.from('~#~'));
    return Buffer.concat([value.subarray(0, at), Buffer.from(bytes), value.subarray(at + 3)]);
  }

  it('scores a review whose text or title carries U+FFFD, flags and counts it; others are not flagged', async () => {
    const messages = [
      message(0, encoded(review('text', { text: 'Broke after a week \uFFFD would not buy again' }))),
      message(1, encoded(review('title', { title: 'Gr\uFFFDat' }))),
      message(2, encoded(review('clean'))),
      // U+FFFD as its own UTF-8 bytes EF BF BD in the Avro string: valid, not mistaken for invalid bytes.
      message(3, withTextBytes('fffd-bytes', [0xef, 0xbf, 0xbd])),
    ];
    const result = await processBatch(messages, source, new TestRuntime());
    expect(result.deadLetters).toEqual([]);
    expect(result.scored.map((s) => [record(s).review_id, record(s).has_replacement_char])).toEqual([['text', true], ['title', true], ['clean', false], ['fffd-bytes', true]]);
    expect(result.withReplacementChar).toBe(3);
    // The flag travels in the scored event.
    expect(codecFor('ScoredReview').decode(result.scored[0]!.message.value as Buffer).has_replacement_char).toBe(true);
  });

  it('dead-letters text bytes that are not UTF-8 as TEXT_ENCODING (avsc alone would turn them into U+FFFD)', async () => {
    const result = await processBatch([message(0, withTextBytes('bad', [0xc3, 0x28, 0xff])), message(1, encoded(review('ok')))], source, new TestRuntime());
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['ok']);
    expect(dead(result).map((d) => [d.source_offset, d.error_code, d.field, d.review_id])).toEqual([[0, 'TEXT_ENCODING', 'text', 'bad']]);
    expect(dead(result)[0]!.reason).toContain('0xC3');
  });

  it('dead-letters a producer\'s absurd ingest_time_ms or event_time_ms as TIMESTAMP_INVALID naming the field', async () => {
    const messages = [
      message(0, loose.encode(review('ingest-9e15', { ingest_time_ms: 9e15 }))),
      message(1, loose.encode(review('ingest-negative', { ingest_time_ms: -1 }))),
      message(2, loose.encode(review('event-9e15', { event_time_ms: 9e15 }))),
      message(3, encoded(review('ok'))),
    ];
    const result = await processBatch(messages, source, new TestRuntime());
    expect(result.scored.map((s) => record(s).review_id)).toEqual(['ok']);
    expect(dead(result).map((d) => [d.review_id, d.error_code, d.field])).toEqual([
      ['ingest-9e15', 'TIMESTAMP_INVALID', 'ingest_time_ms'],
      ['ingest-negative', 'TIMESTAMP_INVALID', 'ingest_time_ms'],
      ['event-9e15', 'TIMESTAMP_INVALID', 'event_time_ms'],
    ]);
  });
});

describe('processBatch with end-to-end dedupe', () => {
  it('leaves out ids scored before and repeats within the batch, counts them as duplicates, scores the rest once', async () => {
    const runtime = new TestRuntime();
    const messages = [message(0, encoded(review('a'))), message(1, encoded(review('b'))), message(2, encoded(review('a'))), message(3, encoded(review('c')))];
    const asked: string[][] = [];
    const result = await processBatch(messages, source, runtime, {
      nowMs: 1_700_000_001_000,
      scoredBefore: async (ids) => {
        asked.push([...ids]);
        return new Set(ids.filter((id) => id === 'b'));
      },
    });
    expect(asked).toEqual([['a', 'b', 'c']]);
    expect(result.scored.map((s) => [record(s).review_id, record(s).input_offset])).toEqual([
      ['a', 0],
      ['c', 3],
    ]);
    expect(result.duplicates).toBe(2);
    expect(result.deadLetters).toEqual([]);
    expect(runtime.calls).toEqual([2]);
  });
});

describe('splitBySize', () => {
  it('cuts sends so none exceeds the byte budget and keeps every message in order', () => {
    const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(300, i) }));
    const parts = splitBySize(messages, 1_000);
    expect(parts.flat()).toEqual(messages);
    expect(parts.map((p) => p.length)).toEqual([2, 2, 2, 2, 2]);
  });

  it('sends a single oversized message alone rather than dropping it', () => {
    const big = { key: null, value: Buffer.alloc(5_000) };
    expect(splitBySize([big, { key: 'a', value: 'x' }], 1_000)).toEqual([[big], [{ key: 'a', value: 'x' }]]);
  });
});
