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
 */
import { stat } from 'node:fs/promises';
import { addAbortSignal, pipeline, Readable } from 'node:stream';
import { extname } from 'node:path';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { coreSettings, type CoreSettings } from '../core/config.js';
import { buildDeadLetter, deadLetterTopicMessages } from '../core/deadletter.js';
import { DriftlineError, type ErrorCode } from '../core/errors.js';
import { createKafka, ensureTopics, kafkaError } from '../core/kafka.js';
import { createLogger, type Logger } from '../core/logger.js';
import { isGzipName, openDataFile } from '../core/paths.js';
import { injectTraceHeaders, SpanKind, tracingEnabled, withSpan } from '../core/tracing.js';
import { reviewIdOf, validateReview, type ValidationOptions } from '../core/validation.js';
import type { DeadLetter, ReviewEvent } from '../schemas/types.js';
import { ingestSettings, type IngestSettings } from './config.js';
import { outagePolicy, sendThroughOutage, type OutagePolicy, type OutageRetry } from './outage.js';

export type InputFormat = 'jsonl' | 'csv';
export const INPUT_FORMATS: readonly InputFormat[] = ['jsonl', 'csv'];

/** A file path, '-' for stdin, or an already open stream with a name for dead-letter records. */
export type IngestSource = string | { name: string; stream: Readable };

/** One record as read: its first line number, original bytes, and the parsed value or why it did not parse. */
export interface InputRecord {
  line: number;
  raw: Buffer;
  value?: unknown;
  error?: DriftlineError;
}

export interface IngestProgress {
  read: number;
  published: number;
  deadLettered: number;
  elapsedMs: number;
  recordsPerSec: number;
}

export interface IngestSummary extends IngestProgress {
  source: string;
  format: InputFormat;
  topic: string;
  deadLetterTopic: string;
  /** Count per error code of the dead-lettered records. */
  byErrorCode: Partial<Record<ErrorCode, number>>;
  /** Empty or white-space-only lines: skipped, not records. */
  blankLines: number;
  /** True when SIGINT/SIGTERM (the abort signal) stopped reading before the end of the input. */
  interrupted: boolean;
  /** Batches sent again after a retriable Kafka failure (broker restart, leader moving); 0 in a quiet run. */
  sendRetries: number;
}

export interface IngestOptions {
  settings?: CoreSettings;
  /** Overrides of the DRIFTLINE_INGEST_* settings (CLI flags). */
  ingest?: Partial<IngestSettings>;
  /** A Kafka client to use (default: createKafka(settings, 'ingest')). */
  kafka?: Kafka;
  topic?: string;
  deadLetterTopic?: string;
  /** Default: from the file extension (.csv → csv), else jsonl. */
  format?: InputFormat;
  /** Create missing topics first (default true). */
  createTopics?: boolean;
  /** Stops reading; what was read is flushed and the summary says interrupted. */
  signal?: AbortSignal;
  onProgress?: (progress: IngestProgress) => void;
  /** Called before each resend of a batch Kafka did not take (besides the warning in the log). */
  onSendRetry?: (retry: OutageRetry) => void;
  /** Validation overrides (max text bytes, clock); futureToleranceMs defaults to the ingest setting. */
  validation?: ValidationOptions;
}

// ---------------------------------------------------------------- reading

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const UTF8_BOM = '\uFEFF';

function unparseable(message: string): DriftlineError {
  return new DriftlineError('RECORD_UNPARSEABLE', message, { field: '(record)' });
}

