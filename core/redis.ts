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

/**
 * The Redis outboxes' release step (pending drift rows, pending alerts): when the caller still owns the
 * drain lock (KEYS[1] == ARGV[1]), drop the first ARGV[2] entries of the list KEYS[2] it has delivered and
 * release the lock, atomically, so a drainer whose lock expired never trims what another drainer read.
 */
export const RELEASE_LOCK_AND_TRIM_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;
