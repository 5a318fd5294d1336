/**
 * Dead-letter records: an input that could not be processed, with its original bytes, where it came from
 * and the error code + reason. Building a record/message is kept apart from sending it, so the scorer can
 * put dead letters into its own Kafka transaction while ingest batches them with its review messages.
 */
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { codecFor } from './avro.js';
import { toDriftlineError, type DriftlineError } from './errors.js';
import { kafkaError } from './kafka.js';
import type { DeadLetter } from '../schemas/types.js';

export type DeadLetterStage = DeadLetter['stage'];

/** Where the bad input was read: a file line (ingest) or a Kafka message (scorer, aggregator). */
export type DeadLetterLocation = { file: string | null; line: number | null } | { topic: string; partition: number; offset: string | number | bigint };

/**
 * Raw bytes kept per dead letter. Kafka's default message limit is ~1 MB, and a 1 MB garbage line must
 * not turn one bad record into a failed batch; the reason says when the copy was cut.
 */
export const DEFAULT_MAX_RAW_BYTES = 64 * 1024;

export interface DeadLetterInput {
  stage: DeadLetterStage;
  error: DriftlineError | unknown;
  raw: Buffer | Uint8Array | string | null;
  location: DeadLetterLocation;
  reviewId?: string | null;
  timeMs?: number;
  maxRawBytes?: number;
}

function toBuffer(raw: DeadLetterInput['raw']): Buffer {
  if (raw === null) return Buffer.alloc(0);
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

function reviewIdFromError(error: DriftlineError): string | null {
  const id = error.details?.review_id;
  return typeof id === 'string' ? id : null;
}

/** One DeadLetter record (schemas/DeadLetter.avsc) from an error, the raw input and its location. */
export function buildDeadLetter(input: DeadLetterInput): DeadLetter {
  const error = toDriftlineError(input.error);
  const maxRawBytes = input.maxRawBytes ?? DEFAULT_MAX_RAW_BYTES;
  const fullRaw = toBuffer(input.raw);
  const truncated = fullRaw.length > maxRawBytes;
  const raw = truncated ? Buffer.from(fullRaw.subarray(0, maxRawBytes)) : fullRaw;
  const location = input.location;
  const fromKafka = 'topic' in location;
  return {
    stage: input.stage,
    error_code: error.code,
    reason: truncated ? `${error.message} (raw input cut to ${maxRawBytes} of ${fullRaw.length} bytes)` : error.message,
    field: error.field ?? null,
    raw,
    review_id: input.reviewId ?? reviewIdFromError(error),
    source_file: fromKafka ? null : location.file,
    source_line: fromKafka ? null : location.line,
    source_topic: fromKafka ? location.topic : null,
    source_partition: fromKafka ? location.partition : null,
    source_offset: fromKafka ? Number(location.offset) : null,
    time_ms: input.timeMs ?? Date.now(),
  };
}

/** The Kafka message of a dead letter: Avro single-object value, headers `error_code` and `stage`, keyed by review id when known. */
export function deadLetterMessage(record: DeadLetter): Message {
  return {
    key: record.review_id,
    value: codecFor('DeadLetter').encode(record),
    headers: { error_code: record.error_code, stage: record.stage, 'content-type': 'avro/binary', schema: 'DeadLetter' },
  };
}

export function deadLetterTopicMessages(topic: string, records: DeadLetter[]): TopicMessages {
  return { topic, messages: records.map(deadLetterMessage) };
}

/** Sends dead letters on an already connected producer (not transactional: the scorer uses the builders above). */
export class DeadLetterPublisher {
  private sent = 0;

  constructor(private readonly producer: Producer, readonly topic: string) {}

  async publish(records: DeadLetter[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.producer.send({ topic: this.topic, messages: records.map(deadLetterMessage) });
      this.sent += records.length;
    } catch (err) {
      throw kafkaError(err, `publishing ${records.length} dead letters to ${this.topic}`);
    }
  }

  get publishedCount(): number {
    return this.sent;
  }
}
