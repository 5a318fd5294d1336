// Over 350 lines: the key layout, the one per-partition apply script and every reader that gathers the
// partitions' share of a window belong together (one place that knows which key lives in which slot).
/**
 * The aggregator's state in Redis and the one atomic write path into it, laid out for Redis Cluster (and
 * used the same way on a single Redis: one layout, one code path).
 *
 * Exactly-once counting: a Kafka batch (one partition) is applied by ONE Lua script call that
 * compares the stored applied offset of that topic/partition with the offset the batch was
 * aggregated after (compare-and-set), applies every HINCRBY/HINCRBYFLOAT of the pre-aggregated
 * batch and stores the new offset — all or nothing. Redis offsets are the truth; Kafka commits only
 * save re-reading. A batch whose last offset is not beyond the stored one is skipped (a replay).
 *
 * Key layout. Every key starts with `<prefix>:agg:`. A script or MULTI may only touch keys of one hash slot
 * on a cluster, so the keys fall in two groups by their hash tag (the part in braces decides the slot):
 *
 * Per partition, `<prefix>:agg:{<topic>:<partition>}:` — everything the per-batch script touches, so the
 * apply stays one atomic script in one slot; partitions spread over the cluster's masters:
 *   offset                  string last applied offset of the partition
 *   max                     string max window time applied from it (the stream's progress is the minimum over partitions)
 *   rewind                  string offset the replay must reach again after Redis came back older than what was applied
 *                                  (cleared by the apply that reaches it)
 *   rewound                 set   windows that got replayed events since (logged when they close)
 *   w:<id>:<segment>|<value> hash one sketch of the window × segment × monitored value, this partition's share (increments.ts)
 *   hashes:<id>             set   the `<segment>|<value>` names present in the window from this partition
 *   closed:<id>             '1'   set in every partition when a closer starts: later events for the window are late
 *   late:<id>               int   late events of a window from this partition (EX = state TTL once the closer saw it)
 *   late-dirty              set   windows whose late count in this partition changed since it was written
 *   sample:<id>             zset  recent-sample reservoir of the partition's share of a counted window: member JSON ->
 *                                 hash of review_id, trimmed to the K smallest in the apply (recent-sample.ts; the
 *                                 window's are the K smallest of the partitions' union; EX = state TTL once closed)
 *   seen:<review_id>        '1'   the id was counted (PX = DRIFTLINE_DEDUPE_HORIZON_S): end-to-end dedupe. Per
 *                                 partition is enough: the scored topic is keyed like ingest's (product_id, else
 *                                 review_id; the scorer keeps the key), so every copy of a review — same id, same
 *                                 product — lands in the same partition. The scorer's own dedupe is global.
 *   dead-letters            list  Avro DeadLetter records queued by the apply, published by housekeeping
 *
 * Window-level and global, `<prefix>:agg:{<prefix>}:` — one slot, so the closer's closing MULTI (rows, alerts,
 * hysteresis, done marker) stays atomic:
 *   partitions              hash  "<topic>" -> partitions of the topic (every one holds the watermark back
 *                                 until it applied something: windows.ts streamProgress; the closer marks them all)
 *   writers                 set   "<topic>:<partition>" of every partition that applied (added before its apply)
 *   open                    zset  window id -> window start (windows with data, not closed yet; added before the apply)
 *   touched                 zset  window id -> wall ms of the last batch that added to it
 *   clock                   hash  state_lost_until
 *   lock:<id>, done:<id>, summary-row:<id>, late:<id> (larger windows), late-dirty, hyst:*, episodes:*, rollback:*,
 *   pending (+ -lock), alerts-outbox (+ alerts-lock), dead-letters-lock, open-large, touched-large (larger-windows.ts)
 *
 * Closing a window (closer.ts) reads every partition's share and merges the sketches (every sketch is
 * mergeable: core/sketch); its late count is the sum of the partitions' counts and the global one.
 */
import { DriftlineError } from '../core/errors.js';
import type { RedisClient } from '../core/redis.js';
import type { SketchIncrements } from '../core/sketch/index.js';
import { LUA_APPLY_OPS_FUNCTION, expandBinBlobs, packIncrements } from '../core/sketch/redis-increments.js';
import type { BatchIncrements } from './increments.js';
import { streamProgress } from './windows.js';

