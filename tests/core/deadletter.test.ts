import { describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { DEFAULT_MAX_RAW_BYTES, buildDeadLetter, deadLetterMessage, deadLetterTopicMessages } from '../../core/deadletter.js';
import { DriftlineError } from '../../core/errors.js';
import { validateReview } from '../../core/validation.js';

describe('buildDeadLetter', () => {
  it('an ingest dead letter keeps code, field, reason, raw bytes, file and line', () => {
    const raw = Buffer.from('{"review_id":"r-9","rating":9,"text":"x"}');
    const result = validateReview(JSON.parse(raw.toString()) as unknown);
    if (result.ok) throw new Error('rating 9 must be invalid');
    const record = buildDeadLetter({ stage: 'ingest', error: result.error, raw, location: { file: 'in.jsonl', line: 12 }, timeMs: 5 });
    expect(record).toEqual({
      stage: 'ingest',
      error_code: 'FIELD_RANGE',
      reason: result.error.message,
      field: 'rating',
      raw,
      review_id: 'r-9',
      source_file: 'in.jsonl',
      source_line: 12,
      source_topic: null,
      source_partition: null,
      source_offset: null,
      time_ms: 5,
    });
  });

  it('a scorer dead letter names topic, partition and offset (string offsets from kafkajs included)', () => {
    const record = buildDeadLetter({
      stage: 'scorer',
      error: new DriftlineError('AVRO_DECODE_FAILED', 'truncated'),
      raw: new Uint8Array([0xc3, 0x01, 0x00]),
      location: { topic: 'driftline.reviews', partition: 2, offset: '4096' },
      reviewId: null,
    });
    expect(record).toMatchObject({ stage: 'scorer', error_code: 'AVRO_DECODE_FAILED', field: null, source_file: null, source_line: null, source_topic: 'driftline.reviews', source_partition: 2, source_offset: 4096, review_id: null });
    expect(record.raw.equals(Buffer.from([0xc3, 0x01, 0x00]))).toBe(true);
  });

  it('a non-Driftline error becomes INTERNAL; a string raw is stored as UTF-8', () => {
    const record = buildDeadLetter({ stage: 'aggregator', error: new TypeError('x is undefined'), raw: 'héllo', location: { file: null, line: null } });
    expect(record.error_code).toBe('INTERNAL');
    expect(record.raw.toString('utf8')).toBe('héllo');
  });

  it('cuts raw input over the limit and says so in the reason', () => {
    const raw = Buffer.alloc(DEFAULT_MAX_RAW_BYTES + 10, 0x61);
    const record = buildDeadLetter({ stage: 'ingest', error: new DriftlineError('TEXT_TOO_LONG', 'text: too long', { field: 'text' }), raw, location: { file: 'f', line: 1 } });
    expect(record.raw.length).toBe(DEFAULT_MAX_RAW_BYTES);
    expect(record.reason).toBe(`text: too long (raw input cut to ${DEFAULT_MAX_RAW_BYTES} of ${raw.length} bytes)`);
  });
});

describe('deadLetterMessage', () => {
  it('is Avro DeadLetter with error_code and stage headers, keyed by review id', () => {
    const record = buildDeadLetter({ stage: 'ingest', error: new DriftlineError('DUPLICATE_REVIEW', 'again', { field: 'review_id' }), raw: 'x', location: { file: 'f', line: 3 }, reviewId: 'r-1', timeMs: 1 });
    const message = deadLetterMessage(record);
    expect(message.key).toBe('r-1');
    expect(message.headers).toMatchObject({ error_code: 'DUPLICATE_REVIEW', stage: 'ingest' });
    expect(codecFor('DeadLetter').decode(message.value as Buffer)).toEqual(record);
    const batch = deadLetterTopicMessages('dl', [record, record]);
    expect(batch.topic).toBe('dl');
    expect(batch.messages).toHaveLength(2);
  });
});
