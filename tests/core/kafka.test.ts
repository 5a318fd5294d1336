/**
 * isTransientKafkaError on the error shapes kafkajs really produces: its own error classes, protocol errors
 * from its code table (createErrorFromCode) and the wrappers its retrier puts around them (run through
 * kafkajs's real retrier). The behaviour against a live broker is in tests/ingest/outage.int.test.ts.
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { isTransientKafkaError, kafkaError } from '../../core/kafka.js';

const { KafkaJSConnectionError, KafkaJSRequestTimeoutError, KafkaJSNonRetriableError } = kafkajs;
/** Their run-time constructors, which kafkajs' type declarations leave out or get wrong. */
const { KafkaJSConnectionClosedError, KafkaJSBrokerNotFound } = kafkajs as unknown as {
  KafkaJSConnectionClosedError: new (message: string, where: { host: string; port: number }) => Error;
  KafkaJSBrokerNotFound: new (message: string) => Error;
};

// kafkajs internals (CommonJS, no types): the protocol error table and the retrier its clients use.
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { createErrorFromCode: (code: number) => Error };
type Retrier = <T>(fn: (bail: (err: Error) => void, retryCount: number) => Promise<T>) => Promise<T>;
const createRetry = require('kafkajs/src/retry') as (options: { retries: number; initialRetryTime?: number }) => Retrier;

const refused = (): Error => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092', code: 'ECONNREFUSED' });

/** What kafkajs's retrier rejects with once `failure` was thrown and its retries (none here) ran out. */
async function afterRetriesRunOut(failure: Error): Promise<unknown> {
  return createRetry({ retries: 0 })(async () => {
    throw failure;
  }).catch((err: unknown) => err);
}

const PROTOCOL = {
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  MESSAGE_TOO_LARGE: 10,
  NOT_COORDINATOR: 16,
  NOT_ENOUGH_REPLICAS: 19,
  TOPIC_AUTHORIZATION_FAILED: 29,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  UNKNOWN_PRODUCER_ID: 59,
} as const;

describe('isTransientKafkaError', () => {
  it('retries what a broker restart or a leader move causes', () => {
    expect(isTransientKafkaError(refused())).toBe(true);
    expect(isTransientKafkaError(new KafkaJSConnectionClosedError('Closed connection', { host: '127.0.0.1', port: 9092 }))).toBe(true);
    expect(isTransientKafkaError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'))).toBe(true);
    expect(isTransientKafkaError(new KafkaJSBrokerNotFound('Broker 1 not found in the cached metadata'))).toBe(true);
    for (const type of ['LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'REQUEST_TIMED_OUT', 'BROKER_NOT_AVAILABLE', 'NOT_COORDINATOR', 'NOT_ENOUGH_REPLICAS'] as const) {
      expect(isTransientKafkaError(createErrorFromCode(PROTOCOL[type])), type).toBe(true);
    }
  });

  it('does not retry what another try cannot fix', () => {
    for (const type of ['MESSAGE_TOO_LARGE', 'TOPIC_AUTHORIZATION_FAILED', 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID'] as const) {
      expect(isTransientKafkaError(createErrorFromCode(PROTOCOL[type])), type).toBe(false);
    }
    expect(isTransientKafkaError(new KafkaJSNonRetriableError('The producer is disconnecting; therefore, it can\'t safely accept messages anymore'))).toBe(false);
    expect(isTransientKafkaError(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isTransientKafkaError('ECONNREFUSED')).toBe(false);
    expect(isTransientKafkaError(new DriftlineError('AVRO_ENCODE_FAILED', 'rating does not fit'))).toBe(false);
  });

  it('looks through the wrappers kafkajs puts around the last error when it stops trying', async () => {
    const exceeded = await afterRetriesRunOut(refused());
    expect((exceeded as Error).name).toBe('KafkaJSNumberOfRetriesExceeded');
    expect(isTransientKafkaError(exceeded)).toBe(true);
    // A reconnect inside a retry that itself ran out of retries: kafkajs wraps it in a bare KafkaJSNonRetriableError.
    const wrapped = await afterRetriesRunOut(exceeded as Error);
    expect((wrapped as Error).name).toBe('KafkaJSNonRetriableError');
    expect(isTransientKafkaError(wrapped)).toBe(true);
    expect(isTransientKafkaError(await afterRetriesRunOut(createErrorFromCode(PROTOCOL.LEADER_NOT_AVAILABLE)))).toBe(true);
    // ...but a wrapped bug or a final protocol error stays final.
    expect(isTransientKafkaError(await afterRetriesRunOut(new TypeError('x is not a function')))).toBe(false);
    expect(isTransientKafkaError(await afterRetriesRunOut(createErrorFromCode(PROTOCOL.MESSAGE_TOO_LARGE)))).toBe(false);
  });

  it('decides a KAFKA_UNAVAILABLE by the kafkajs error inside it', () => {
    expect(isTransientKafkaError(kafkaError(refused(), 'publishing'))).toBe(true);
    expect(isTransientKafkaError(kafkaError(createErrorFromCode(PROTOCOL.MESSAGE_TOO_LARGE), 'publishing'))).toBe(false);
    expect(isTransientKafkaError(new DriftlineError('KAFKA_UNAVAILABLE', 'no broker answered'))).toBe(true);
  });
});
