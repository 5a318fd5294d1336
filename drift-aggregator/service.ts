// Over 350 lines for now: the consumer's batch path and the housekeeping loop share one state and one shutdown; their split into two files is under way (issue #12).
/**
 * The drift aggregator service: consumes ScoredReview events (read_committed, consumer group,
 * eachBatch), pre-aggregates each batch into window sketches in memory, applies it to Redis with the
 * batch's offset in one Lua call (exactly-once counting), then commits the Kafka offset. A loop closes
 * due windows, drains queued ClickHouse rows and alerts. Several instances in one group give the same
 * totals as one: Redis offsets decide what was counted, whoever consumes the partition.
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import type { ClickHouseClient } from '../core/clickhouse.js';
import type { CoreSettings } from '../core/config.js';
import { buildDeadLetter, DeadLetterPublisher } from '../core/deadletter.js';
import type { DriftThresholds } from '../core/drift/config.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { ensureTopics, kafkaError } from '../core/kafka.js';
import { scoredReviewProblem } from '../core/validation.js';
import type { Logger } from '../core/logger.js';
import { readinessCondition, serveMetrics, type ReadinessCheck } from '../core/metrics.js';
import type { DeadLetter, ScoredReview } from '../schemas/types.js';
import { AlertOutbox } from './alerts.js';
import { SketchCatalog, type BaselineProvider } from './baselines.js';
import { PendingRowWriter, runMigrations } from './clickhouse-writer.js';
import { WindowCloser, type ClosedWindow } from './closer.js';
import { windowSizesOf, type AggregatorSettings } from './config.js';
import { BatchAggregate } from './increments.js';
import { AggregatorState, SET_MAX_LUA } from './redis-state.js';
import type { RollbackTarget } from './rollback.js';
import { AggregatorMetrics } from './telemetry.js';
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

export interface AggregatorDeps {
  core: CoreSettings;
  settings: AggregatorSettings;
  thresholds: DriftThresholds;
  kafka: Kafka;
  redis: Redis;
  clickhouse: ClickHouseClient;
  baselines: BaselineProvider;
  rollbackTarget: RollbackTarget | null;
  log: Logger;
  metrics?: AggregatorMetrics;
  now?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class AggregatorService {
  readonly metrics: AggregatorMetrics;
  readonly state: AggregatorState;
  readonly catalog: SketchCatalog;
  readonly closer: WindowCloser;
  readonly writer: PendingRowWriter;
  private readonly outbox: AlertOutbox;
  private readonly codec = codecFor('ScoredReview');
  private readonly deadLetterCodec = codecFor('DeadLetter');
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private deadLetters: DeadLetterPublisher | undefined;
  private metricsServer: Server | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
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
  private readonly closeListeners = new Set<(closed: ClosedWindow) => void>();
  private readonly now: () => number;
  /** In the consumer group (joined, not crashed, stopped or disconnected since): for /ready. */
  private consumerJoined = false;

  /** Window sizes, smallest first (DRIFTLINE_WINDOW_SIZES); events are counted in the smallest. */
  readonly windowSizesMs: number[];
  private readonly windowMs: number;

  constructor(private readonly deps: AggregatorDeps) {
    const { settings, core, redis, log } = deps;
    this.windowSizesMs = windowSizesOf(settings);
    this.windowMs = this.windowSizesMs[0]!;
    this.now = deps.now ?? Date.now;
    this.metrics = deps.metrics ?? new AggregatorMetrics();
    this.state = new AggregatorState(redis, core.redisPrefix);
    this.catalog = new SketchCatalog(deps.baselines, settings.maxSegments, this.now);
    this.closer = new WindowCloser(
      {
        windowMs: this.windowMs,
        largerSizesMs: this.windowSizesMs.slice(1),
        allowedLatenessMs: settings.allowedLatenessMs,
        idleCloseMs: settings.idleCloseMs,
        closeLockTtlMs: settings.closeLockTtlMs,
        stateTtlSeconds: settings.stateTtlSeconds,
        thresholds: deps.thresholds,
        rollback: { enabled: settings.autoRollback, maxAgeMs: settings.autoRollbackMaxAgeMs, windows: settings.autoRollbackWindows },
      },
      { state: this.state, catalog: this.catalog, metrics: this.metrics, log, rollbackTarget: deps.rollbackTarget, now: this.now, mayClose: () => this.verifyState() },
    );
    this.writer = new PendingRowWriter({
      redis,
      pendingKey: this.state.key('pending'),
      lockKey: this.state.key('pending-lock'),
      client: deps.clickhouse,
      database: core.clickhouseDatabase,
      log,
      retryMaxMs: settings.clickhouseRetryMaxMs,
      // The publisher exists once start() connected the producer; the writer only runs after that.
      deadLetters: { publish: (letters) => this.publishDeadLetters(letters) },
    });
    this.outbox = new AlertOutbox(redis, this.state.key('alerts-outbox'), this.state.key('alerts-lock'));
  }

  /**
   * What `GET /ready` checks: the consumer is in its group, Redis (sketches, offsets) and ClickHouse
   * (drift rows) answer. An instance with no partition (more instances than partitions) is ready: it
   * stands by in the group.
   */
  readinessChecks(): ReadinessCheck[] {
    return [
      readinessCondition('kafka_consumer', () => this.consumerJoined && !this.stopping, `not in consumer group ${this.deps.settings.groupId}`),
      {
        name: 'redis',
        check: async () => {
          await this.deps.redis.ping();
        },
      },
      {
        name: 'clickhouse',
        check: async () => {
          await (await this.deps.clickhouse.query({ query: 'SELECT 1', format: 'JSONEachRow' })).json();
        },
      },
    ];
  }

  /** Called for every window this instance closes (tests, the CLI's progress output). */
  onWindowClosed(listener: (closed: ClosedWindow) => void): void {
    this.closeListeners.add(listener);
  }

  async start(): Promise<void> {
    const { core, settings, kafka, log } = this.deps;
    await ensureTopics(kafka, [core.topicScored, core.topicAlerts, core.topicDeadLetter], core);
    await runMigrations(this.deps.clickhouse, core.clickhouseDatabase);
    await this.state.loadScript();
    if (settings.metricsPort > 0) this.metricsServer = await serveMetrics(this.metrics.registry, settings.metricsPort, settings.metricsHost, { readiness: this.readinessChecks() });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.deadLetters = new DeadLetterPublisher(this.producer, core.topicDeadLetter);
    this.consumer = kafka.consumer({ groupId: settings.groupId, readUncommitted: false, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxBytesPerPartition: settings.maxBatchBytes, maxBytes: Math.max(settings.maxBatchBytes * core.topicPartitions, 1_048_576) });
    const left = (): void => {
      this.consumerJoined = false;
    };
    this.consumer.on(this.consumer.events.CRASH, left);
    this.consumer.on(this.consumer.events.STOP, left);
    this.consumer.on(this.consumer.events.DISCONNECT, left);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.consumerJoined = true;
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
    this.loop = this.runLoop();
    log.info({ topic: core.topicScored, group: settings.groupId, windowSizesMs: this.windowSizesMs, windowTime: settings.windowTime, metricsPort: settings.metricsPort }, 'drift aggregator started');
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
  private async verifyState(): Promise<boolean> {
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
    for (const message of messages) {
      const location = { topic, partition, offset: message.offset };
      let event: ScoredReview;
      try {
        event = this.codec.decode(message.value);
      } catch (err) {
        undecodable++;
        deadLetters.push(buildDeadLetter({ stage: 'aggregator', error: err, raw: message.value, location }));
        continue;
      }
      // An absurd time would open a window in the year 287,000, move the watermark past every real event
      // and make the window's ClickHouse row unwritable: such an event is refused here, never windowed.
      const problem = scoredReviewProblem(event, bounds);
      if (problem !== null) {
        invalidCodes.push(problem.code);
        deadLetters.push(buildDeadLetter({ stage: 'aggregator', error: problem, raw: message.value, location, reviewId: event.review_id }));
        continue;
      }
      events.push(event);
    }
    const firstById = new Map<string, ScoredReview>();
    for (const event of events) if (!firstById.has(event.review_id)) firstById.set(event.review_id, event);
    const ids = [...firstById.keys()];
    const seen = await this.state.countedIds(ids);
    const unique = ids.filter((_, index) => !seen[index]).map((id) => firstById.get(id)!);
    const versions = new Map<string, { modelName: string; version: number }>();
    for (const event of unique) versions.set(`${event.model_name}|${event.model_version}`, { modelName: event.model_name, version: event.model_version });
    await this.catalog.ensure(versions.values());
    const aggregate = new BatchAggregate({
      windowMs: this.windowMs,
      windowTime: this.deps.settings.windowTime,
      sketchesOf: (name, version) => this.catalog.get(name, version),
    });
    for (const event of unique) aggregate.add(event);
    return { aggregate, reviewIds: unique.map((event) => event.review_id), duplicates: events.length - unique.length, deadLetters, undecodable, invalidCodes };
  }

  private async publishDeadLetters(letters: DeadLetter[]): Promise<void> {
    if (!this.deadLetters) throw new DriftlineError('KAFKA_UNAVAILABLE', 'the aggregator is not started: no dead-letter producer yet');
    await this.deadLetters.publish(letters);
  }

  /** Kafka commit after Redis: only saves re-reading (Redis offsets decide what counts). */
  private async commit(partition: number, lastOffset: number): Promise<void> {
    try {
      await this.consumer!.commitOffsets([{ topic: this.deps.core.topicScored, partition, offset: String(lastOffset + 1) }]);
    } catch (err) {
      this.deps.log.warn({ err: String(err), partition }, 'Kafka offset commit failed (Redis has the applied offset)');
    }
  }

  /** One round of housekeeping: close due windows, drain ClickHouse rows and alerts. */
  async housekeeping(): Promise<void> {
    const closed = await this.closer.tick();
    for (const window of closed) for (const listener of this.closeListeners) listener(window);
    await this.writer.flush();
    if (this.producer) {
      const sent = await this.outbox.drain(this.producer, this.deps.core.topicAlerts);
      this.metrics.alertsPublished.inc(sent);
      await this.drainDeadLetters();
    }
    this.metrics.clickhousePendingRows.set(await this.writer.pendingCount());
  }

  /** Publishes the dead letters the apply script queued (one instance at a time), then drops them from Redis. */
  private async drainDeadLetters(): Promise<void> {
    await this.state.drainDeadLetters(async (values) => {
      await this.deadLetters!.publish(values.map((value) => this.deadLetterCodec.decode(value)));
    });
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.housekeeping();
      } catch (err) {
        this.deps.log.error({ err: toDriftlineError(err).toJSON() }, 'aggregator housekeeping failed; retrying');
      }
      await sleep(this.deps.settings.closeIntervalMs);
    }
  }

  /** Graceful stop: finish the batch in flight, commit, flush queued rows and alerts, disconnect. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      const { log } = this.deps;
      await this.consumer?.disconnect().catch((err: unknown) => log.warn({ err: String(err) }, 'consumer disconnect failed'));
      await this.loop;
      try {
        await this.writer.flush(true);
        if (this.producer) this.metrics.alertsPublished.inc(await this.outbox.drain(this.producer, this.deps.core.topicAlerts));
        if (this.producer) await this.drainDeadLetters();
      } catch (err) {
        log.warn({ err: toDriftlineError(err).toJSON() }, 'final flush incomplete; rows and alerts stay queued in Redis');
      }
      await this.producer?.disconnect().catch(() => undefined);
      if (this.metricsServer) await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
      log.info('drift aggregator stopped');
    })();
    return this.stopped;
  }
}
