/**
 * The aggregator's consumer: ScoredReview batches (read_committed, consumer group, eachBatch) are decoded,
 * deduplicated by review_id, pre-aggregated into window sketches in memory and applied to Redis with the
 * batch's offset in one Lua call (exactly-once counting), then committed to Kafka. It also owns what an
 * assignment means for that state: seek past what Redis applied, notice lost or rewound Redis state and
 * replay what Kafka still holds. Closing windows is the housekeeping loop's work (housekeeping.ts); it
 * asks verifyState() before closing anything.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { RedisClient } from '../core/redis.js';
import { codecFor } from '../core/avro.js';
import type { CoreSettings } from '../core/config.js';
import { buildDeadLetter } from '../core/deadletter.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { kafkaError } from '../core/kafka.js';
import type { Logger } from '../core/logger.js';
import { scoredReviewProblem } from '../core/validation.js';
import type { DeadLetter, ScoredReview } from '../schemas/types.js';
import type { SketchCatalog } from './baselines.js';
import type { AggregatorSettings } from './config.js';
import { BatchAggregate } from './increments.js';
import { SET_MAX_LUA, type AggregatorState } from './redis-state.js';
import type { AggregatorMetrics } from './telemetry.js';
import { windowStartOf } from './windows.js';

/** A batch ready for the Redis apply. */
interface PreparedBatch {
  aggregate: BatchAggregate;
  /** review_ids of the events in `aggregate` (each once), remembered by the apply for the dedupe horizon. */
  reviewIds: string[];
  /** Events left out: their review_id was counted before (or earlier in the batch). */
  duplicates: number;
  deadLetters: DeadLetter[];
  /** Of the dead letters: messages that were not ScoredReview Avro, and the error codes of events refused by validation. */
  undecodable: number;
  invalidCodes: string[];
}

export interface BatchConsumerDeps {
  core: CoreSettings;
  settings: AggregatorSettings;
  kafka: Kafka;
  redis: RedisClient;
  state: AggregatorState;
  catalog: SketchCatalog;
  metrics: AggregatorMetrics;
  log: Logger;
  now: () => number;
  /** The counted (smallest) window size. */
  windowMs: number;
}

export class BatchConsumer {
  private readonly state: AggregatorState;
  private readonly catalog: SketchCatalog;
  private readonly metrics: AggregatorMetrics;
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly codec = codecFor('ScoredReview');
  private readonly deadLetterCodec = codecFor('DeadLetter');
  private consumer: Consumer | undefined;
  /** Partitions whose Redis state was found lost at assignment; the next applied batch marks the loss point. */
  private readonly lostPartitions = new Set<number>();
  /** Highest offset this instance applied per partition (to notice Redis forgetting it or going back). */
  private readonly appliedHere = new Map<number, number>();
  /**
   * Partitions being replayed because Redis came back older: `from` = the offset Redis had, `target` = the
   * highest offset applied before. A batch starting beyond `target` was fetched before the seek: dropped.
   */
  private readonly rewinds = new Map<number, { from: number; target: number }>();
  private assignmentCheck: Promise<void> = Promise.resolve();
  /** Set once the first assignment was checked: before it, Redis may be older than Kafka and nothing may close. */
  private assignmentChecked = false;
  /** In the consumer group (joined, not crashed, stopped or disconnected since): for /ready. */
  private joined = false;

  constructor(private readonly deps: BatchConsumerDeps) {
    this.state = deps.state;
    this.catalog = deps.catalog;
    this.metrics = deps.metrics;
    this.now = deps.now;
    this.windowMs = deps.windowMs;
  }

  get inGroup(): boolean {
    return this.joined;
  }

