/** DeadLetterPublisher on the real broker: records arrive Avro-encoded with their headers. */
import { describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { DeadLetterPublisher, buildDeadLetter } from '../../core/deadletter.js';
import { DriftlineError } from '../../core/errors.js';
import { createTestTopics, readAll } from '../support/kafka.js';

describe('DeadLetterPublisher', () => {
  it('publishes dead letters that read back equal, with error_code and stage headers', async () => {
    const topics = await createTestTopics('deadletter');
    const producer = topics.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const publisher = new DeadLetterPublisher(producer, topics.deadLetter);
      const records = [
        buildDeadLetter({ stage: 'scorer', error: new DriftlineError('AVRO_BAD_HEADER', 'not avro'), raw: Buffer.from('{}'), location: { topic: topics.reviews, partition: 0, offset: '17' }, timeMs: 1 }),
        buildDeadLetter({ stage: 'ingest', error: new DriftlineError('TEXT_EMPTY', 'text: text is empty', { field: 'text' }), raw: '{"text":""}', location: { file: 'a.jsonl', line: 3 }, reviewId: 'r-3', timeMs: 2 }),
      ];
      await publisher.publish(records);
      await publisher.publish([]);
      expect(publisher.publishedCount).toBe(2);
      const messages = await readAll(topics.deadLetter, { kafka: topics.kafka, count: 2 });
      const decoded = messages.map((m) => ({ record: codecFor('DeadLetter').decode(m.value), headers: m.headers }));
      decoded.sort((a, b) => a.record.time_ms - b.record.time_ms);
      expect(decoded.map((d) => d.record)).toEqual(records);
      expect(decoded.map((d) => [d.headers.error_code, d.headers.stage])).toEqual([['AVRO_BAD_HEADER', 'scorer'], ['TEXT_EMPTY', 'ingest']]);
    } finally {
      await producer.disconnect();
    }
  });
});