/** KEYS: the partition's offset, max, rewind, rewound, dead-letters, late-dirty; every other key is `ARGV[1]` (the partition's base, same hash tag) + a suffix. */
const APPLY_BATCH_LUA = `${LUA_APPLY_OPS_FUNCTION}
local offsetKey, maxKey, rewindKey, rewound, deadLetters, lateDirty = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local base, expectedPrev, lastOffset = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local batchMaxTime, progress = tonumber(ARGV[4]), tonumber(ARGV[5])
local latenessMs, windowMs, windowCount = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local horizonMs = ARGV[9]
local idCount = tonumber(ARGV[10])
local idStart = 11
local deadLetterCount = tonumber(ARGV[idStart + idCount])
local deadLetterStart = idStart + idCount + 1
local stored = tonumber(redis.call('GET', offsetKey) or '-1')
if stored >= lastOffset then return {0, stored, 0} end
if stored ~= expectedPrev then return {-1, stored, 0} end
-- Final guard of the end-to-end dedupe: an id counted since the batch was aggregated (another instance
-- applying this partition) refuses the batch; the caller aggregates it again without that id.
for k = idStart, idStart + idCount - 1 do
  if redis.call('EXISTS', base .. 'seen:' .. ARGV[k]) == 1 then return {-1, stored, 0} end
end
-- Replaying what an older Redis lost: the windows this batch touches are marked (see closer.ts).
local rewindTarget = redis.call('GET', rewindKey)
-- progress: the stream's progress the caller read before the apply (windows.ts streamProgress over every
-- partition; other partitions' keys live in other slots). It only grows, so a stale value is a lower one:
-- fewer events late by watermark, never more. Late for a closing window is decided by its 'closed' marker here.
local lateEvents = 0
local i = deadLetterStart + deadLetterCount
for w = 1, windowCount do
  local id, start, events, hashCount = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  i = i + 4
  if rewindTarget then redis.call('SADD', rewound, id) end
  local isLate = redis.call('EXISTS', base .. 'closed:' .. id) == 1 or start + windowMs + latenessMs <= progress
  if isLate then
    lateEvents = lateEvents + events
    -- One key per window (not a hash of every window ever): the closer gives it the window's state TTL.
    redis.call('INCRBY', base .. 'late:' .. id, events)
    redis.call('SADD', lateDirty, id)
  end
  for h = 1, hashCount do
    local name, opCount = ARGV[i], tonumber(ARGV[i + 1])
    i = i + 2
    if not isLate then
      redis.call('SADD', base .. 'hashes:' .. id, name)
      apply_ops(base .. 'w:' .. id .. ':' .. name, i, opCount)
    end
    i = i + 3 * opCount
  end
  -- Recent-sample reservoir: the K smallest hashes of the window's review_ids (order- and replay-independent).
  local keep, sampleCount = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  i = i + 2
  if not isLate and sampleCount > 0 then
    local sampleKey = base .. 'sample:' .. id
    for s = 0, sampleCount - 1 do redis.call('ZADD', sampleKey, ARGV[i + 2 * s], ARGV[i + 2 * s + 1]) end
    redis.call('ZREMRANGEBYRANK', sampleKey, keep, -1)
  end
  i = i + 2 * sampleCount
end
if batchMaxTime > tonumber(redis.call('GET', maxKey) or '-1e300') then redis.call('SET', maxKey, ARGV[4]) end
for k = idStart, idStart + idCount - 1 do redis.call('SET', base .. 'seen:' .. ARGV[k], '1', 'PX', horizonMs) end
for k = deadLetterStart, deadLetterStart + deadLetterCount - 1 do redis.call('RPUSH', deadLetters, ARGV[k]) end
redis.call('SET', offsetKey, ARGV[3])
if rewindTarget and lastOffset >= tonumber(rewindTarget) then redis.call('DEL', rewindKey) end
return {1, lastOffset, lateEvents}
`;

/** HSET field to the value unless the stored one is larger. */
export const SET_MAX_LUA = `
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1e300')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`;

/** SET the string key to the value unless the stored one is larger. */
const SET_MAX_STRING_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1e300')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/** KEYS: a partition's late-dirty and its late counter of the window; ARGV: window id, the count its row was written with. */
const CLEAR_LATE_DIRTY_LUA = `
if tonumber(redis.call('GET', KEYS[2]) or '0') == tonumber(ARGV[2]) then redis.call('SREM', KEYS[1], ARGV[1]) end
return 1`;

const RELEASE_LOCK_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

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

/** A partition of a topic, as the state names it (`<topic>:<partition>`). */
export interface PartitionRef {
  topic: string;
  partition: number;
}

