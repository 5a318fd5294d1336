/**
 * End-to-end dedupe on the scorer's side: review_ids scored (committed) within DRIFTLINE_DEDUPE_HORIZON_S
 * are not scored again. One Redis key per id, `<prefix>:scorer:<group>:seen:<review_id>`, PX = horizon, set
 * only AFTER the Kafka transaction that published the scored event committed. A crash between the commit
 * and the marking lets a later copy through once; the aggregator's atomic check (drift-aggregator/redis-
 * state.ts) is the final guard, so a window still counts the id once. Redis unavailable: nothing is
 * filtered here (logged), for the same reason.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../core/logger.js';

export class ScoredIds {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly horizonMs: number,
    private readonly log: Logger,
  ) {}

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

  /** Remembers ids whose scored events were committed. */
  async remember(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.set(this.key(id), '1', 'PX', this.horizonMs);
    try {
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([err]) => err !== null);
      if (failed) throw failed[0]!;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, ids: ids.length }, 'dedupe marking failed; a resent copy may be scored again (the aggregator still counts each id once)');
    }
  }
}
