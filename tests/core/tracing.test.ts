import { randomUUID } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import {
  activeTraceId,
  extractTraceContext,
  initTracing,
  injectTraceHeaders,
  shutdownTracing,
  SpanKind,
  tracingEnabled,
  tracingSettings,
  withConsumedSpan,
  withSpan,
  type MessageHeaders,
} from '../../core/tracing.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

function spanNamed(exporter: InMemorySpanExporter, name: string): ReadableSpan {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span) throw new Error(`no finished span named ${name}`);
  return span;
}

afterEach(async () => {
  await shutdownTracing();
});

describe('tracing settings', () => {
  it('are off by default and parse the documented variables', () => {
    expect(tracingSettings.load({}).enabled).toBe(false);
    const loaded = tracingSettings.load({ DRIFTLINE_OTEL_ENABLED: 'true', DRIFTLINE_OTEL_ENDPOINT: 'http://otel:4318/v1/traces', DRIFTLINE_OTEL_SAMPLE_RATIO: '0.25' });
    expect(loaded).toMatchObject({ enabled: true, endpoint: 'http://otel:4318/v1/traces', sampleRatio: 0.25 });
    expect(() => tracingSettings.load({ DRIFTLINE_OTEL_SAMPLE_RATIO: '2' })).toThrow(/DRIFTLINE_OTEL_SAMPLE_RATIO/);
  });
});

describe('tracing off (default)', () => {
  it('registers nothing, injects no headers and still runs the work', async () => {
    const handle = initTracing('ingest', { settings: tracingSettings.load({}) });
    expect(handle.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);

    const headers: MessageHeaders = { key: 'k' };
    const result = await withSpan('publish', (span) => {
      expect(span.isRecording()).toBe(false);
      injectTraceHeaders(headers);
      return 42;
    });
    expect(result).toBe(42);
    expect(headers).toEqual({ key: 'k' });
    expect(activeTraceId()).toBeUndefined();
    expect(trace.getSpan(extractTraceContext({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }))).toBeUndefined();
  });
});

describe('tracing on', () => {
  it('carries the ingest span into the scorer span through Kafka headers', async () => {
    const exporter = new InMemorySpanExporter();
    const handle = initTracing('ingest', { exporter, settings: tracingSettings.load({}) });
    expect(handle).toMatchObject({ enabled: true, serviceName: 'driftline-ingest' });

    // Ingest side: publish inside a span; the record's headers get the trace context.
    const headers: MessageHeaders = { 'review-id': randomUUID() };
    const ingestTraceId = await withSpan('ingest.publish', () => {
      injectTraceHeaders(headers);
      return activeTraceId();
    }, { 'messaging.destination.name': 'driftline.reviews' }, { kind: SpanKind.PRODUCER });

    // On the wire kafkajs delivers header values as Buffers.
    const wire: MessageHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(String(v))]));

    // Scorer side: a consumer span from the received headers, with a nested span inside it.
    await withConsumedSpan('scorer.score', wire, async () => {
      await withSpan('scorer.predict', async () => Promise.resolve());
    }, { 'messaging.kafka.partition': 0 });

    const publish = spanNamed(exporter, 'ingest.publish');
    const score = spanNamed(exporter, 'scorer.score');
    const predict = spanNamed(exporter, 'scorer.predict');
    const match = TRACEPARENT.exec(String(headers.traceparent));
    expect(match?.[1]).toBe(publish.spanContext().traceId);
    expect(match?.[2]).toBe(publish.spanContext().spanId);
    expect(ingestTraceId).toBe(publish.spanContext().traceId);

    expect(score.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(score.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(score.parentSpanContext?.isRemote).toBe(true);
    expect(score.kind).toBe(SpanKind.CONSUMER);
    expect(score.attributes['messaging.kafka.partition']).toBe(0);
    expect(predict.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(predict.parentSpanContext?.spanId).toBe(score.spanContext().spanId);
    expect(publish.resource.attributes['service.name']).toBe('driftline-ingest');
  });

  it('starts a new trace when the message carries no or a malformed traceparent', async () => {
    const exporter = new InMemorySpanExporter();
    initTracing('scorer', { exporter, settings: tracingSettings.load({}) });
    await withConsumedSpan('no-header', {}, () => undefined);
    await withConsumedSpan('bad-header', { traceparent: Buffer.from('00-nothex-nothex-01') }, () => undefined);
    for (const name of ['no-header', 'bad-header']) {
      const span = spanNamed(exporter, name);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('records a failure with its error code and rethrows it', async () => {
    const exporter = new InMemorySpanExporter();
    initTracing('api', { exporter, settings: tracingSettings.load({}) });
    const failure = new DriftlineError('KAFKA_UNAVAILABLE', 'broker gone');
    await expect(withSpan('api.score', () => Promise.reject(failure))).rejects.toBe(failure);
    const span = spanNamed(exporter, 'api.score');
    expect(span.status).toMatchObject({ code: 2, message: 'broker gone' });
    expect(span.attributes['driftline.error_code']).toBe('KAFKA_UNAVAILABLE');
    expect(span.events.map((e) => e.name)).toContain('exception');
  });

  it('is idempotent and can be shut down and turned off again', async () => {
    const exporter = new InMemorySpanExporter();
    const first = initTracing('api', { exporter, settings: tracingSettings.load({}) });
    expect(initTracing('api', { exporter })).toBe(first);
    await shutdownTracing();
    expect(tracingEnabled()).toBe(false);
    await withSpan('after-shutdown', () => undefined);
    expect(exporter.getFinishedSpans().map((s) => s.name)).not.toContain('after-shutdown');
  });

  it('uses the configured service name and honours a zero sample ratio for new traces', async () => {
    const exporter = new InMemorySpanExporter();
    const settings = tracingSettings.load({ DRIFTLINE_OTEL_SERVICE_NAME: 'scorer-eu-1', DRIFTLINE_OTEL_SAMPLE_RATIO: '0' });
    expect(initTracing('scorer', { exporter, settings }).serviceName).toBe('scorer-eu-1');
    const headers: MessageHeaders = {};
    await withSpan('unsampled', () => injectTraceHeaders(headers));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(String(headers.traceparent)).toMatch(/-00$/);
  });
});
