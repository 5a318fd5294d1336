/**
 * Trace context across a real Kafka broker: the producer's span travels in the record headers (W3C
 * traceparent) and the consumer's span continues the same trace with the producer span as parent.
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTracing, injectTraceHeaders, shutdownTracing, SpanKind, tracingSettings, withConsumedSpan, withSpan, type MessageHeaders } from '../../core/tracing.js';
import { createTestTopics, readAll, type TestTopics } from '../support/kafka.js';

describe('tracing through Kafka', () => {
  const exporter = new InMemorySpanExporter();
  let topics: TestTopics;

  beforeAll(async () => {
    initTracing('ingest', { exporter, settings: tracingSettings.load({}) });
    topics = await createTestTopics('tracing', { partitions: 1 });
  });

  afterAll(async () => {
    await shutdownTracing();
  });

  it('continues the producer trace in the consumer', async () => {
    const producer = topics.kafka.producer();
    await producer.connect();
    try {
      await withSpan('ingest.publish', async () => {
        const messages = ['a', 'b'].map((key) => ({ key, value: `review-${key}`, headers: injectTraceHeaders<MessageHeaders>({ source: 'test' }) }));
        await producer.send({ topic: topics.reviews, messages });
      }, {}, { kind: SpanKind.PRODUCER });
    } finally {
      await producer.disconnect();
    }

    const received = await readAll(topics.reviews, { count: 2 });
    expect(received).toHaveLength(2);
    for (const message of received) {
      await withConsumedSpan(`scorer.score.${message.key?.toString()}`, message.headers, () => undefined);
    }

    const spans = exporter.getFinishedSpans();
    const publish = spans.find((s) => s.name === 'ingest.publish');
    expect(publish).toBeDefined();
    for (const key of ['a', 'b']) {
      const consumed = spans.find((s) => s.name === `scorer.score.${key}`);
      expect(consumed?.spanContext().traceId).toBe(publish?.spanContext().traceId);
      expect(consumed?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    }
    expect(received.every((m) => m.headers.source === 'test')).toBe(true);
  });
});
