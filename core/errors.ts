/**
 * Driftline's one error module. Every failure that crosses a component boundary is a DriftlineError
 * with a stable code from the closed list below. Dead-letter records, API error answers and logs all
 * carry that code, and the error table in docs/errors.md is checked against this list by a test.
 *
 * `retriable` is a property of the code, never of the call site: retry loops ask `isRetriable(err)`,
 * which is false for anything that is not a DriftlineError (a TypeError is a bug, not a blip).
 */

export interface ErrorCodeSpec {
  /** HTTP status the API answers with. */
  readonly http: number;
  /** True when the same operation may succeed if tried again later (infrastructure blips). */
  readonly retriable: boolean;
  /** One line for the error table in docs/errors.md. */
  readonly description: string;
}

export const ERROR_CODES = {
  // --- bad input (records, requests, files) ---
  RECORD_UNPARSEABLE: { http: 400, retriable: false, description: 'A JSONL/CSV line or request body could not be parsed at all.' },
  FIELD_MISSING: { http: 400, retriable: false, description: 'A required field (review_id, rating, text) is absent or null.' },
  FIELD_TYPE: { http: 400, retriable: false, description: 'A field has the wrong type (e.g. rating is a string).' },
  FIELD_RANGE: { http: 400, retriable: false, description: 'A field is outside its allowed range (rating not an integer 1-5, negative helpful votes, an id, category, title or source over its length bound).' },
  TEXT_EMPTY: { http: 400, retriable: false, description: 'The review text is empty or only white space.' },
  TEXT_TOO_LONG: { http: 400, retriable: false, description: 'The review text is over the configured byte limit.' },
  TEXT_ENCODING: { http: 400, retriable: false, description: 'The text or title held bytes that are not UTF-8, or a lone surrogate (U+FFFD itself is valid: counted, not refused).' },
  TIMESTAMP_INVALID: { http: 400, retriable: false, description: 'A time field is unparseable, not finite, before 1995-01-01 or further in the future than allowed.' },
  DUPLICATE_REVIEW: { http: 409, retriable: false, description: 'A review id was already seen in the same input (file, batch).' },
  BATCH_TOO_LARGE: { http: 413, retriable: false, description: 'A batch has more items than the configured maximum.' },
  PAYLOAD_TOO_LARGE: { http: 413, retriable: false, description: 'A request body is over the configured byte limit.' },
  REQUEST_INVALID: { http: 400, retriable: false, description: 'A request failed JSON-schema validation (the answer names each item and field).' },
  DATA_LOCATION_REFUSED: { http: 403, retriable: false, description: 'A dataset location lies outside the configured data roots (DRIFTLINE_DATA_ROOTS): a `..` segment, an absolute path elsewhere, a symbolic link that leads out, or a URI under no s3:// root.' },
  DATA_LOCATION_NOT_FOUND: { http: 404, retriable: false, description: 'A dataset location inside the data roots names no readable file or object.' },
  // --- wire format ---
  AVRO_BAD_HEADER: { http: 400, retriable: false, description: 'Bytes do not start with the Avro single-object marker 0xC3 0x01, or are too short.' },
  AVRO_UNKNOWN_SCHEMA: { http: 400, retriable: false, description: 'The message names a schema fingerprint this reader does not know.' },
  AVRO_DECODE_FAILED: { http: 400, retriable: false, description: 'The Avro body is truncated or corrupt for its schema.' },
  AVRO_ENCODE_FAILED: { http: 500, retriable: false, description: 'A value does not fit its Avro schema (programming error upstream).' },
  // --- models ---
  MODEL_NOT_FOUND: { http: 404, retriable: false, description: 'No such model name or version in the registry, or no production version yet.' },
  MODEL_LOAD_FAILED: { http: 500, retriable: false, description: 'A model artifact is missing, corrupt or of an unknown format; the old model keeps serving.' },
  MODEL_CHECK_FAILED: { http: 500, retriable: false, description: 'A loaded model failed its smoke batch (wrong shapes, NaN scores); it is refused.' },
  MODEL_SCORING_FAILED: { http: 500, retriable: false, description: 'The model threw while scoring one record.' },
  MODEL_NOT_READY: { http: 503, retriable: true, description: 'No model is loaded yet.' },
  PROMOTION_REFUSED: { http: 409, retriable: false, description: 'A promotion broke a stage rule (worse macro-F1 than production without --force, nothing to roll back to), or the version does not load or fails its model check (even with --force), or the shadow gate found its live macro-F1 not better than production by the margin on enough reviews.' },
  REGISTRY_CONFLICT: { http: 409, retriable: true, description: 'Another writer holds the registry lock; try again.' },
  TRAINING_FAILED: { http: 500, retriable: false, description: 'A training job failed (bad data, too few rows).' },
  SKETCH_FORMAT: { http: 500, retriable: false, description: 'Stored sketch state (serialized text or Redis hash) has an unknown format version or kind, or does not fit its bins.' },
  // --- API ---
  UNAUTHORIZED: { http: 401, retriable: false, description: 'An admin route was called without the configured bearer token.' },
  NOT_FOUND: { http: 404, retriable: false, description: 'No such route, job or resource.' },
  ADMIN_DISABLED: { http: 404, retriable: false, description: 'Admin routes are off because no admin token is configured.' },
  RATE_LIMITED: { http: 429, retriable: true, description: 'A client sent more requests to a route than its per-client limit allows, or the comparison queue is full; retry after Retry-After seconds.' },
  // --- infrastructure ---
  CONFIG_INVALID: { http: 500, retriable: false, description: 'An environment variable has a value that cannot be used.' },
  KAFKA_UNAVAILABLE: { http: 503, retriable: true, description: 'The Kafka broker cannot be reached or refused the request.' },
  REDIS_UNAVAILABLE: { http: 503, retriable: true, description: 'Redis cannot be reached.' },
  CLICKHOUSE_UNAVAILABLE: { http: 503, retriable: true, description: 'ClickHouse cannot be reached; results are kept and retried.' },
  ARTIFACT_STORE_UNAVAILABLE: { http: 503, retriable: true, description: 'The S3-compatible artifact store cannot be reached or answered 5xx/throttling; retried with back-off.' },
  ARTIFACT_STORE_FAILED: { http: 500, retriable: false, description: 'The artifact store refused a request (no such bucket, access denied) or a key is not a safe relative path.' },
  STATE_LOST: { http: 500, retriable: false, description: 'Aggregator state in Redis disappeared (restart without persistence); the affected windows are marked, not guessed.' },
  WEBHOOK_UNAVAILABLE: { http: 503, retriable: true, description: 'An alert webhook did not answer, timed out, or answered 429 or 5xx; retried with back-off, dead-lettered after the configured attempts.' },
  WEBHOOK_REFUSED: { http: 502, retriable: false, description: 'An alert webhook answered a 4xx other than 429 (bad URL, revoked token, bad body): never retried, the alert is dead-lettered at once.' },
  SHUTTING_DOWN: { http: 503, retriable: true, description: 'The process is draining for shutdown.' },
  INTERNAL: { http: 500, retriable: false, description: 'An unexpected error (a bug); see the logs.' },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export interface DriftlineErrorOptions {
  cause?: unknown;
  /** The input field at fault, when there is one (e.g. `rating`, `items[3].text`). */
  field?: string;
  /** Extra machine-readable details for logs and API answers. */
  details?: Record<string, unknown>;
}

export class DriftlineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DriftlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DriftlineError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.field = options.field;
    this.details = options.details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): { code: ErrorCode; message: string; field?: string; retriable: boolean; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isDriftlineError(err: unknown): err is DriftlineError {
  return err instanceof DriftlineError;
}

/** Retry only what is known to be transient; programming errors are never retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof DriftlineError && err.retriable;
}

/** Wraps anything thrown into a DriftlineError, keeping a DriftlineError as it is. */
export function toDriftlineError(err: unknown, fallback: ErrorCode = 'INTERNAL'): DriftlineError {
  if (err instanceof DriftlineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DriftlineError(fallback, message, { cause: err });
}