function parseJsonLine(line: number, raw: Buffer): InputRecord | null {
  let text = raw.toString('utf8'); // invalid UTF-8 becomes U+FFFD, which validation reports as TEXT_ENCODING
  if (line === 1 && text.startsWith(UTF8_BOM)) text = text.slice(1);
  if (text.trim() === '') return null;
  try {
    return { line, raw, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { line, raw, error: unparseable(`line ${line} is not JSON: ${(err as Error).message}`) };
  }
}

/**
 * Splits a byte stream into lines without decoding first, so a dead letter keeps the exact original bytes
 * (invalid UTF-8 included). A line over maxLineBytes is not buffered whole: its head is kept and the rest skipped.
 */
export async function* readJsonl(stream: Readable, maxLineBytes: number, onBlank: () => void = () => undefined): AsyncGenerator<InputRecord> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let oversized = 0;
  let line = 0;
  const finishLine = (): InputRecord | null => {
    line++;
    let raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    if (oversized > 0) {
      const total = oversized;
      oversized = 0;
      return { line, raw, error: unparseable(`line ${line} is ${total} bytes, over the ${maxLineBytes}-byte line limit`) };
    }
    if (raw.length > 0 && raw[raw.length - 1] === CARRIAGE_RETURN) raw = raw.subarray(0, raw.length - 1);
    const record = parseJsonLine(line, raw);
    if (record === null) onBlank();
    return record;
  };
  const keep = (piece: Buffer): void => {
    if (oversized > 0 || partBytes + piece.length > maxLineBytes) {
      if (oversized === 0) oversized = partBytes;
      oversized += piece.length;
      const room = maxLineBytes - partBytes;
      if (room > 0) {
        parts.push(piece.subarray(0, room));
        partBytes += room;
      }
      return;
    }
    parts.push(piece);
    partBytes += piece.length;
  };
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    let start = 0;
    for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
      // A view, not a copy: a pushed chunk belongs to the reader (stream contract), and lines die with their batch.
      keep(buffer.subarray(start, end));
      const record = finishLine();
      if (record) yield record;
      start = end + 1;
    }
    if (start < buffer.length) keep(buffer.subarray(start));
  }
  if (partBytes > 0 || oversized > 0) {
    const record = finishLine();
    if (record) yield record;
  }
}

const INTEGER_COLUMNS = new Set(['rating', 'helpful_votes', 'event_time_ms']);
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * CSV cells are strings; convert the typed columns the way JSON would carry them. A cell that does not
 * convert stays a string, so validation reports FIELD_TYPE naming the column. Empty cells are null,
 * except text (empty text is TEXT_EMPTY, not missing).
 */
export function convertCsvRow(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    const value = cell.trim();
    if (column === 'text') out[column] = cell;
    else if (value === '') out[column] = null;
    else if (INTEGER_COLUMNS.has(column)) out[column] = NUMBER_PATTERN.test(value) ? Number(value) : cell;
    else if (column === 'verified') out[column] = /^(true|1|yes)$/i.test(value) ? true : /^(false|0|no)$/i.test(value) ? false : cell;
    else out[column] = cell;
  }
  return out;
}

interface CsvParsed {
  record: Record<string, string>;
  info: { lines: number };
  raw: string;
}

function newlinesIn(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/**
 * csv-parse decodes as latin1: one character per byte, so `raw` turns back into exactly the bytes that
 * were sent (invalid UTF-8 included, for the dead letter) and quotes, commas and newlines — all ASCII,
 * never part of a UTF-8 multi-byte sequence — are found just as they would be in UTF-8. Cells and header
 * names are then decoded as UTF-8 (invalid bytes become U+FFFD, which validation reports as TEXT_ENCODING,
 * as for JSONL).
 */
const CSV_PARSE_ENCODING = 'latin1';
const UTF8_BOM_BYTES = Buffer.from(UTF8_BOM, 'utf8');

function fromCsvParse(text: string): Buffer {
  return Buffer.from(text, CSV_PARSE_ENCODING);
}

function utf8FromCsvParse(text: string): string {
  return fromCsvParse(text).toString('utf8');
}

/**
 * Drops a leading UTF-8 byte-order mark. csv-parse's own `bom` option would switch its decoding back to
 * UTF-8 when it sees one, which would lose the byte-exact raw records.
 */
async function* withoutUtf8Bom(stream: Readable): AsyncGenerator<Buffer> {
  let head: Buffer | null = Buffer.alloc(0);
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    if (head === null) {
      yield buffer;
      continue;
    }
    head = Buffer.concat([head, buffer]);
    if (head.length < UTF8_BOM_BYTES.length && UTF8_BOM_BYTES.subarray(0, head.length).equals(head)) continue; // not decided yet
    yield head.subarray(0, UTF8_BOM_BYTES.length).equals(UTF8_BOM_BYTES) ? head.subarray(UTF8_BOM_BYTES.length) : head;
    head = null;
  }
  if (head !== null && head.length > 0) yield head;
}

