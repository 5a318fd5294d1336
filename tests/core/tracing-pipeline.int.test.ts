/**
 * Tracing wired through the components themselves (not only the helpers): ingest's publish span is the
 * parent carried in every review's Kafka headers, and the API's predict span continues a caller's
 * traceparent. In-memory exporter, real broker, real model.
 */
import { Readable } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { initTracing, shutdownTracing, SpanKind, tracingSettings } from '../../core/tracing.js';
import { ingestRecords } from '../../ingest/index.js';
import { buildTestApi, type TestApi } from '../api/helpers.js';
import { createTestTopics, readAll } from '../support/kafka.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
const review = (i: number): string => JSON.stringify({ review_id: `trace-${i}`, rating: 5, text: `Great product number ${i}, works well.` });

let api: TestApi | undefined;
afterEach(async () => {
  await shutdownTracing();
});
afterAll(async () => {
  await api?.close();
});

describe('traces across components', () => {
  it('ingest puts its publish span into every review it sends', async () => {
    const exporter = new InMemorySpanExporter();
    initTracing('ingest', { exporter, settings: tracingSettings.load({}) });
    const topics = await createTestTopics('trace');
    const lines = [review(1), review(2), review(3)].join('\n') + '\n';
    const summary = await ingestRecords(
      { name: 'trace.jsonl', stream: Readable.from([lines]) },
      { settings: topics.settings, kafka: topics.kafka, topic: topics.reviews, deadLetterTopic: topics.deadLetter },
    );
    expect(summary.published).toBe(3);

    const publish = exporter.getFinishedSpans().filter((span) => span.name === 'ingest.publish');
    expect(publish.length).toBeGreaterThan(0);
    const spanIds = new Set(publish.map((span) => span.spanContext().spanId));
    const messages = await readAll(topics.reviews, { count: 3 });
    expect(messages).toHaveLength(3);
    for (const message of messages) {
      const match = TRACEPARENT.exec(String(message.headers?.traceparent));
      expect(match, 'traceparent header').not.toBeNull();
      expect(publish.some((span) => span.spanContext().traceId === match?.[1])).toBe(true);
      expect(spanIds.has(match?.[2] ?? '')).toBe(true);
    }
    expect(publish[0]?.kind).toBe(SpanKind.PRODUCER);
  });

  it("the API's predict span continues the caller's trace", async () => {
    const exporter = new InMemorySpanExporter();
    initTracing('api', { exporter, settings: tracingSettings.load({}) });
    api = await buildTestApi();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await api.api.app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      payload: { reviews: [{ id: 'a', text: 'Broke after a day, very disappointed.' }] },
    });
    expect(response.statusCode).toBe(200);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'api.predict');
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span?.kind).toBe(SpanKind.SERVER);
  });
});