  /** Joins the group and starts consuming; batches wait for the check of their assignment. */
  async start(): Promise<void> {
    const { core, settings, kafka, log } = this.deps;
    this.consumer = kafka.consumer({ groupId: settings.groupId, readUncommitted: false, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxBytesPerPartition: settings.maxBatchBytes, maxBytes: Math.max(settings.maxBatchBytes * core.topicPartitions, 1_048_576) });
    const left = (): void => {
      this.joined = false;
    };
    this.consumer.on(this.consumer.events.CRASH, left);
    this.consumer.on(this.consumer.events.STOP, left);
    this.consumer.on(this.consumer.events.DISCONNECT, left);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      const partitions = event.payload.memberAssignment[core.topicScored] ?? [];
      // What this instance applied of partitions it no longer owns says nothing about them any more.
      for (const partition of [...this.appliedHere.keys()]) if (!partitions.includes(partition)) this.appliedHere.delete(partition);
      for (const partition of [...this.rewinds.keys()]) if (!partitions.includes(partition)) this.rewinds.delete(partition);
      this.assignmentCheck = this.checkAssignment(partitions)
        .catch((err: unknown) => log.error({ err: toDriftlineError(err).toJSON() }, 'assignment check failed'))
        .finally(() => {
          // Also after a failed check (logged): closing must not stall; batches still compare offsets.
          this.assignmentChecked = true;
        });
    });
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topic: core.topicScored, fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: core.topicPartitions,
        eachBatch: (payload) => this.handleBatch(payload),
      });
    } catch (err) {
      throw kafkaError(err, `consuming ${core.topicScored}`);
    }
  }

  /** Leaves the group after the batch in flight (its apply and commit finish first). */
  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch((err: unknown) => this.deps.log.warn({ err: String(err) }, 'consumer disconnect failed'));
  }

  /**
   * On (re)assignment: seek past what Redis already applied (Kafka may lag behind it), and detect lost
   * Redis state — Kafka committed offsets beyond what Redis says it applied mean counts are gone.
   */
  private async checkAssignment(partitions: number[]): Promise<void> {
    const { core, settings, kafka, log } = this.deps;
    if (partitions.length === 0) return;
    const admin: Admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: settings.groupId, topics: [core.topicScored] });
      const low = new Map((await admin.fetchTopicOffsets(core.topicScored)).map((p) => [p.partition, Number(p.low)]));
      // Every partition of the topic holds the watermark back until it applied something (not only the ones seen so far).
      await this.state.registerPartitions(core.topicScored, low.size);
      for (const partition of partitions) {
        const committedOffset = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
        const applied = (await this.state.appliedOffset(core.topicScored, partition)) ?? -1;
        if (committedOffset > applied + 1 && applied >= 0 && applied + 1 >= (low.get(partition) ?? 0)) {
          // Redis is older than what was applied and committed, and Kafka still holds the gap: replay it.
          this.appliedHere.set(partition, committedOffset - 1);
          await this.startRewind(partition, applied, committedOffset - 1);
        } else if (committedOffset > applied + 1 && committedOffset > (low.get(partition) ?? 0)) {
          this.lostPartitions.add(partition);
          this.metrics.stateLost.set(1);
          const err = new DriftlineError('STATE_LOST', `Redis has offset ${applied} applied for ${core.topicScored}[${partition}] but Kafka committed ${committedOffset}: window counts before it are gone`, {
            details: { partition, applied, committed: committedOffset },
          });
          log.error({ err: err.toJSON() }, 'aggregator state lost; affected windows will be marked state_lost');
        } else if (applied + 1 > committedOffset && applied >= 0) {
          this.consumer?.seek({ topic: core.topicScored, partition, offset: String(applied + 1) });
        }
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private reportLost(partition: number, applied: number): void {
    this.lostPartitions.add(partition);
    this.metrics.stateLost.set(1);
    const err = new DriftlineError('STATE_LOST', `Redis no longer has offset ${applied} applied for ${this.deps.core.topicScored}[${partition}]: window counts before it are gone`, { details: { partition, applied } });
    this.deps.log.error({ err: err.toJSON() }, 'aggregator state lost; affected windows will be marked state_lost');
  }

  /**
   * Redis holds an applied offset older than one this instance applied (RDB restore, AOF everysec, failover):
   * mark the partition as replaying (no window closes meanwhile) and seek the consumer back to what Redis
   * has + 1, so Kafka delivers again exactly what Redis lost.
   */
  private async startRewind(partition: number, stored: number, target: number): Promise<void> {
    const { core, log } = this.deps;
    const current = this.rewinds.get(partition);
    if (current && stored >= current.from) return; // already replaying from there (or from further back)
    this.rewinds.set(partition, { from: stored, target: Math.max(target, current?.target ?? -1) });
    this.metrics.stateRewinds.inc();
    this.metrics.rewindingPartitions.set(this.rewinds.size);
    await this.state.markRewind(core.topicScored, partition, target);
    this.consumer?.seek({ topic: core.topicScored, partition, offset: String(stored + 1) });
    log.warn({ partition, redisOffset: stored, applied: target }, 'Redis state went back in time; replaying the lost offsets from Kafka');
  }

  /** Compares Redis' applied offsets with this instance's; false while a replay is pending (nothing may close). */
  async verifyState(): Promise<boolean> {
    if (!this.assignmentChecked) return false;
    const known = [...this.appliedHere]; // read before Redis: Redis is written before appliedHere
    const stored = await this.state.appliedOffsets();
    for (const [partition, applied] of known) {
      const value = stored[`${this.deps.core.topicScored}:${partition}`];
      if (value !== undefined && Number(value) < applied) await this.startRewind(partition, Number(value), applied);
    }
    return (await this.state.rewindPending()) === 0;
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { core, settings } = this.deps;
    await this.assignmentCheck;
    if (batch.messages.length === 0) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!isRunning() || isStale()) return;
      const stored = await this.state.appliedOffset(batch.topic, batch.partition);
      // Redis forgot an offset this instance applied: restarted without persistence while we kept running.
      if (stored === null && this.appliedHere.has(batch.partition) && !this.lostPartitions.has(batch.partition)) this.reportLost(batch.partition, this.appliedHere.get(batch.partition)!);
      const known = this.appliedHere.get(batch.partition);
      if (stored !== null && known !== undefined && stored < known) {
        const rewind = this.rewinds.get(batch.partition);
        // Not resolved: the seek makes Kafka deliver the records after `stored` again.
        if (!rewind || stored < rewind.from) return this.startRewind(batch.partition, stored, known);
        if (Number(batch.messages[0]!.offset) > rewind.target) return; // fetched before the seek
      }
      const applied = stored ?? -1;
      const fresh = batch.messages.filter((message) => Number(message.offset) > applied);
      const lastOffset = Number(batch.messages[batch.messages.length - 1]!.offset);
      if (fresh.length === 0) {
        this.metrics.replayedBatches.inc();
        resolveOffset(String(lastOffset));
        await this.commit(batch.partition, lastOffset);
        return;
      }
      const { aggregate, reviewIds, duplicates, deadLetters, undecodable, invalidCodes } = await this.aggregate(batch.topic, batch.partition, fresh);
      const timer = this.metrics.redisApplySeconds.startTimer();
      const outcome = await this.state.applyBatch({
        topic: batch.topic,
        partition: batch.partition,
        expectedPrevOffset: applied,
        lastOffset,
        increments: aggregate.increments(),
        nowWallMs: this.now(),
        allowedLatenessMs: settings.allowedLatenessMs,
        windowMs: this.windowMs,
        dedupe: { reviewIds, horizonMs: core.dedupeHorizonSeconds * 1000 },
        deadLetters: deadLetters.map((record) => this.deadLetterCodec.encode(record)),
      });
      timer();
      // Another instance moved the offset, or counted one of the ids, meanwhile: recompute from Redis.
      if (outcome.status === 'conflict') continue;
      if (outcome.status === 'applied') {
        this.metrics.duplicates.inc(duplicates);
        // Counted once the apply has taken the batch (an apply that conflicts is aggregated again).
        this.metrics.undecodable.inc(undecodable);
        for (const code of invalidCodes) this.metrics.invalidEvents.inc({ error_code: code });
        this.appliedHere.set(batch.partition, Math.max(lastOffset, known ?? -1));
        this.endRewindAt(batch.partition, lastOffset);
        this.metrics.eventsConsumed.inc(aggregate.events);
        this.metrics.lateEvents.inc(outcome.lateEvents);
        // Windows up to the first one this partition delivers after the loss may hold pre-loss counts that are gone.
        if (this.lostPartitions.delete(batch.partition) && Number.isFinite(aggregate.minWindowTime)) {
          await this.deps.redis.eval(SET_MAX_LUA, 1, this.state.key('clock'), 'state_lost_until', windowStartOf(aggregate.minWindowTime, this.windowMs));
        }
      } else this.metrics.replayedBatches.inc();
      resolveOffset(String(lastOffset));
      await this.commit(batch.partition, lastOffset);
      await heartbeat();
      return;
    }
    throw new DriftlineError('REDIS_UNAVAILABLE', `batch of ${core.topicScored}[${batch.partition}] kept conflicting with another writer`);
  }

  private endRewindAt(partition: number, lastOffset: number): void {
    const rewind = this.rewinds.get(partition);
    if (!rewind || lastOffset < rewind.target) return;
    this.rewinds.delete(partition);
    this.metrics.rewindingPartitions.set(this.rewinds.size);
    this.deps.log.warn({ partition, from: rewind.from, to: rewind.target }, 'replay after Redis went back in time complete');
  }

  /**
   * Decodes and pre-aggregates a batch. Undecodable messages become dead letters that go into Redis with
   * the apply (an outbox), so a batch aggregated again (a retry, a replay) does not publish them again.
   * Events whose review_id was counted before inside the dedupe horizon (or earlier in the batch) are left
   * out; the apply script re-checks the ids atomically and refuses the batch if one was counted meanwhile.
   */
  private async aggregate(topic: string, partition: number, messages: EachBatchPayload['batch']['messages']): Promise<PreparedBatch> {
    const events: ScoredReview[] = [];
    const deadLetters: DeadLetter[] = [];
    const invalidCodes: string[] = [];
    let undecodable = 0;
    const bounds = { nowMs: this.now(), futureToleranceMs: this.deps.core.futureToleranceMs };
    // Only dead letters need a message's location: built for them, not per event.
    const locationOf = (offset: string): { topic: string; partition: number; offset: string } => ({ topic, partition, offset });
    for (const message of messages) {
      let event: ScoredReview;
      try {
        event = this.codec.decode(message.value);
      } catch (err) {
        undecodable++;
        deadLetters.push(buildDeadLetter({ stage: 'aggregator', error: err, raw: message.value, location: locationOf(message.offset) }));
        continue;
      }
      // An absurd time would open a window in the year 287,000, move the watermark past every real event
      // and make the window's ClickHouse row unwritable: such an event is refused here, never windowed.
      const problem = scoredReviewProblem(event, bounds);
      if (problem !== null) {
        invalidCodes.push(problem.code);
        deadLetters.push(buildDeadLetter({ stage: 'aggregator', error: problem, raw: message.value, location: locationOf(message.offset), reviewId: event.review_id }));
        continue;
      }
      events.push(event);
    }
    const firstById = new Map<string, ScoredReview>();
    for (const event of events) if (!firstById.has(event.review_id)) firstById.set(event.review_id, event);
    const ids = [...firstById.keys()];
    const seen = await this.state.countedIds({ topic, partition }, ids);
    const unique = ids.filter((_, index) => !seen[index]).map((id) => firstById.get(id)!);
    const versions = new Map<string, { modelName: string; version: number }>();
    let last: ScoredReview | null = null;
    for (const event of unique) {
      // Runs of one version are the rule: one key string per run, not per event.
      if (last && last.model_version === event.model_version && last.model_name === event.model_name) continue;
      versions.set(`${event.model_name}|${event.model_version}`, { modelName: event.model_name, version: event.model_version });
      last = event;
    }
    await this.catalog.ensure(versions.values());
    const aggregate = new BatchAggregate({
      windowMs: this.windowMs,
      windowTime: this.deps.settings.windowTime,
      sketchesOf: (name, version) => this.catalog.get(name, version),
      samplePerWindow: this.deps.settings.recentSamplePerWindow,
    });
    for (const event of unique) aggregate.add(event);
    return { aggregate, reviewIds: unique.map((event) => event.review_id), duplicates: events.length - unique.length, deadLetters, undecodable, invalidCodes };
  }

  /** Kafka commit after Redis: only saves re-reading (Redis offsets decide what counts). */
  private async commit(partition: number, lastOffset: number): Promise<void> {
    try {
      await this.consumer!.commitOffsets([{ topic: this.deps.core.topicScored, partition, offset: String(lastOffset + 1) }]);
    } catch (err) {
      this.deps.log.warn({ err: String(err), partition }, 'Kafka offset commit failed (Redis has the applied offset)');
    }
  }
}
