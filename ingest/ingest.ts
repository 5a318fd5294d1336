/**
 * Ingest: read reviews from JSONL or CSV (file or stdin), validate each one, publish the valid ones as
 * Avro ReviewEvents and the invalid ones as DeadLetters (with the raw line, line number, code, reason).
 *
 * Ordering: one idempotent producer with one request in flight, and review + dead-letter messages of a
 * batch go out in one produce call, so per key (product_id, else review_id) the topic order is the line
 * order and a retried request cannot duplicate. A broker restart mid-run is ridden out: the batch is
 * resent on the same producer until the outage budget is spent (ingest/outage.ts says why that neither
 * duplicates nor reorders). Bad records are counted, never fatal; only infrastructure failures (Kafka
 * unreachable, or down for longer than the budget) end a run with an error.
 *
 * This file is the orchestration; the parts: readers.ts (JSONL/CSV → InputRecord), router.ts (validate,
 * dedupe, publish or dead-letter), publisher.ts (Avro messages, producer, batcher), types.ts.
 */
import { addAbortSignal } from 'node:stream';
import type { Producer } from 'kafkajs';
import { coreSettings } from '../core/config.js';
import { DriftlineError } from '../core/errors.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { ValidationOptions } from '../core/validation.js';
import { ingestSettings, type IngestSettings } from './config.js';
import { outagePolicy } from './outage.js';
import type { IngestSource, IngestProgress, IngestSummary, IngestOptions } from './types.js';
import { readCsv, readJsonl, detectFormat, sourceName, openSource, assertReadable } from './readers.js';
import { Batcher, connectProducer } from './publisher.js';
import { RecordRouter } from './router.js';

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true && err instanceof Error && err.name === 'AbortError';
}

function refreshTiming(summary: IngestSummary, startedMs: number): IngestProgress {
  summary.elapsedMs = Math.round(performance.now() - startedMs);
  summary.recordsPerSec = summary.elapsedMs > 0 ? Math.round((summary.read * 1000) / summary.elapsedMs) : 0;
  const { read, published, deadLettered, elapsedMs, recordsPerSec } = summary;
  return { read, published, deadLettered, elapsedMs, recordsPerSec };
}

/** Reads, validates and publishes a whole source; resolves with the run's summary. Throws only for infrastructure failures. */
export async function ingestRecords(source: IngestSource, options: IngestOptions = {}): Promise<IngestSummary> {
  const settings = options.settings ?? coreSettings.load();
  const config: IngestSettings = { ...ingestSettings.load(), ...options.ingest };
  const topic = options.topic ?? settings.topicReviews;
  const deadLetterTopic = options.deadLetterTopic ?? settings.topicDeadLetter;
  const format = detectFormat(source, options.format);
  const kafka = options.kafka ?? createKafka(settings, 'ingest');
  const signal = options.signal;

  if (typeof source === 'string' && source !== '-') await assertReadable(source);
  if (options.createTopics !== false) await ensureTopics(kafka, [topic, deadLetterTopic], settings);
  const producer = await connectProducer(kafka);

  const summary: IngestSummary = {
    source: sourceName(source), format, topic, deadLetterTopic, read: 0, published: 0, deadLettered: 0, elapsedMs: 0, recordsPerSec: 0, byErrorCode: {}, blankLines: 0, interrupted: false, sendRetries: 0, withReplacementChar: 0,
  };
  let log: Logger | undefined; // created on the first warning: a quiet run opens no extra stderr stream
  const batcher = new Batcher(producer, topic, deadLetterTopic, outagePolicy(config.outageTimeoutMs), () => (log ??= createLogger('ingest', settings.logLevel)), options.onSendRetry);
  const validation: ValidationOptions = { futureToleranceMs: config.futureToleranceMs, maxTextBytes: settings.maxTextBytes, ...options.validation };
  const router = new RecordRouter(batcher, summary, validation, config.maxRawBytes, config.dedupeIds);
  const started = performance.now();
  const progressTimer = options.onProgress ? setInterval(() => options.onProgress?.(refreshTiming(summary, started)), config.progressIntervalMs) : undefined;
  progressTimer?.unref();

  const stream = openSource(source);
  if (signal) addAbortSignal(signal, stream);
  const records = format === 'csv' ? readCsv(stream) : readJsonl(stream, config.maxLineBytes, () => summary.blankLines++);
  try {
    for await (const record of records) {
      if (signal?.aborted) break;
      router.route(record);
      if (batcher.size >= config.batchSize) await batcher.flush();
      if (config.rate > 0) await keepRate(summary.read, config.rate, started, batcher, signal);
    }
    summary.interrupted = signal?.aborted === true;
    await batcher.drain();
  } catch (err) {
    if (isAbort(err, signal)) {
      summary.interrupted = true;
      await batcher.drain().catch(async (failure: unknown) => {
        throw await closeAfterFailure(producer, progressTimer, failure);
      });
    } else {
      const error = err instanceof DriftlineError ? err : new DriftlineError('INTERNAL', `reading ${summary.source} failed: ${(err as Error).message}`, { cause: err });
      throw await closeAfterFailure(producer, progressTimer, error);
    }
  }
  clearInterval(progressTimer);
  await producer.disconnect().catch(() => undefined);
  if (stream !== process.stdin) stream.destroy();
  summary.sendRetries = batcher.sendRetries;
  refreshTiming(summary, started);
  return summary;
}

async function closeAfterFailure(producer: Producer, timer: NodeJS.Timeout | undefined, err: unknown): Promise<unknown> {
  clearInterval(timer);
  await producer.disconnect().catch(() => undefined);
  return err;
}

/** Sleeps while ahead of the rate; flushes first so records never wait in a half-full batch while sleeping. */
async function keepRate(done: number, rate: number, startedMs: number, batcher: Batcher, signal?: AbortSignal): Promise<void> {
  const aheadMs = (done * 1000) / rate - (performance.now() - startedMs);
  if (aheadMs < 20) return; // timer granularity: sleeping for less costs more than it saves
  await batcher.flush();
  await delay(aheadMs, signal);
}
