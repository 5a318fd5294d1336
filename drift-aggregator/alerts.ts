/**
 * Drift alerts: the item shape the closer hands to the alert episodes (alert-episodes.ts builds one
 * DriftAlert per state change) and the Redis outbox they are published from. Alerts are queued in the
 * outbox list in the same MULTI that marks the window done and published from there (at least once; the
 * dedupe_key is the same for every copy of one change, so a consumer drops repeats).
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';
import { RELEASE_LOCK_AND_TRIM_LUA } from '../core/redis.js';
import type { Producer } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { kafkaError } from '../core/kafka.js';
import type { DriftAlert, DriftStatus } from '../schemas/types.js';

export interface StatusedItem {
  segment: string;
  feature: string;
  metric: string;
  value: number;
  pValue: number | null;
  thresholdAmber: number;
  thresholdRed: number;
  status: DriftStatus;
}

const RANK: Record<DriftStatus, number> = { green: 0, amber: 1, red: 2 };

export function statusRank(status: DriftStatus): number {
  return RANK[status];
}

export function worstStatus(statuses: Iterable<DriftStatus>): DriftStatus {
  let worst: DriftStatus = 'green';
  for (const status of statuses) if (RANK[status] > RANK[worst]) worst = status;
  return worst;
}

/**
 * Removes the sent entries (ARGV[2..]) only while they are still the head of the list, and releases the
 * lock: a batch re-sent after a failure may meanwhile have been published and removed by another instance.
 */
const TRIM_SENT_IF_OWNER_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local sent = #ARGV - 1
local head = redis.call('LRANGE', KEYS[2], 0, sent - 1)
local same = #head == sent
for i = 1, sent do
  if not same then break end
  same = head[i] == ARGV[i + 1]
end
if same then redis.call('LTRIM', KEYS[2], sent, -1) end
redis.call('DEL', KEYS[1])
return same and 1 or 0
`;

/**
 * Publishes queued alerts (JSON in a Redis list) to the alerts topic; entries leave the list after the broker acked.
 *
 * A send that failed may still have been written (the answer was lost). The idempotent producer gave that
 * batch sequence numbers and took them back when it failed, so its next send to the same partition reuses
 * them: the broker takes it as the same batch (and drops the copy) only when it has the same records per
 * partition; a different batch (the list has grown meanwhile) gets OUT_OF_ORDER_SEQUENCE_NUMBER, for good.
 * So the failed batch is kept here and the next drain re-sends exactly it before reading the list again.
 */
export class AlertOutbox {
  private readonly owner = randomUUID();
  /** The entries of the last failed send, in order; re-sent as they are by the next drain. */
  private inDoubt: string[] | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly listKey: string,
    private readonly lockKey: string,
  ) {}

  /** Entries whose send failed and that the next drain re-sends first (0 when none). */
  get inDoubtCount(): number {
    return this.inDoubt?.length ?? 0;
  }

  async drain(producer: Producer, topic: string): Promise<number> {
    const codec = codecFor('DriftAlert');
    let sent = 0;
    for (;;) {
      if ((await this.redis.set(this.lockKey, this.owner, 'PX', 30_000, 'NX')) !== 'OK') return sent;
      const batch = this.inDoubt ?? (await this.redis.lrange(this.listKey, 0, 99));
      if (batch.length === 0) {
        await this.redis.eval(RELEASE_LOCK_AND_TRIM_LUA, 2, this.lockKey, this.listKey, this.owner, 0);
        return sent;
      }
      try {
        const alerts = batch.map((text) => JSON.parse(text) as DriftAlert);
        await producer.send({ topic, acks: -1, messages: alerts.map((alert) => ({ key: alert.model_name, value: codec.encode(alert) })) });
      } catch (err) {
        this.inDoubt = batch;
        await this.redis.eval(RELEASE_LOCK_AND_TRIM_LUA, 2, this.lockKey, this.listKey, this.owner, 0);
        throw kafkaError(err, 'publishing drift alerts');
      }
      this.inDoubt = undefined;
      await this.redis.eval(TRIM_SENT_IF_OWNER_LUA, 2, this.lockKey, this.listKey, this.owner, ...batch);
      sent += batch.length;
    }
  }
}
