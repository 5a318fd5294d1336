/** The scorer's dedupe warm-up (scorer/dedupe.ts) against the local Redis: the marking script is loaded and nothing is marked. */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createRedis } from '../../core/redis.js';
import { MARK_SEEN_LUA, ScoredIds } from '../../scorer/dedupe.js';

const redis = createRedis(coreSettings.load());
const prefix = `test-dedupe-${randomUUID()}:`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('ScoredIds.warmUp', () => {
  it('loads the marking script into Redis and marks nothing; marking and lookup work after it', async () => {
    const ids = new ScoredIds(redis, prefix, 60_000, createLogger('test-dedupe', 'silent'));
    await ids.warmUp();
    const sha = createHash('sha1').update(MARK_SEEN_LUA).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await ids.remember(['a', 'b']);
    expect([...(await ids.scoredBefore(['a', 'b', 'c']))].sort()).toEqual(['a', 'b']);
  });
});