function partitionField(ref: PartitionRef): string {
  return `${ref.topic}:${ref.partition}`;
}

function parsePartitionField(field: string): PartitionRef {
  const colon = field.lastIndexOf(':');
  return { topic: field.slice(0, colon), partition: Number(field.slice(colon + 1)) };
}

/** The script as an ioredis custom command (EVALSHA, falling back to EVAL on NOSCRIPT on whichever node serves the slot). */
const APPLY_COMMAND = 'driftlineApplyBatch';
type ApplyCommand = (keysAndArgs: Array<string | number | Buffer>) => Promise<number[]>;
const defined = new WeakSet<object>();

export class AggregatorState {
  /** Every key of this state starts with it. */
  readonly base: string;
  /** Window-level and global keys: one hash tag, one slot. */
  readonly globalBase: string;

  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
  ) {
    this.base = `${prefix}:agg:`;
    this.globalBase = `${this.base}{${prefix}}:`;
  }

  /** A window-level or global key (the `{<prefix>}` slot). */
  key(...parts: Array<string | number>): string {
    return this.globalBase + parts.join(':');
  }

  /** The base of one partition's keys: its own hash tag, so the batch apply stays in one slot. */
  partitionBase(ref: PartitionRef): string {
    return `${this.base}{${partitionField(ref)}}:`;
  }

  partitionKey(ref: PartitionRef, ...parts: Array<string | number>): string {
    return this.partitionBase(ref) + parts.join(':');
  }

  /** The script's fixed KEYS for a partition (the rest derive from the partition base inside the script). */
  private applyKeys(ref: PartitionRef): string[] {
    return ['offset', 'max', 'rewind', 'rewound', 'dead-letters', 'late-dirty'].map((name) => this.partitionKey(ref, name));
  }

  /** Registers the apply script on the client (once per client). */
  async loadScript(): Promise<void> {
    if (defined.has(this.redis)) return;
    this.redis.defineCommand(APPLY_COMMAND, { numberOfKeys: 6, lua: APPLY_BATCH_LUA });
    defined.add(this.redis);
  }

  /**
   * Every key the apply of `input` may touch (the test that they share one slot uses it; the script derives
   * the same names from the partition base).
   */
  batchKeys(input: Pick<ApplyBatchInput, 'topic' | 'partition' | 'increments' | 'dedupe'>): string[] {
    const ref = { topic: input.topic, partition: input.partition };
    const keys = this.applyKeys(ref);
    for (const id of input.dedupe?.reviewIds ?? []) keys.push(this.partitionKey(ref, 'seen', id));
    for (const window of input.increments.windows) {
      keys.push(this.partitionKey(ref, 'closed', window.id), this.partitionKey(ref, 'late', window.id), this.partitionKey(ref, 'hashes', window.id), this.partitionKey(ref, 'sample', window.id));
      for (const [name] of window.hashes) keys.push(this.partitionKey(ref, 'w', window.id, name));
    }
    return keys;
  }

  async applyBatch(input: ApplyBatchInput): Promise<ApplyOutcome> {
    const ref = { topic: input.topic, partition: input.partition };
    const field = partitionField(ref);
    const reviewIds = input.dedupe?.reviewIds ?? [];
    const deadLetters = input.deadLetters ?? [];
    // The stream's progress before the apply (other partitions live in other slots: not readable inside the script).
    let partitionMax: Awaited<ReturnType<AggregatorState['partitionMaxima']>>;
    try {
      partitionMax = await this.partitionMaxima();
    } catch (err) {
      throw new DriftlineError('REDIS_UNAVAILABLE', `reading the stream's progress failed: ${(err as Error).message}`, { cause: err });
    }
    const progress = field in partitionMax.maxima ? streamProgress(partitionMax.maxima, partitionMax.counts) : null;
    const progressArg = progress ?? -1e300;
    // Before the apply, in the global slot (idempotent, so a crash or a refused apply leaves nothing wrong):
    // the partition joins the writers the closer gathers a window from, and the windows the batch will count
    // in (those not late by watermark) are listed open. A window that turns out closed is dropped by the closer
    // (done); one listed open without data closes as nothing.
    const before = this.redis.multi().sadd(this.key('writers'), field);
    for (const window of input.increments.windows) {
      if (window.start + input.windowMs + input.allowedLatenessMs <= progressArg) continue;
      before.zadd(this.key('open'), window.start, window.id).zadd(this.key('touched'), input.nowWallMs, window.id);
    }
    await execOrThrow(before, 'listing the batch windows as open');
    const args: Array<string | number | Buffer> = [
      this.partitionBase(ref),
      input.expectedPrevOffset,
      input.lastOffset,
      Number.isFinite(input.increments.maxWindowTime) ? input.increments.maxWindowTime : -1e300,
      progressArg,
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
      const sample = window.sample ?? { keep: 0, members: [] };
      args.push(sample.keep, sample.members.length);
      for (const [hash, member] of sample.members) args.push(hash, member);
    }
    const [code, stored, late] = await this.evalApply([...this.applyKeys(ref), ...args]);
    if (code === 1) return { status: 'applied', lateEvents: late! };
    if (code === 0) return { status: 'skipped', storedOffset: stored! };
    return { status: 'conflict', storedOffset: stored! };
  }

  private async evalApply(keysAndArgs: Array<string | number | Buffer>): Promise<number[]> {
    await this.loadScript();
    const command = (this.redis as unknown as Record<string, ApplyCommand>)[APPLY_COMMAND]!;
    try {
      // One array argument, not spread: a batch of fine histograms passes hundreds of thousands of arguments,
      // past the JavaScript engine's limit for a spread call ("Maximum call stack size exceeded"); ioredis
      // flattens an array argument into the command's arguments.
      return await command.call(this.redis, keysAndArgs);
    } catch (err) {
      throw new DriftlineError('REDIS_UNAVAILABLE', `applying a batch to Redis failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Every partition the state knows: the registered partitions of each topic and every partition that applied. */
  async partitions(): Promise<PartitionRef[]> {
    const [counts, writers] = await Promise.all([this.redis.hgetall(this.key('partitions')), this.redis.smembers(this.key('writers'))]);
    const fields = new Set(writers);
    for (const [topic, count] of Object.entries(counts)) for (let partition = 0; partition < Number(count); partition++) fields.add(`${topic}:${partition}`);
    return [...fields].sort().map(parsePartitionField);
  }

  /** One value per partition (`topic:partition` -> value; partitions without one left out). */
  private async perPartition<T>(read: (ref: PartitionRef) => Promise<T | null>, refs?: readonly PartitionRef[]): Promise<Record<string, T>> {
    const list = refs ?? (await this.partitions());
    const values = await Promise.all(list.map(read));
    const out: Record<string, T> = {};
    list.forEach((ref, index) => {
      const value = values[index];
      if (value !== null && value !== undefined) out[partitionField(ref)] = value;
    });
    return out;
  }

  /** Every partition's max window time applied and the topics' registered partition counts. */
  async partitionMaxima(): Promise<{ maxima: Record<string, string>; counts: Record<string, string> }> {
    const counts = await this.redis.hgetall(this.key('partitions'));
    const maxima = await this.perPartition((ref) => this.redis.get(this.partitionKey(ref, 'max')));
    return { maxima, counts };
  }

  /** Last applied offset of a topic/partition, or null when Redis has none. */
  async appliedOffset(topic: string, partition: number): Promise<number | null> {
    const value = await this.redis.get(this.partitionKey({ topic, partition }, 'offset'));
    return value === null ? null : Number(value);
  }

  /**
   * The stream's progress: the minimum over every partition of the max window time applied (null before
   * every registered partition applied something: windows.ts streamProgress).
   */
  async progressTime(): Promise<number | null> {
    const { maxima, counts } = await this.partitionMaxima();
    return streamProgress(maxima, counts);
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

  /** One partition's share of a window: every sketch hash it holds (a pipeline stays in the partition's slot). */
  private async readPartitionWindow(ref: PartitionRef, id: string): Promise<WindowHashes> {
    const names = await this.redis.smembers(this.partitionKey(ref, 'hashes', id));
    const hashes: WindowHashes = new Map();
    if (names.length === 0) return hashes;
    const pipeline = this.redis.pipeline();
    // As Buffers: a fine histogram's bins are one binary field (expandBinBlobs spells them out).
    for (const name of names) pipeline.hgetallBuffer(this.partitionKey(ref, 'w', id, name));
    const replies = (await pipeline.exec()) ?? [];
    names.forEach((name, index) => {
      const [err, hash] = replies[index] ?? [null, {}];
      if (err) throw new DriftlineError('REDIS_UNAVAILABLE', `reading window ${id} failed: ${err.message}`, { cause: err });
      hashes.set(name, expandBinBlobs(hash as Record<string, Buffer>));
    });
    return hashes;
  }

  /** Every partition's share of a window (partitions without data left out): merge them to get the window (larger-windows.ts mergeShares). */
  async readWindow(id: string, refs?: readonly PartitionRef[]): Promise<WindowHashes[]> {
    const list = refs ?? (await this.partitions());
    const shares = await Promise.all(list.map((ref) => this.readPartitionWindow(ref, id)));
    return shares.filter((hashes) => hashes.size > 0);
  }

  /** Every partition's share of several windows; a window without data maps to an empty list. */
  async readWindows(ids: readonly string[]): Promise<Map<string, WindowHashes[]>> {
    const refs = await this.partitions();
    const shares = await Promise.all(ids.map((id) => this.readWindow(id, refs)));
    return new Map(ids.map((id, index) => [id, shares[index]!]));
  }

  /** From now on every partition's apply counts events of the window as late (set before its sketches are read). */
  async markClosed(id: string, ttlSeconds: number): Promise<void> {
    await this.perPartition((ref) => this.redis.set(this.partitionKey(ref, 'closed', id), '1', 'EX', ttlSeconds));
  }

  /** Gives a closed window's sketches and late counts in every partition the state TTL. */
  async expireWindow(id: string, ttlSeconds: number): Promise<void> {
    await this.perPartition(async (ref) => {
      const names = await this.redis.smembers(this.partitionKey(ref, 'hashes', id));
      const pipeline = this.redis.pipeline();
      for (const key of [this.partitionKey(ref, 'hashes', id), this.partitionKey(ref, 'late', id), this.partitionKey(ref, 'sample', id), ...names.map((name) => this.partitionKey(ref, 'w', id, name))]) pipeline.expire(key, ttlSeconds);
      await pipeline.exec();
      return null;
    });
  }

  /**
   * Redis came back older than what was applied: until the partition's applied offset is back at
   * `target` (Kafka replays the gap), the closer closes nothing (set-max: a deeper rollback keeps the highest target).
   */
  async markRewind(topic: string, partition: number, target: number): Promise<void> {
    await this.redis.eval(SET_MAX_STRING_LUA, 1, this.partitionKey({ topic, partition }, 'rewind'), target);
  }

  /** Partitions still replaying what an older Redis lost (nothing may close meanwhile). */
  async rewindPending(): Promise<number> {
    return Object.keys(await this.perPartition((ref) => this.redis.get(this.partitionKey(ref, 'rewind')))).length;
  }

  /** Applied offset of every partition (`topic:partition` -> offset). */
  async appliedOffsets(): Promise<Record<string, string>> {
    return this.perPartition((ref) => this.redis.get(this.partitionKey(ref, 'offset')));
  }

  /** For each review_id: whether it was counted inside the dedupe horizon (by this partition: see the header). */
  async countedIds(ref: PartitionRef, ids: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < ids.length; i += 1_000) {
      const values = await this.redis.mget(ids.slice(i, i + 1_000).map((id) => this.partitionKey(ref, 'seen', id)));
      for (const value of values) out.push(value !== null);
    }
    return out;
  }

  /**
   * Hands the queued dead letters to `publish` in order, partition by partition, and drops them once it
   * resolved (at least once: a crash in between publishes them again). One instance at a time (a lock with TTL). Returns how many.
   */
  async drainDeadLetters(publish: (values: Buffer[]) => Promise<void>, lockMs = 30_000): Promise<number> {
    const lock = this.key('dead-letters-lock');
    const owner = `${process.pid}-${Math.random()}`;
    if ((await this.redis.set(lock, owner, 'PX', lockMs, 'NX')) !== 'OK') return 0;
    let sent = 0;
    try {
      for (const ref of await this.partitions()) {
        const list = this.partitionKey(ref, 'dead-letters');
        for (;;) {
          const values = await this.redis.lrangeBuffer(list, 0, 499);
          if (values.length === 0) break;
          await publish(values);
          await this.redis.ltrim(list, values.length, -1);
          sent += values.length;
        }
      }
      return sent;
    } finally {
      await this.redis.eval(RELEASE_LOCK_LUA, 1, lock, owner);
    }
  }

  /** Whether the window got events replayed after a rollback in any partition (and forgets it: the window is closing). */
  async takeRewound(id: string): Promise<boolean> {
    const removed = await this.perPartition(async (ref) => ((await this.redis.srem(this.partitionKey(ref, 'rewound'), id)) === 1 ? true : null));
    return Object.keys(removed).length > 0;
  }

  /** Late events of windows: the global count (larger windows) plus every partition's. */
  async lateEventsOf(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const sum = (values: Array<string | null>): number => values.reduce((total, value) => total + Number(value ?? 0), 0);
    const global = sum(await this.redis.mget(ids.map((id) => this.key('late', id))));
    const shares = await this.perPartition(async (ref) => sum(await this.redis.mget(ids.map((id) => this.partitionKey(ref, 'late', id)))));
    return Object.values(shares).reduce((total, value) => total + value, global);
  }

  /**
   * The recent-sample reservoir of a counted window: [member JSON, hash], smallest hash first. Each partition
   * keeps the K smallest hashes of its share, so the K smallest of their union are the window's (`keep`: K).
   */
  async readSample(id: string, keep = Number.POSITIVE_INFINITY): Promise<Array<[string, number]>> {
    const shares = await this.perPartition(async (ref) => {
      const flat = await this.redis.zrange(this.partitionKey(ref, 'sample', id), 0, -1, 'WITHSCORES');
      const out: Array<[string, number]> = [];
      for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
      return out;
    });
    return Object.values(shares)
      .flat()
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, keep);
  }

  async lateEvents(id: string): Promise<number> {
    return this.lateEventsOf([id]);
  }

  /**
   * Windows whose late count changed (up to `count` per place), each with the places that flag it: null for
   * the window-level set (larger windows), else the partition whose apply counted late events.
   */
  async lateDirty(count: number): Promise<Map<string, Array<PartitionRef | null>>> {
    const out = new Map<string, Array<PartitionRef | null>>();
    const add = (id: string, place: PartitionRef | null): void => {
      out.set(id, [...(out.get(id) ?? []), place]);
    };
    for (const id of (await this.redis.srandmember(this.key('late-dirty'), count)) as string[]) add(id, null);
    const refs = await this.partitions();
    const shares = await Promise.all(refs.map((ref) => this.redis.srandmember(this.partitionKey(ref, 'late-dirty'), count) as Promise<string[]>));
    refs.forEach((ref, index) => {
      for (const id of shares[index]!) add(id, ref);
    });
    return out;
  }

  /** The late count of windows by place: the window-level counters' sum and each partition's. */
  async lateShares(ids: readonly string[]): Promise<{ global: number; partitions: Array<{ ref: PartitionRef; count: number }> }> {
    const sum = (values: Array<string | null>): number => values.reduce((total, value) => total + Number(value ?? 0), 0);
    const refs = await this.partitions();
    const [global, shares] = await Promise.all([
      this.redis.mget(ids.map((id) => this.key('late', id))).then(sum),
      Promise.all(refs.map(async (ref) => sum(await this.redis.mget(ids.map((id) => this.partitionKey(ref, 'late', id)))))),
    ]);
    return { global, partitions: refs.map((ref, index) => ({ ref, count: shares[index]! })) };
  }

  /**
   * Takes a window out of a partition's late-dirty after its row was queued, unless the partition's late count
   * of it moved since it was read (then it stays dirty and its row is written again).
   */
  async clearLateDirty(ref: PartitionRef, id: string, countWritten: number): Promise<void> {
    await this.redis.eval(CLEAR_LATE_DIRTY_LUA, 2, this.partitionKey(ref, 'late-dirty'), this.partitionKey(ref, 'late', id), id, countWritten);
  }

  /** Windows whose late count changed and is not written yet, anywhere (tests wait for none). */
  async lateDirtyCount(): Promise<number> {
    const shares = await this.perPartition((ref) => this.redis.scard(this.partitionKey(ref, 'late-dirty')));
    return Object.values(shares).reduce((total, value) => total + value, await this.redis.scard(this.key('late-dirty')));
  }
}

async function execOrThrow(multi: ReturnType<RedisClient['multi']>, what: string): Promise<void> {
  let replies: Awaited<ReturnType<typeof multi.exec>>;
  try {
    replies = await multi.exec();
  } catch (err) {
    throw new DriftlineError('REDIS_UNAVAILABLE', `${what} failed: ${(err as Error).message}`, { cause: err });
  }
  const failed = (replies ?? []).find(([err]) => err);
  if (failed) throw new DriftlineError('REDIS_UNAVAILABLE', `${what} failed: ${failed[0]!.message}`, { cause: failed[0] });
}
