/**
 * OpenTelemetry tracing, OFF by default. When off nothing is registered: the global API hands out its
 * no-op tracer, and every helper here short-circuits before touching spans or headers, so the hot path
 * pays one boolean check. When on, spans go to an OTLP/HTTP collector in batches, and the trace context
 * crosses Kafka in W3C `traceparent`/`tracestate` message headers (ingest → scorer → aggregator).
 *
 * The stable API: initTracing, shutdownTracing, tracingEnabled, withSpan, injectTraceHeaders,
 * extractTraceContext, withConsumedSpan, activeTraceId.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type SpanExporter,
  type TracerConfig,
} from '@opentelemetry/sdk-trace-base';
import { defineSettings, setting, type Settings } from './config.js';
import { DriftlineError } from './errors.js';

export { SpanKind, type Attributes, type Context, type Span };

export const tracingSettings = defineSettings('tracing', {
  enabled: setting({ env: 'DRIFTLINE_OTEL_ENABLED', kind: 'boolean', default: false, description: 'Export OpenTelemetry traces (spans per request/message, context carried in Kafka headers).' }),
  endpoint: setting({ env: 'DRIFTLINE_OTEL_ENDPOINT', kind: 'string', default: 'http://127.0.0.1:4318/v1/traces', description: 'OTLP/HTTP traces endpoint of the collector.' }),
  serviceName: setting({ env: 'DRIFTLINE_OTEL_SERVICE_NAME', kind: 'string', default: '', description: 'service.name of exported spans; empty: driftline-<component>.' }),
  sampleRatio: setting({ env: 'DRIFTLINE_OTEL_SAMPLE_RATIO', kind: 'number', default: 1, min: 0, max: 1, description: 'Share of new traces sampled (children follow their parent\'s decision).' }),
});

export type TracingSettings = Settings<typeof tracingSettings.spec>;

/** Kafka message headers (kafkajs IHeaders) or Node HTTP request headers. */
export type MessageHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface TracingHandle {
  readonly enabled: boolean;
  readonly serviceName: string;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface InitTracingOptions {
  settings?: TracingSettings;
  /** Replaces the OTLP exporter (tests pass an InMemorySpanExporter); forces tracing on. */
  exporter?: SpanExporter;
}

const TRACER_NAME = 'driftline';
const DISABLED: TracingHandle = { enabled: false, serviceName: '', forceFlush: async () => undefined, shutdown: async () => undefined };

let current: TracingHandle = DISABLED;

/**
 * Context propagation across `await` with AsyncLocalStorage (the SDK's async-hooks manager is not a
 * dependency; this is the same mechanism in a few lines).
 */
class AsyncLocalContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (...args: unknown[]): unknown => this.with(ctx, () => (target as (...a: unknown[]) => unknown)(...args));
    return run as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

/**
 * Turns tracing on for this process when DRIFTLINE_OTEL_ENABLED (or an exporter is given); otherwise
 * returns a disabled handle and registers nothing. Idempotent: a second call returns the first handle.
 */
export function initTracing(component: string, options: InitTracingOptions = {}): TracingHandle {
  if (current.enabled) return current;
  const settings = options.settings ?? tracingSettings.load();
  if (!settings.enabled && !options.exporter) return DISABLED;

  const serviceName = settings.serviceName || `driftline-${component}`;
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'driftline.component': component }) as TracerConfig['resource'],
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);

  current = {
    enabled: true,
    serviceName,
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      current = DISABLED;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
  return current;
}

/** Flushes and unregisters the tracer provider (call on graceful shutdown). */
export async function shutdownTracing(): Promise<void> {
  await current.shutdown();
}

export function tracingEnabled(): boolean {
  return current.enabled;
}

export interface SpanOptions {
  /** Parent context (e.g. from extractTraceContext); default: the active context. */
  parent?: Context;
  kind?: SpanKind;
}

const NOOP_SPAN: Span = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 });

/**
 * Runs `fn` inside a new active span; records an exception (and a DriftlineError's code) and ends the
 * span however `fn` finishes. When tracing is off, calls `fn` with a non-recording span and nothing else.
 */
export async function withSpan<T>(name: string, fn: (span: Span) => Promise<T> | T, attributes: Attributes = {}, options: SpanOptions = {}): Promise<T> {
  if (!current.enabled) return fn(NOOP_SPAN);
  const parent = options.parent ?? context.active();
  const span = trace.getTracer(TRACER_NAME).startSpan(name, { attributes, kind: options.kind ?? SpanKind.INTERNAL }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    recordFailure(span, err);
    throw err;
  } finally {
    span.end();
  }
}

function recordFailure(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  if (err instanceof DriftlineError) span.setAttribute('driftline.error_code', err.code);
}

const headerSetter: TextMapSetter<MessageHeaders> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const headerGetter: TextMapGetter<MessageHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key] ?? carrier[key.toLowerCase()];
    if (value === undefined) return undefined;
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  },
};

/**
 * Writes the trace context of `ctx` (default: the active span) into Kafka message headers as W3C
 * `traceparent` (+ `tracestate`), and returns the same object. No-op when tracing is off.
 */
export function injectTraceHeaders<H extends MessageHeaders>(headers: H, ctx: Context = context.active()): H {
  if (current.enabled) propagation.inject(ctx, headers, headerSetter);
  return headers;
}

/** Reads a W3C trace context from message (or HTTP) headers; the root context when absent or off. */
export function extractTraceContext(headers: MessageHeaders | undefined): Context {
  if (!current.enabled || !headers) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Consumer side in one call: a CONSUMER span whose parent is the producer's span from the headers. */
export async function withConsumedSpan<T>(name: string, headers: MessageHeaders | undefined, fn: (span: Span) => Promise<T> | T, attributes: Attributes = {}): Promise<T> {
  if (!current.enabled) return fn(NOOP_SPAN);
  return withSpan(name, fn, attributes, { parent: extractTraceContext(headers), kind: SpanKind.CONSUMER });
}

/** Trace id of the active span (for log correlation), or undefined when none/off. */
export function activeTraceId(): string | undefined {
  if (!current.enabled) return undefined;
  const spanContext = trace.getSpanContext(context.active());
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}
