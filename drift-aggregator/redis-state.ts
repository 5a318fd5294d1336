/**
 * The aggregator's state in Redis and the one atomic write path into it.
 *
 * Exactly-once counting: a Kafka batch (one partition) is applied by ONE Lua script call that
 * compares the stored applied offset of that topic/partition with the offset the batch was
 * aggregated after (compare-and-set), applies every HINCRBY/HINCRBYFLOAT of the pre-aggregated
 * batch and stores the new offset — all or nothing. Redis offsets are the truth; Kafka commits only
 * save re-reading. A batch whose last offset is not beyond the stored one is skipped (a replay).
 *
 * Keys (all under `<prefix>:agg:`; the script derives window keys from ARGV, so this is for a single
 * Redis / one hash slot, not Redis Cluster):
 *   offsets                 hash  "<topic>:<partition>" -> last applied offset
 *   partition-max           hash  "<topic>:<partition>" -> max window time applied from it
 *   partitions              hash  "<topic>" -> partitions of the topic (every one holds the watermark back
 *                                 until it applied something: windows.ts streamProgress)
 *   clock                   hash  max_time (max window time applied), state_lost_until
 *   open                    zset  window id -> window start (windows with data, not closed yet)
 *   touched                 zset  window id -> wall ms of the last batch that added to it
 *   w:<id>:<segment>|<value> hash one sketch of the window × segment × monitored value (increments.ts)
 *   hashes:<id>             set   the `<segment>|<value>` names present in the window
 *   closed:<id>             '1'   set when a closer starts: later events for the window are late
 *   hyst:<model>:<version>  hash  hysteresis state per segment|feature|metric (EX = state TTL, renewed per close)
 *   rollback:<model>:<ver>  hash  consecutive red windows for auto-rollback (+ ':fired'; EX = max(state TTL, max age))
 *   done:<id>               '1'   rows of the window are queued for ClickHouse
 *   late:<id>               int   late events of a window (EX = state TTL once the closer saw it)
 *   late-dirty              set   closed windows whose late count changed since it was written
 *   rewind                  hash  "<topic>:<partition>" -> offset the replay must reach again after Redis
 *                                 came back older than what was applied (cleared by the apply that reaches it)
 *   rewound                 set   windows that got replayed events since (logged when they close)
 *   seen:<review_id>        '1'   the id was counted (PX = DRIFTLINE_DEDUPE_HORIZON_S): end-to-end dedupe
 *   dead-letters            list  Avro DeadLetter records queued by the apply, published by housekeeping
 *   open-large              zset  larger-size window id (windows.ts largeWindowId) -> start: a counted window
 *                                 inside it closed, the larger one is not closed yet (larger-windows.ts)
 *   touched-large           zset  larger-size window id -> latest wall ms any of its counted windows was touched
 */
import type { Redis } from 'ioredis';
import { DriftlineError } from '../core/errors.js';
import type { SketchIncrements } from '../core/sketch/index.js';
import { LUA_APPLY_OPS_FUNCTION, packIncrements } from '../core/sketch/redis-increments.js';
import type { BatchIncrements } from './increments.js';
import { streamProgress } from './windows.js';

