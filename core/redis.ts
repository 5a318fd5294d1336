/** Redis wiring (ioredis): one Redis, or a Redis Cluster for the components that support it (the drift aggregator). */
import { Cluster, Redis } from 'ioredis';
import { coreSettings, type CoreSettings } from './config.js';
import { DriftlineError } from './errors.js';

/** What the cluster-ready components take: both answer the same commands (multi-key ones only within one slot on a cluster). */
export type RedisClient = Redis | Cluster;

const retryStrategy = (times: number): number => Math.min(times * 200, 2_000);

/** The single Redis at DRIFTLINE_REDIS_URL. */
export function createRedis(settings: CoreSettings = coreSettings.load()): Redis {
  return new Redis(settings.redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    retryStrategy,
  });
}

/** `host:port` of a cluster seed node. */
export function parseClusterNode(node: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(node.trim());
  if (!match) throw new DriftlineError('CONFIG_INVALID', `DRIFTLINE_REDIS_CLUSTER_NODES: '${node}' is not host:port`);
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * The Redis Cluster named by DRIFTLINE_REDIS_CLUSTER_NODES when it is set, else the single Redis. A cluster
 * client follows MOVED/ASK redirections and slot migrations itself; a multi-key command, MULTI or script
 * must keep its keys in one hash slot (the aggregator's key layout does: drift-aggregator/redis-state.ts).
 */
export function createRedisClient(settings: CoreSettings = coreSettings.load()): RedisClient {
  if (settings.redisClusterNodes.length === 0) return createRedis(settings);
  return new Cluster(settings.redisClusterNodes.map(parseClusterNode), {
    enableOfflineQueue: true,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { maxRetriesPerRequest: 3 },
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