/** CSV with a header row (csv-parse); a record that cannot be parsed is yielded as RECORD_UNPARSEABLE and parsing goes on. */
export async function* readCsv(stream: Readable): AsyncGenerator<InputRecord> {
  const skipped: InputRecord[] = [];
  const parser = parseCsv({
    columns: (header: string[]) => header.map(utf8FromCsvParse),
    encoding: CSV_PARSE_ENCODING,
    bom: false,
    info: true,
    raw: true,
    skip_empty_lines: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined, raw: string | undefined) => {
      const line = typeof err?.lines === 'number' ? err.lines : 0;
      skipped.push({ line, raw: fromCsvParse(raw ?? ''), error: unparseable(`CSV record at line ${line} cannot be parsed: ${err?.message ?? 'unknown error'}`) });
      return undefined;
    },
  });
  pipeline(Readable.from(withoutUtf8Bom(stream)), parser, () => undefined); // errors surface through the iteration below
  for await (const parsed of parser as AsyncIterable<CsvParsed>) {
    // info.lines is the line where the record ended; a quoted multi-line text started earlier.
    const trailing = parsed.raw.endsWith('\n') ? 1 : 0;
    const line = parsed.info.lines - (newlinesIn(parsed.raw) - trailing);
    // csv-parse reports skipped records while parsing ahead: emit the ones before this record, in line order.
    while (skipped.length > 0 && skipped[0]!.line < line) yield skipped.shift()!;
    const cells = Object.fromEntries(Object.entries(parsed.record).map(([column, cell]) => [column, utf8FromCsvParse(cell)]));
    yield { line, raw: fromCsvParse(parsed.raw.slice(0, parsed.raw.length - trailing).replace(/\r$/, '')), value: convertCsvRow(cells) };
  }
  yield* skipped.splice(0);
}

// ---------------------------------------------------------------- publishing

const REVIEW_HEADERS = { 'content-type': 'avro/binary', schema: 'ReviewEvent' } as const;

export function reviewKey(review: ReviewEvent): string {
  return review.product_id ?? review.review_id;
}

export function reviewMessage(review: ReviewEvent): Message {
  return { key: reviewKey(review), value: codecFor('ReviewEvent').encode(review), headers: { ...REVIEW_HEADERS } };
}

/**
 * Idempotent, one request in flight: a retried request can neither duplicate nor reorder. The client's
 * retries stay finite (kafkajs warns about that): when they run out, the Batcher resends the same batch on
 * this same producer within the outage budget (ingest/outage.ts), then fails with KAFKA_UNAVAILABLE
 * instead of hanging, and nothing after the failed batch was sent. The Java-compatible murmur2
 * partitioner keeps key → partition the same as any other Kafka client.
 */
export function createIngestProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
}

/**
 * Collects one batch while the previous one is on the wire: reading and validating overlap the broker
 * round trip, yet only one produce request is ever in flight, so order holds. A batch Kafka did not take
 * is resent (same messages, same producer) through an outage; when that gives up, the failure is kept and
 * rethrown by the next flush/drain (never an unhandled rejection). Reading stops meanwhile: the next flush
 * waits for the batch on the wire, so at most two batches are held in memory.
 */