const APPLY_BATCH_LUA = `${LUA_APPLY_OPS_FUNCTION}
local offsets, clock, open, touched, lateDirty, partitionMax = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local rewind, rewound, deadLetters, partitions = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local offsetField, expectedPrev, lastOffset = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local prefix, nowMs, batchMaxTime = ARGV[4], ARGV[5], tonumber(ARGV[6])
local latenessMs, windowMs, windowCount = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local horizonMs = ARGV[10]
local idCount = tonumber(ARGV[11])
local idStart = 12
local deadLetterCount = tonumber(ARGV[idStart + idCount])
local deadLetterStart = idStart + idCount + 1
local stored = tonumber(redis.call('HGET', offsets, offsetField) or '-1')
if stored >= lastOffset then return {0, stored, 0} end
if stored ~= expectedPrev then return {-1, stored, 0} end
-- Final guard of the end-to-end dedupe: an id counted since the batch was aggregated (another partition or
-- instance) refuses the batch; the caller aggregates it again without that id.
for k = idStart, idStart + idCount - 1 do
  if redis.call('EXISTS', prefix .. 'seen:' .. ARGV[k]) == 1 then return {-1, stored, 0} end
end
-- Replaying what an older Redis lost: the windows this batch touches are marked (see closer.ts).
local rewindTarget = redis.call('HGET', rewind, offsetField)
-- Event time progresses per partition: the stream is complete up to the minimum of the partitions'
-- maxima, over every partition of the topic (partitions hash; same rule as windows.ts streamProgress).
-- A partition that applied nothing yet (this one included) has no progress: nothing is late by watermark.
local maxTime = -1e300
local applied = redis.call('HGETALL', partitionMax)
if #applied > 0 then
  local present = {}
  maxTime = 1e300
  for j = 1, #applied, 2 do
    present[applied[j]] = true
    local v = tonumber(applied[j + 1])
    if v < maxTime then maxTime = v end
  end
  if not present[offsetField] then maxTime = -1e300 end
  local counts = redis.call('HGETALL', partitions)
  for j = 1, #counts, 2 do
    for p = 0, tonumber(counts[j + 1]) - 1 do
      if not present[counts[j] .. ':' .. p] then maxTime = -1e300 end
    end
  end
end
local ownMax = redis.call('HGET', partitionMax, offsetField)
local lateEvents = 0
local i = deadLetterStart + deadLetterCount
for w = 1, windowCount do
  local id, start, events, hashCount = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  i = i + 4
  if rewindTarget then redis.call('SADD', rewound, id) end
  local isLate = redis.call('EXISTS', prefix .. 'closed:' .. id) == 1 or start + windowMs + latenessMs <= maxTime
  if isLate then
    lateEvents = lateEvents + events
    -- One key per window (not a hash of every window ever): the closer gives it the window's state TTL.
    redis.call('INCRBY', prefix .. 'late:' .. id, events)
    redis.call('SADD', lateDirty, id)
  else
    redis.call('ZADD', open, start, id)
    redis.call('ZADD', touched, nowMs, id)
  end
  for h = 1, hashCount do
    local name, opCount = ARGV[i], tonumber(ARGV[i + 1])
    i = i + 2
    if not isLate then
      local key = prefix .. 'w:' .. id .. ':' .. name
      redis.call('SADD', prefix .. 'hashes:' .. id, name)
      apply_ops(key, i, opCount)
    end
    i = i + 3 * opCount
  end
end
if batchMaxTime > tonumber(ownMax or '-1e300') then redis.call('HSET', partitionMax, offsetField, ARGV[6]) end
if batchMaxTime > tonumber(redis.call('HGET', clock, 'max_time') or '-1e300') then redis.call('HSET', clock, 'max_time', ARGV[6]) end
for k = idStart, idStart + idCount - 1 do redis.call('SET', prefix .. 'seen:' .. ARGV[k], '1', 'PX', horizonMs) end
for k = deadLetterStart, deadLetterStart + deadLetterCount - 1 do redis.call('RPUSH', deadLetters, ARGV[k]) end
redis.call('HSET', offsets, offsetField, ARGV[3])
if rewindTarget and lastOffset >= tonumber(rewindTarget) then redis.call('HDEL', rewind, offsetField) end
return {1, lastOffset, lateEvents}
`;

/** HSET field to the value unless the stored one is larger. */
export const SET_MAX_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1e300')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`;

export type ApplyOutcome =
  | { status: 'applied'; lateEvents: number }
  /** The batch (or a later one) was applied before: nothing changed. */
  | { status: 'skipped'; storedOffset: number }
  /** Another writer moved the offset since this batch was aggregated: re-read and retry. */
  | { status: 'conflict'; storedOffset: number };

export interface ApplyBatchInput {
  topic: string;
  partition: number;
  /** Stored offset the batch was aggregated after (-1: none), i.e. the batch starts at expectedPrev + 1. */
  expectedPrevOffset: number;
  lastOffset: number;
  /** What the batch adds (BatchAggregate.increments()). */
  increments: BatchIncrements;
  nowWallMs: number;
  allowedLatenessMs: number;
  windowMs: number;
  /** review_ids of the aggregated events: refused if one was counted already, remembered for horizonMs. */
  dedupe?: { reviewIds: readonly string[]; horizonMs: number };
  /** Avro-encoded DeadLetter records of the batch, queued for publishing in the same atomic apply. */
  deadLetters?: readonly Buffer[];
}

/** Raw hashes of one window: `<segment>|<value>` name -> HGETALL answer. */
export type WindowHashes = Map<string, Record<string, string>>;

function pushIncrements(args: Array<string | number | Buffer>, name: string, increments: SketchIncrements): void {
  // Counts and sums go packed (one triple per kind, see packIncrements); min/max as shortest round-trip
  // decimal strings: they are stored as passed and read back as the same doubles.
  const triples = packIncrements(increments);
  args.push(name, triples.length / 3);
  for (const item of triples) args.push(item);
}

export class AggregatorState {
  private sha: string | undefined;
  readonly base: string;

