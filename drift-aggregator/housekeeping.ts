/**
 * The aggregator's housekeeping loop, beside its consumer (consumer.ts) on the same Redis state: every
 * DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS it closes due windows (closer.ts), drains the queued ClickHouse
 * rows (clickhouse-writer.ts), the alert outbox and the dead letters the apply script queued. Each of
 * those is a Redis-backed queue, so a crash loses nothing: the next round (of any instance) picks it up.
 */
import type { Producer } from 'kafkajs';
import type { RedisClient } from '../core/redis.js';
import { codecFor } from '../core/avro.js';
import type { ClickHouseClient } from '../core/clickhouse.js';
import type { CoreSettings } from '../core/config.js';
import { DeadLetterPublisher } from '../core/deadletter.js';
import type { DriftThresholds } from '../core/drift/config.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeadLetter } from '../schemas/types.js';
import { AlertOutbox } from './alerts.js';
import type { SketchCatalog } from './baselines.js';
import { PendingRowWriter } from './clickhouse-writer.js';
import { WindowCloser } from './closer.js';
import type { ClosedWindow } from './types.js';
import type { AggregatorSettings } from './config.js';
import type { AggregatorState } from './redis-state.js';
import type { RollbackTarget } from './rollback.js';
import type { AggregatorMetrics } from './telemetry.js';

export interface HousekeepingDeps {
  core: CoreSettings;
  settings: AggregatorSettings;
  thresholds: DriftThresholds;
  redis: RedisClient;
  clickhouse: ClickHouseClient;
  state: AggregatorState;
  catalog: SketchCatalog;
  metrics: AggregatorMetrics;
  log: Logger;
  rollbackTarget: RollbackTarget | null;
  now: () => number;
  /** Window sizes, smallest (counted) first. */
  windowSizesMs: readonly number[];
  /** False while Redis state is older than what was applied (the consumer is replaying): nothing may close. */
  mayClose: () => Promise<boolean>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Housekeeping {
  readonly closer: WindowCloser;
  readonly writer: PendingRowWriter;
  private readonly outbox: AlertOutbox;
  private readonly deadLetterCodec = codecFor('DeadLetter');
  private readonly closeListeners = new Set<(closed: ClosedWindow) => void>();
  private producer: Producer | undefined;
  private deadLetters: DeadLetterPublisher | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly deps: HousekeepingDeps) {
    const { settings, core, redis, state, log } = deps;
    const [windowMs, ...largerSizesMs] = deps.windowSizesMs;
    if (windowMs === undefined) throw new DriftlineError('CONFIG_INVALID', 'the aggregator needs at least one window size');
    this.closer = new WindowCloser(
      {
        windowMs,
        largerSizesMs,
        allowedLatenessMs: settings.allowedLatenessMs,
        idleCloseMs: settings.idleCloseMs,
        closeLockTtlMs: settings.closeLockTtlMs,
        stateTtlSeconds: settings.stateTtlSeconds,
        thresholds: deps.thresholds,
        rollback: { enabled: settings.autoRollback, maxAgeMs: settings.autoRollbackMaxAgeMs, windows: settings.autoRollbackWindows },
        samplePerWindow: settings.recentSamplePerWindow,
      },
      { state, catalog: deps.catalog, metrics: deps.metrics, log, rollbackTarget: deps.rollbackTarget, now: deps.now, mayClose: deps.mayClose },
    );
    this.writer = new PendingRowWriter({
      redis,
      pendingKey: state.key('pending'),
      lockKey: state.key('pending-lock'),
      client: deps.clickhouse,
      database: core.clickhouseDatabase,
      log,
      retryMaxMs: settings.clickhouseRetryMaxMs,
      // The publisher exists once start() got the producer; the writer only runs after that.
      deadLetters: { publish: (letters) => this.publishDeadLetters(letters) },
    });
    this.outbox = new AlertOutbox(redis, state.key('alerts-outbox'), state.key('alerts-lock'));
  }

  /** Called for every window this instance closes (tests, the CLI's progress output). */
  onWindowClosed(listener: (closed: ClosedWindow) => void): void {
    this.closeListeners.add(listener);
  }

  /** Starts the loop; alerts and dead letters go out through `producer` (connected by the caller). */
  start(producer: Producer): void {
    this.producer = producer;
    this.deadLetters = new DeadLetterPublisher(producer, this.deps.core.topicDeadLetter);
    this.loop = this.runLoop();
  }

  /** One round: close due windows, drain ClickHouse rows, alerts and dead letters. */
  async round(): Promise<void> {
    const closed = await this.closer.tick();
    for (const window of closed) for (const listener of this.closeListeners) listener(window);
    await this.writer.flush();
    if (this.producer) {
      const sent = await this.outbox.drain(this.producer, this.deps.core.topicAlerts);
      this.deps.metrics.alertsPublished.inc(sent);
      await this.drainDeadLetters();
    }
    this.deps.metrics.clickhousePendingRows.set(await this.writer.pendingCount());
  }

  /** Ends the loop after its round in flight, then flushes what is queued (what fails stays queued in Redis). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    try {
      await this.writer.flush(true);
      if (this.producer) this.deps.metrics.alertsPublished.inc(await this.outbox.drain(this.producer, this.deps.core.topicAlerts));
      if (this.producer) await this.drainDeadLetters();
    } catch (err) {
      this.deps.log.warn({ err: toDriftlineError(err).toJSON() }, 'final flush incomplete; rows and alerts stay queued in Redis');
    }
  }

  private async publishDeadLetters(letters: DeadLetter[]): Promise<void> {
    if (!this.deadLetters) throw new DriftlineError('KAFKA_UNAVAILABLE', 'the aggregator is not started: no dead-letter producer yet');
    await this.deadLetters.publish(letters);
  }

  /** Publishes the dead letters the apply script queued (one instance at a time), then drops them from Redis. */
  private async drainDeadLetters(): Promise<void> {
    await this.deps.state.drainDeadLetters(async (values) => {
      await this.publishDeadLetters(values.map((value) => this.deadLetterCodec.decode(value)));
    });
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.round();
      } catch (err) {
        this.deps.log.error({ err: toDriftlineError(err).toJSON() }, 'aggregator housekeeping failed; retrying');
      }
      await sleep(this.deps.settings.closeIntervalMs);
    }
  }
}
