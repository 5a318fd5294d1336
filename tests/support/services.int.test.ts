/**
 * The integration services as tests see them after the global setup (DRIFTLINE_TEST_SERVICES, default
 * local): the addresses are in process.env, in inject('driftlineServices') and in .run/test-services.json,
 * and they reach a real Kafka broker and Redis.
 */
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { createKafka } from '../../core/kafka.js';
import { testServicesEnv } from './env.js';
import { startTestServices, testServicesMode } from './services.js';

describe('integration services', () => {
  const provided = inject('driftlineServices');

  it('every test file sees the same addresses through env, inject and the hand-off file', () => {
    expect(Object.keys(provided)).toEqual(expect.arrayContaining(['DRIFTLINE_KAFKA_BROKERS', 'DRIFTLINE_REDIS_URL']));
    expect(testServicesEnv()).toEqual(provided);
    for (const [key, value] of Object.entries(provided)) {
      if (testServicesMode() === 'testcontainers') expect(process.env[key], key).toBe(value);
      else expect(process.env[key], key).toBeTruthy();
    }
  });

  it('the addresses reach a Kafka broker and Redis', async () => {
    const settings = coreSettings.load();
    const admin = createKafka(settings, 'services-test').admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers.length).toBeGreaterThan(0);
    } finally {
      await admin.disconnect();
    }
    const redis = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it.runIf(testServicesMode() === 'local')('local mode is idempotent: starting again reuses the running services', async () => {
    const again = await startTestServices();
    expect(again.mode).toBe('local');
    expect(again.env).toEqual(provided);
    await again.stop();
  });
});
