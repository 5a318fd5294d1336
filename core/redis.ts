/** Redis wiring (ioredis). */
import { Redis } from 'ioredis';
import { coreSettings, type CoreSettings } from './config.js';

export function createRedis(settings: CoreSettings = coreSettings.load()): Redis {
  return new Redis(settings.redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}

export function redisKey(settings: CoreSettings, ...parts: Array<string | number>): string {
  return [settings.redisPrefix, ...parts].join(':');
}
