/**
 * One way to answer errors: everything thrown in a route becomes a DriftlineError, answered as
 * `{ code, message, ... }` with the code's HTTP status from core/errors.ts. Schema-validation
 * failures are turned into one entry per bad item and field, so a client can fix a batch in one go.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { DriftlineError, ERROR_CODES, isDriftlineError, type ErrorCode } from '../core/errors.js';

/** One problem of a request, pointing at the item (batch index) and field when there is one. */
export interface FieldProblem {
  item?: number;
  field: string;
  reason: string;
  code: ErrorCode;
}

const KEYWORD_CODES: Record<string, ErrorCode> = {
  required: 'FIELD_MISSING',
  type: 'FIELD_TYPE',
  minimum: 'FIELD_RANGE',
  maximum: 'FIELD_RANGE',
  exclusiveMinimum: 'FIELD_RANGE',
  exclusiveMaximum: 'FIELD_RANGE',
  enum: 'FIELD_RANGE',
  minLength: 'FIELD_RANGE',
  maxLength: 'FIELD_RANGE',
  minItems: 'FIELD_RANGE',
  maxItems: 'FIELD_RANGE',
};

/**
 * Maps one ajv error to an item/field problem. `itemsKey` is the array holding batch items
 * (`reviews`); paths under it name their index as `item`, the rest of the path as `field`.
 */
export function problemFromAjv(error: ErrorObject, itemsKey: string | undefined, prefix = ''): FieldProblem {
  const segments = error.instancePath.split('/').filter((part) => part.length > 0).map(unescapePointer);
  const params = error.params as Record<string, unknown>;
  // `required` and `additionalProperties` report the parent object; the field is in params.
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') segments.push(params.missingProperty);
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') segments.push(params.additionalProperty);
  let item: number | undefined;
  const [head, index] = segments;
  if (itemsKey !== undefined && head === itemsKey && index !== undefined && /^\d+$/.test(index)) {
    item = Number(index);
    segments.splice(0, 2);
  }
  const field = [prefix, ...segments].filter((part) => part.length > 0).join('.') || '(root)';
  const reason = error.keyword === 'required' ? 'is required' : (error.message ?? error.keyword);
  return { ...(item === undefined ? {} : { item }), field, reason, code: KEYWORD_CODES[error.keyword] ?? 'REQUEST_INVALID' };
}

function unescapePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Several ajv errors often say the same about one field (type + anyOf); keep one per item/field/reason. */
export function dedupeProblems(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.item ?? ''}|${problem.field}|${problem.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function requestInvalid(problems: FieldProblem[], what = 'request'): DriftlineError {
  const sorted = [...problems].sort((a, b) => (a.item ?? -1) - (b.item ?? -1));
  const first = sorted[0];
  const where = first ? `${first.item === undefined ? '' : `item ${first.item}, `}${first.field}: ${first.reason}` : 'invalid';
  const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more)` : '';
  return new DriftlineError('REQUEST_INVALID', `The ${what} is invalid: ${where}${more}`, { details: { errors: sorted } });
}

/** Fastify's own failures (body parsing, validation, routing) and anything else → DriftlineError. */
export function toApiError(err: unknown): DriftlineError {
  if (isDriftlineError(err)) return err;
  const fastifyError = err as Partial<FastifyError> & { validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    // Batch items live in `reviews` (predict) — other bodies have no item index.
    const itemsKey = fastifyError.validationContext === 'body' ? 'reviews' : undefined;
    const problems = (fastifyError.validation as ErrorObject[]).map((e) => problemFromAjv(e, itemsKey));
    return requestInvalid(dedupeProblems(problems), fastifyError.validationContext ?? 'request');
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DriftlineError('PAYLOAD_TOO_LARGE', 'The request body is over the configured byte limit (DRIFTLINE_API_BODY_LIMIT_BYTES).', { cause: err });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DriftlineError('RECORD_UNPARSEABLE', `The request body is not valid JSON: ${fastifyError.message ?? ''}`, { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DriftlineError('REQUEST_INVALID', 'Unsupported content type: send application/json.', { cause: err });
    default:
      break;
  }
  const status = fastifyError.statusCode;
  if (err instanceof SyntaxError && status === 400) {
    return new DriftlineError('RECORD_UNPARSEABLE', `The request body is not valid JSON: ${err.message}`, { cause: err });
  }
  if (status === 404) return new DriftlineError('NOT_FOUND', fastifyError.message ?? 'Not found', { cause: err });
  if (status !== undefined && status === 413) return new DriftlineError('PAYLOAD_TOO_LARGE', fastifyError.message ?? 'Payload too large', { cause: err });
  if (status !== undefined && status >= 400 && status < 500) {
    return new DriftlineError('REQUEST_INVALID', fastifyError.message ?? 'Bad request', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DriftlineError('INTERNAL', message, { cause: err });
}

/** The JSON body of an error answer: `{ code, message, retriable, request_id, field?, ...details }`. */
export function errorBody(error: DriftlineError, requestId: string): Record<string, unknown> {
  // An unexpected error's message may reveal internals; the logs keep it under the request id.
  const message = error.code === 'INTERNAL' ? `Internal error; see the logs for request ${requestId}.` : error.message;
  return {
    ...(error.details ?? {}),
    code: error.code,
    message,
    retriable: error.retriable,
    request_id: requestId,
    ...(error.field === undefined ? {} : { field: error.field }),
  };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const error = toApiError(err);
  const status = ERROR_CODES[error.code].http;
  // Bugs and broken artifacts are errors; retriable conditions (no model yet, Kafka down) are states,
  // reported by /ready and metrics, and would flood the log at request rate.
  if (status >= 500 && !error.retriable) request.log.error({ err, code: error.code, reqId: request.id }, 'request failed');
  else if (status >= 500 && request.routeOptions.url !== '/ready') {
    // The cause (e.g. a driver error) is kept out of the answer, so it must be in the log.
    request.log.warn({ code: error.code, reqId: request.id, message: error.message, ...(error.cause === undefined ? {} : { err: error.cause }) }, 'request refused');
  }
  else request.log.debug({ code: error.code, reqId: request.id, message: error.message }, 'request refused');
  if (error.code === 'SHUTTING_DOWN') reply.header('connection', 'close');
  if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="driftline-admin"');
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(error, request.id));
}