  constructor(readonly redis: Redis, prefix: string) {
    this.base = `${prefix}:agg:`;
  }

  key(...parts: Array<string | number>): string {
    return this.base + parts.join(':');
  }

  /** Loads the apply script once; EVALSHA afterwards (reloaded if Redis restarted and forgot it). */
  async loadScript(): Promise<void> {
    this.sha = (await this.redis.script('LOAD', APPLY_BATCH_LUA)) as string;
  }

  async applyBatch(input: ApplyBatchInput): Promise<ApplyOutcome> {
    const keys = [this.key('offsets'), this.key('clock'), this.key('open'), this.key('touched'), this.key('late-dirty'), this.key('partition-max'), this.key('rewind'), this.key('rewound'), this.key('dead-letters'), this.key('partitions')];
    const reviewIds = input.dedupe?.reviewIds ?? [];
    const deadLetters = input.deadLetters ?? [];
    const args: Array<string | number | Buffer> = [
      `${input.topic}:${input.partition}`,
      input.expectedPrevOffset,
      input.lastOffset,
      this.base,
      input.nowWallMs,
      Number.isFinite(input.increments.maxWindowTime) ? input.increments.maxWindowTime : -1e300,
      input.allowedLatenessMs,
      input.windowMs,
      input.increments.windows.length,
      input.dedupe?.horizonMs ?? 0,
      reviewIds.length,
      ...reviewIds,
      deadLetters.length,
      ...deadLetters,
    ];
    for (const window of input.increments.windows) {
      args.push(window.id, window.start, window.events, window.hashes.length);
      for (const [name, increments] of window.hashes) pushIncrements(args, name, increments);
    }
    const reply = await this.evalApply(keys, args);
    const [code, stored, late] = reply;
    if (code === 1) return { status: 'applied', lateEvents: late! };
    if (code === 0) return { status: 'skipped', storedOffset: stored! };
    return { status: 'conflict', storedOffset: stored! };
  }

