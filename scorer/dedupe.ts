/**
 * End-to-end dedupe on the scorer's side: review_ids scored (committed) within DRIFTLINE_DEDUPE_HORIZON_S
 * are not scored again. One Redis key per id, `<prefix>:scorer:<group>:seen:<review_id>`, PX = horizon, set
 * only AFTER the Kafka transaction that published the scored event committed. A crash between the commit
 * and the marking lets a later copy through once; the aggregator's atomic check (drift-aggregator/redis-
 * state.ts) is the final guard, so a window still counts the id once. Redis unavailable: nothing is
 * filtered here (logged), for the same reason.
 */
import type { Redis } from 'ioredis';

/** Marks every key of KEYS as seen for ARGV[1] ms: one command for a whole batch instead of one SET per id. */
export const MARK_SEEN_LUA = `
for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[1]) end
return #KEYS
`;
/** Ids marked per script call (bounds one call's time on the Redis thread). */
const MARK_CHUNK = 1_000;

/** The command defineCommand adds (ioredis types do not know it). */
interface MarkingCommands {
  driftlineMarkSeen(...args: Array<string | number>): Promise<number>;
}
import type { Logger } from '../core/logger.js';

export class ScoredIds {
  private readonly marking: MarkingCommands;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly horizonMs: number,
    private readonly log: Logger,
  ) {
    // The scorer's Redis is a single node (core/redis.ts createRedis), so a script may name any keys.
    if (!('driftlineMarkSeen' in redis)) redis.defineCommand('driftlineMarkSeen', { lua: MARK_SEEN_LUA });
    this.marking = redis as unknown as MarkingCommands;
  }

  private key(id: string): string {
    return `${this.keyPrefix}seen:${id}`;
  }

  /** The ids scored before inside the horizon (empty when Redis cannot answer). */
  async scoredBefore(ids: readonly string[]): Promise<ReadonlySet<string>> {
    if (ids.length === 0) return new Set();
    try {
      const values = await this.redis.mget(ids.map((id) => this.key(id)));
      return new Set(ids.filter((_, index) => values[index] !== null));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dedupe lookup failed; scoring without it (the aggregator still counts each id once)');
      return new Set();
    }
  }

  /**
   * Before the first batch (scorer/warmup.ts): loads the marking script into Redis, so the first marking is
   * one EVALSHA instead of a NOSCRIPT round trip and an EVAL, and opens the connection. Marks nothing.
   */
  async warmUp(): Promise<void> {
    try {
      await this.redis.script('LOAD', MARK_SEEN_LUA);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dedupe warm-up failed; the first batch loads the script');
    }
  }

  /** Remembers ids whose scored events were committed. */
  async remember(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      const calls: Array<Promise<number>> = [];
      for (let start = 0; start < ids.length; start += MARK_CHUNK) {
        const keys = ids.slice(start, start + MARK_CHUNK).map((id) => this.key(id));
        calls.push(this.marking.driftlineMarkSeen(keys.length, ...keys, this.horizonMs));
      }
      await Promise.all(calls);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, ids: ids.length }, 'dedupe marking failed; a resent copy may be scored again (the aggregator still counts each id once)');
    }
  }
}
