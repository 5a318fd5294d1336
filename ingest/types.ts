/** Ingest's own types: input formats and sources, one record as read, progress and summary of a run. */
import { Readable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import type { CoreSettings } from '../core/config.js';
import { DriftlineError, type ErrorCode } from '../core/errors.js';
import type { ValidationOptions } from '../core/validation.js';
import type { IngestSettings } from './config.js';
import type { OutageRetry } from './outage.js';

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
  /** Published reviews whose text or title carries U+FFFD: valid text an upstream decoder left behind, counted. */
  withReplacementChar: number;
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