class Batcher {
  private reviews: Message[] = [];
  private deadLetters: DeadLetter[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: DriftlineError | null = null;
  /** Acknowledged by Kafka so far: a prefix of the records read, since batches go out one at a time in order. */
  private readonly acknowledged = { reviews: 0, deadLetters: 0 };
  sendRetries = 0;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly deadLetterTopic: string,
    private readonly outage: OutagePolicy,
    private readonly log: () => Logger,
    private readonly onSendRetry?: (retry: OutageRetry) => void,
  ) {}

  get size(): number {
    return this.reviews.length + this.deadLetters.length;
  }

  addReview(review: ReviewEvent): void {
    this.reviews.push(reviewMessage(review));
  }

  addDeadLetter(record: DeadLetter): void {
    this.deadLetters.push(record);
  }

  /** Waits for the batch on the wire, then puts the collected one on the wire (without waiting for it). */
  async flush(): Promise<void> {
    await this.settle();
    if (this.size === 0) return;
    const topicMessages: TopicMessages[] = [];
    if (this.reviews.length > 0) topicMessages.push({ topic: this.topic, messages: this.reviews });
    if (this.deadLetters.length > 0) topicMessages.push(deadLetterTopicMessages(this.deadLetterTopic, this.deadLetters));
    const count = this.size;
    const batch = { reviews: this.reviews.length, deadLetters: this.deadLetters.length };
    const reviews = this.reviews;
    this.reviews = [];
    this.deadLetters = [];
    const doing = `publishing a batch of ${count} messages`;
    // One span per batch (tracing on), resends included; each review carries its context to the scorer.
    const send = (): Promise<{ retries: number }> =>
      withSpan('ingest.publish', () => {
        if (tracingEnabled()) for (const message of reviews) message.headers = injectTraceHeaders({ ...message.headers });
        return sendThroughOutage(() => this.producer.sendBatch({ topicMessages }), { policy: this.outage, doing, onRetry: (retry) => this.warnRetry(retry, count) });
      }, { 'messaging.destination.name': this.topic, 'driftline.records': count }, { kind: SpanKind.PRODUCER });
    this.inFlight = send().then(
      ({ retries }) => {
        this.acknowledged.reviews += batch.reviews;
        this.acknowledged.deadLetters += batch.deadLetters;
        if (retries > 0) this.log().info({ retries, records: count }, 'Kafka is back: the batch was acknowledged after resending');
        this.sendRetries += retries;
      },
      (err: unknown) => {
        this.failure = this.withPublished(kafkaError(err, doing), count);
      },
    );
  }

  private warnRetry(retry: OutageRetry, count: number): void {
    const { attempt, delayMs, elapsedMs, error } = retry;
    this.log().warn(
      { attempt, waitMs: delayMs, unacknowledgedMs: elapsedMs, outageBudgetMs: this.outage.budgetMs, records: count, err: error.message },
      `Kafka did not take a batch of ${count} messages (attempt ${attempt}); resending in ${delayMs} ms`,
    );
    this.onSendRetry?.(retry);
  }

  /** The failure, with what Kafka did acknowledge before it (records before the failed batch are all on the topic). */
  private withPublished(error: DriftlineError, count: number): DriftlineError {
    const { reviews, deadLetters } = this.acknowledged;
    const published = `; before this batch Kafka acknowledged ${reviews + deadLetters} records (${reviews} reviews, ${deadLetters} dead letters); the ${count} of this batch may or may not be on the topic, nothing read after it was sent`;
    return new DriftlineError(error.code, `${error.message}${published}`, {
      cause: error.cause,
      details: { ...error.details, acknowledged_reviews: reviews, acknowledged_dead_letters: deadLetters, unacknowledged_batch: count },
    });
  }

