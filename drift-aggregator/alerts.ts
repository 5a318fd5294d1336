/**
 * Drift alerts: one DriftAlert per closed window and segment whose items are not all green after
 * hysteresis (segment null = all traffic). Alerts are queued in a Redis outbox list in the same MULTI
 * that marks the window done and published from there (at least once; alert_id is deterministic per
 * window and segment, so a consumer can drop repeats).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RELEASE_LOCK_AND_TRIM_LUA } from '../core/redis.js';
import type { Producer } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import { kafkaError } from '../core/kafka.js';
import type { DriftAlert, DriftAlertItem, DriftStatus } from '../schemas/types.js';
import type { WindowRef } from './windows.js';

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

export function alertId(ref: WindowRef, segment: string): string {
  return createHash('sha256').update(`${ref.modelName}|${ref.modelVersion}|${ref.start}|${segment}`).digest('hex').slice(0, 32);
}

export function buildAlerts(ref: WindowRef, windowMs: number, items: readonly StatusedItem[], nowMs: number): DriftAlert[] {
  const bySegment = new Map<string, DriftAlertItem[]>();
  for (const item of items) {
    if (item.status === 'green') continue;
    const list = bySegment.get(item.segment) ?? [];
    list.push({
      feature: item.feature,
      metric: item.metric,
      value: Number.isFinite(item.value) ? item.value : Number.MAX_VALUE,
      p_value: item.pValue,
      threshold_amber: item.thresholdAmber,
      threshold_red: item.thresholdRed,
      status: item.status,
    });
    bySegment.set(item.segment, list);
  }
  const alerts: DriftAlert[] = [];
  for (const [segment, alertItems] of bySegment) {
    alerts.push({
      alert_id: alertId(ref, segment),
      model_name: ref.modelName,
      model_version: ref.modelVersion,
      window_start_ms: ref.start,
      window_end_ms: ref.start + windowMs,
      segment: segment === ALL_SEGMENTS ? null : segment,
      status: worstStatus(alertItems.map((i) => i.status)) as Exclude<DriftStatus, 'green'>,
      items: alertItems,
      time_ms: nowMs,
    });
  }
  return alerts;
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
    private readonly redis: Redis,
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
