/** Log routing helpers: kafkajs entries' levels and the human rendering of a JSON log line. */
import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { pinoLevelOf } from '../../core/kafka.js';
import { humanLogLine } from '../../core/logger.js';

const entry = (level: number, message: string, extra: Record<string, unknown> = {}) => ({ level, log: { message, timestamp: 'now', logger: 'kafkajs', ...extra } });

describe('pinoLevelOf (kafkajs → our logger)', () => {
  it('logs broker errors kafkajs retries by itself at debug, not as errors', () => {
    expect(pinoLevelOf(entry(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available' }))).toBe('debug');
    expect(pinoLevelOf(entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'This server is not the leader for that topic-partition' }))).toBe('debug');
    expect(pinoLevelOf(entry(logLevel.ERROR, 'Failed to connect to broker, reconnecting', { retryCount: 1, retryTime: 300 }))).toBe('debug');
  });

  it('keeps final errors and warnings at their level', () => {
    expect(pinoLevelOf(entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', { error: 'The request included a message larger than the max message size the server will accept' }))).toBe('error');
    expect(pinoLevelOf(entry(logLevel.ERROR, 'Crash: KafkaJSNonRetriableError: boom'))).toBe('error');
    expect(pinoLevelOf(entry(logLevel.WARN, 'Consumer group received unsubscribed topics'))).toBe('warn');
    expect(pinoLevelOf(entry(logLevel.INFO, 'Consumer has joined the group'))).toBe('debug');
  });
});

describe('humanLogLine', () => {
  it('renders level, component, message, error and extra fields on one line', () => {
    const line = JSON.stringify({ level: 40, time: 1, pid: 7, hostname: 'h', name: 'driftline.kafka.ingest', component: 'kafka.ingest', msg: 'leader moved', topic: 't', err: { message: 'boom', code: 'KAFKA_UNAVAILABLE' } });
    expect(humanLogLine(line)).toBe('driftline warning [kafka.ingest] leader moved: KAFKA_UNAVAILABLE boom (topic=t)');
  });

  it('passes through a line that is not JSON', () => {
    expect(humanLogLine('plain text')).toBe('plain text');
  });
});