  /** Sends what is collected and waits until everything is acknowledged. */
  async drain(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  private async settle(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    this.inFlight = null;
    if (this.failure) throw this.failure;
  }
}

function sourceName(source: IngestSource): string {
  if (typeof source !== 'string') return source.name;
  return source === '-' ? 'stdin' : source;
}

function openSource(source: IngestSource): Readable {
  if (typeof source !== 'string') return source.stream;
  return source === '-' ? process.stdin : openDataFile(source);
}

export function detectFormat(source: IngestSource, explicit?: InputFormat): InputFormat {
  if (explicit) return explicit;
  const name = sourceName(source);
  return extname(isGzipName(name) ? name.slice(0, -3) : name).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

/** Fails before touching Kafka when the input file cannot be read (a typo should not create topics). */
async function assertReadable(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new DriftlineError('NOT_FOUND', `cannot read input ${path}: ${(err as Error).message}`, { cause: err, field: 'file' });
  }
}

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

/** Decides per record: publish it, or dead-letter it with the reason; keeps the summary counts. */
class RecordRouter {
  private readonly seen = new Map<string, number>(); // review_id → line of its first published occurrence

  constructor(
    private readonly batcher: Batcher,
    private readonly summary: IngestSummary,
    private readonly validation: ValidationOptions,
    private readonly maxRawBytes: number,
  ) {}

  route(record: InputRecord): void {
    this.summary.read++;
    if (record.error) return this.deadLetter(record, record.error);
    const result = validateReview(record.value, { ...this.validation, nowMs: Date.now() });
    if (!result.ok) return this.deadLetter(record, result.error);
    const { review } = result;
    const firstLine = this.seen.get(review.review_id);
    if (firstLine !== undefined) {
      return this.deadLetter(
        record,
        new DriftlineError('DUPLICATE_REVIEW', `review_id: ${review.review_id} was already published from line ${firstLine}`, {
          field: 'review_id',
          details: { review_id: review.review_id, first_line: firstLine },
        }),
      );
    }
    this.seen.set(review.review_id, record.line);
    this.batcher.addReview(review);
    this.summary.published++;
  }

  private deadLetter(record: InputRecord, error: DriftlineError): void {
    const location = { file: this.summary.source, line: record.line };
    this.batcher.addDeadLetter(buildDeadLetter({ stage: 'ingest', error, raw: record.raw, location, reviewId: reviewIdOf(record.value), maxRawBytes: this.maxRawBytes }));
    this.summary.deadLettered++;
    this.summary.byErrorCode[error.code] = (this.summary.byErrorCode[error.code] ?? 0) + 1;
  }
}

function refreshTiming(summary: IngestSummary, startedMs: number): IngestProgress {
  summary.elapsedMs = Math.round(performance.now() - startedMs);
  summary.recordsPerSec = summary.elapsedMs > 0 ? Math.round((summary.read * 1000) / summary.elapsedMs) : 0;
  const { read, published, deadLettered, elapsedMs, recordsPerSec } = summary;
  return { read, published, deadLettered, elapsedMs, recordsPerSec };
}

async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = createIngestProducer(kafka);
  try {
    await producer.connect();
    return producer;
  } catch (err) {
    throw kafkaError(err, 'connecting the ingest producer');
  }
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
    source: sourceName(source), format, topic, deadLetterTopic, read: 0, published: 0, deadLettered: 0, elapsedMs: 0, recordsPerSec: 0, byErrorCode: {}, blankLines: 0, interrupted: false, sendRetries: 0,
  };
  let log: Logger | undefined; // created on the first warning: a quiet run opens no extra stderr stream
  const batcher = new Batcher(producer, topic, deadLetterTopic, outagePolicy(config.outageTimeoutMs), () => (log ??= createLogger('ingest', settings.logLevel)), options.onSendRetry);
  const validation: ValidationOptions = { futureToleranceMs: config.futureToleranceMs, maxTextBytes: settings.maxTextBytes, ...options.validation };
  const router = new RecordRouter(batcher, summary, validation, config.maxRawBytes);
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
