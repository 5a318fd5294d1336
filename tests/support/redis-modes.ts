/**
 * The two Redis set-ups the drift aggregator runs on, for tests that must hold on both: the single Redis
 * (DRIFTLINE_REDIS_URL) and the local 3-master Redis Cluster that `scripts/services.sh up` starts
 * (redis-cluster-up; ports 7001-7003 unless DRIFTLINE_REDIS_CLUSTER_PORTS says otherwise).
 */
import { Cluster } from 'ioredis';
import { coreSettings } from '../../core/config.js';
import { createRedisClient, type RedisClient } from '../../core/redis.js';

const clusterPorts = (process.env.DRIFTLINE_REDIS_CLUSTER_PORTS ?? '7001 7002 7003').trim().split(/\s+/);
export const REDIS_CLUSTER_NODES = clusterPorts.map((port) => `127.0.0.1:${port}`).join(',');

export interface RedisMode {
  name: 'single' | 'cluster';
  /** What the aggregator (and its child processes) get in their environment for this mode. */
  env: Record<string, string>;
}

export const REDIS_MODES: readonly RedisMode[] = [
  { name: 'single', env: { DRIFTLINE_REDIS_CLUSTER_NODES: '' } },
  { name: 'cluster', env: { DRIFTLINE_REDIS_CLUSTER_NODES: REDIS_CLUSTER_NODES } },
];

/** A client of the mode's Redis (a Cluster client in cluster mode). */
export function redisFor(mode: RedisMode): RedisClient {
  return createRedisClient(coreSettings.load({ ...process.env, ...mode.env }));
}

/** KEYS on every master (on a cluster one node only knows its own slots). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  return (await Promise.all(nodes.map((node) => node.keys(pattern)))).flat();
}

/** Deletes every key matching the pattern (one DEL per key: on a cluster they lie in many slots). */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<void> {
  await Promise.all((await keysMatching(redis, pattern)).map((key) => redis.del(key)));
}