  private async evalApply(keys: string[], args: Array<string | number | Buffer>): Promise<number[]> {
    if (!this.sha) await this.loadScript();
    // One array argument, not spread: a batch of fine histograms passes hundreds of thousands of
    // arguments, past the JavaScript engine's limit for a spread call ("Maximum call stack size exceeded").
    const head: Array<string | number | Buffer> = [keys.length, ...keys];
    const flat = head.concat(args);
    try {
      return (await this.redis.call('EVALSHA', [this.sha!, ...flat])) as number[];
    } catch (err) {
      if (err instanceof Error && err.message.includes('NOSCRIPT')) {
        await this.loadScript();
        return (await this.redis.call('EVALSHA', [this.sha!, ...flat])) as number[];
      }
      throw new DriftlineError('REDIS_UNAVAILABLE', `applying a batch to Redis failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Last applied offset of a topic/partition, or null when Redis has none. */
  async appliedOffset(topic: string, partition: number): Promise<number | null> {
    const value = await this.redis.hget(this.key('offsets'), `${topic}:${partition}`);
    return value === null ? null : Number(value);
  }

  /**
   * The stream's progress: the minimum over every partition of the max window time applied (null before
   * every registered partition applied something: windows.ts streamProgress).
   */
  async progressTime(): Promise<number | null> {
    const [partitionMax, counts] = await Promise.all([this.redis.hgetall(this.key('partition-max')), this.redis.hgetall(this.key('partitions'))]);
    return streamProgress(partitionMax, counts);
  }

  /** Records how many partitions a topic has (set-max: Kafka partitions only grow); each holds the watermark back until it applied something. */
  async registerPartitions(topic: string, count: number): Promise<void> {
    await this.redis.eval(SET_MAX_LUA, 1, this.key('partitions'), topic, count);
  }

  /** Open windows with their start and last wall-clock touch. */
  async openWindows(): Promise<Array<{ id: string; start: number; lastTouchedWallMs: number }>> {
    const [starts, touches] = await Promise.all([
      this.redis.zrange(this.key('open'), 0, -1, 'WITHSCORES'),
      this.redis.zrange(this.key('touched'), 0, -1, 'WITHSCORES'),
    ]);
    const touchedAt = new Map<string, number>();
    for (let i = 0; i < touches.length; i += 2) touchedAt.set(touches[i]!, Number(touches[i + 1]));
    const out: Array<{ id: string; start: number; lastTouchedWallMs: number }> = [];
    for (let i = 0; i < starts.length; i += 2) out.push({ id: starts[i]!, start: Number(starts[i + 1]), lastTouchedWallMs: touchedAt.get(starts[i]!) ?? 0 });
    return out;
  }

  /** Every sketch hash of one window. */
  async readWindow(id: string): Promise<WindowHashes> {
    const names = await this.redis.smembers(this.key('hashes', id));
    const pipeline = this.redis.pipeline();
    for (const name of names) pipeline.hgetall(this.key('w', id, name));
    const replies = (await pipeline.exec()) ?? [];
    const hashes: WindowHashes = new Map();
    names.forEach((name, index) => {
      const [err, hash] = replies[index] ?? [null, {}];
      if (err) throw new DriftlineError('REDIS_UNAVAILABLE', `reading window ${id} failed: ${err.message}`, { cause: err });
      hashes.set(name, hash as Record<string, string>);
    });
    return hashes;
  }

  /** Every sketch hash of several windows (two pipelined round trips, whatever their number); a window without data maps to an empty map. */
  async readWindows(ids: readonly string[]): Promise<Map<string, WindowHashes>> {
    const namesPipeline = this.redis.pipeline();
    for (const id of ids) namesPipeline.smembers(this.key('hashes', id));
    const names = ((await namesPipeline.exec()) ?? []).map(([err, value], index) => {
      if (err) throw new DriftlineError('REDIS_UNAVAILABLE', `reading window ${ids[index]} failed: ${err.message}`, { cause: err });
      return value as string[];
    });
    const hashPipeline = this.redis.pipeline();
    ids.forEach((id, index) => {
      for (const name of names[index]!) hashPipeline.hgetall(this.key('w', id, name));
    });
    const replies = (await hashPipeline.exec()) ?? [];
    const out = new Map<string, WindowHashes>();
    let reply = 0;
    ids.forEach((id, index) => {
      const hashes: WindowHashes = new Map();
      for (const name of names[index]!) {
        const [err, hash] = replies[reply++] ?? [null, {}];
        if (err) throw new DriftlineError('REDIS_UNAVAILABLE', `reading window ${id} failed: ${err.message}`, { cause: err });
        hashes.set(name, hash as Record<string, string>);
      }
      out.set(id, hashes);
    });
    return out;
  }

  /** Redis keys of a window's sketches (to expire them once the window is closed). */
  async windowKeys(id: string): Promise<string[]> {
    const names = await this.redis.smembers(this.key('hashes', id));
    return [this.key('hashes', id), ...names.map((name) => this.key('w', id, name))];
  }

  /**
   * Redis came back older than what was applied: until the partition's applied offset is back at
   * `target` (Kafka replays the gap), the closer closes nothing (set-max: a deeper rollback keeps the highest target).
   */
  async markRewind(topic: string, partition: number, target: number): Promise<void> {
    await this.redis.eval(SET_MAX_LUA, 1, this.key('rewind'), `${topic}:${partition}`, target);
  }

  /** Partitions still replaying what an older Redis lost (nothing may close meanwhile). */
  async rewindPending(): Promise<number> {
    return this.redis.hlen(this.key('rewind'));
  }

  /** Applied offset of every partition (`topic:partition` -> offset). */
  async appliedOffsets(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key('offsets'));
  }

  /** For each review_id: whether it was counted inside the dedupe horizon. */
  async countedIds(ids: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < ids.length; i += 1_000) {
      const values = await this.redis.mget(ids.slice(i, i + 1_000).map((id) => this.key('seen', id)));
      for (const value of values) out.push(value !== null);
    }
    return out;
  }

  /**
   * Hands the queued dead letters to `publish` in order and drops them once it resolved (at least once: a
   * crash in between publishes them again). One instance at a time (a lock with TTL). Returns how many.
   */
  async drainDeadLetters(publish: (values: Buffer[]) => Promise<void>, lockMs = 30_000): Promise<number> {
    const lock = this.key('dead-letters-lock');
    const owner = `${process.pid}-${Math.random()}`;
    if ((await this.redis.set(lock, owner, 'PX', lockMs, 'NX')) !== 'OK') return 0;
    let sent = 0;
    try {
      for (;;) {
        const values = await this.redis.lrangeBuffer(this.key('dead-letters'), 0, 499);
        if (values.length === 0) return sent;
        await publish(values);
        await this.redis.ltrim(this.key('dead-letters'), values.length, -1);
        sent += values.length;
      }
    } finally {
      await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lock, owner);
    }
  }

  /** Whether the window got events replayed after a rollback (and forgets it: the window is closing). */
  async takeRewound(id: string): Promise<boolean> {
    return (await this.redis.srem(this.key('rewound'), id)) === 1;
  }

  async lateEvents(id: string): Promise<number> {
    return Number((await this.redis.get(this.key('late', id))) ?? 0);
  }
}
