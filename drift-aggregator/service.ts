/**
 * The drift aggregator service: its consumer (consumer.ts: ScoredReview batches → window sketches in Redis
 * with their offsets, one Lua call per batch, exactly-once counting) and its housekeeping loop
 * (housekeeping.ts: closes due windows, drains ClickHouse rows, alerts and dead letters) on one Redis state,
 * started and stopped together. Several instances in one group give the same totals as one: Redis offsets
 * decide what was counted, whoever consumes the partition.
 */
import type { Server } from 'node:http';
import type { Producer } from 'kafkajs';
import { ensureTopics } from '../core/kafka.js';
import { readinessCondition, serveMetrics, type ReadinessCheck } from '../core/metrics.js';
import { SketchCatalog } from './baselines.js';
import { runMigrations, type PendingRowWriter } from './clickhouse-writer.js';
import type { WindowCloser } from './closer.js';
import { windowSizesOf } from './config.js';
import { BatchConsumer } from './consumer.js';
import { Housekeeping } from './housekeeping.js';
import { AggregatorState } from './redis-state.js';
import { AggregatorMetrics } from './telemetry.js';
import type { AggregatorDeps, ClosedWindow } from './types.js';

export class AggregatorService {
  readonly metrics: AggregatorMetrics;
  readonly state: AggregatorState;
  readonly catalog: SketchCatalog;
  /** Window sizes, smallest first (DRIFTLINE_WINDOW_SIZES); events are counted in the smallest. */
  readonly windowSizesMs: number[];
  private readonly consumer: BatchConsumer;
  private readonly housekeeper: Housekeeping;
  private producer: Producer | undefined;
  private metricsServer: Server | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly deps: AggregatorDeps) {
    const { settings, core, redis, log } = deps;
    const now = deps.now ?? Date.now;
    this.windowSizesMs = windowSizesOf(settings);
    this.metrics = deps.metrics ?? new AggregatorMetrics();
    this.state = new AggregatorState(redis, core.redisPrefix);
    this.catalog = new SketchCatalog(deps.baselines, settings.maxSegments, now);
    const shared = { core, settings, redis, state: this.state, catalog: this.catalog, metrics: this.metrics, log, now };
    this.consumer = new BatchConsumer({ ...shared, kafka: deps.kafka, windowMs: this.windowSizesMs[0] ?? settings.windowMs });
    this.housekeeper = new Housekeeping({
      ...shared,
      thresholds: deps.thresholds,
      clickhouse: deps.clickhouse,
      rollbackTarget: deps.rollbackTarget,
      windowSizesMs: this.windowSizesMs,
      mayClose: () => this.consumer.verifyState(),
    });
  }

  get closer(): WindowCloser {
    return this.housekeeper.closer;
  }

  get writer(): PendingRowWriter {
    return this.housekeeper.writer;
  }

  /**
   * What `GET /ready` checks: the consumer is in its group, Redis (sketches, offsets) and ClickHouse
   * (drift rows) answer. An instance with no partition (more instances than partitions) is ready: it
   * stands by in the group.
   */
  readinessChecks(): ReadinessCheck[] {
    return [
      readinessCondition('kafka_consumer', () => this.consumer.inGroup && !this.stopping, `not in consumer group ${this.deps.settings.groupId}`),
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
    this.housekeeper.onWindowClosed(listener);
  }

  async start(): Promise<void> {
    const { core, settings, kafka, log } = this.deps;
    await ensureTopics(kafka, [core.topicScored, core.topicAlerts, core.topicDeadLetter], core);
    await runMigrations(this.deps.clickhouse, core.clickhouseDatabase, settings.recentSampleRetentionDays);
    await this.state.loadScript();
    if (settings.metricsPort > 0) this.metricsServer = await serveMetrics(this.metrics.registry, settings.metricsPort, settings.metricsHost, { readiness: this.readinessChecks() });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    await this.consumer.start();
    this.housekeeper.start(this.producer);
    log.info({ topic: core.topicScored, group: settings.groupId, windowSizesMs: this.windowSizesMs, windowTime: settings.windowTime, metricsPort: settings.metricsPort }, 'drift aggregator started');
  }

  /** One housekeeping round now (tests, the CLI): close due windows, drain rows, alerts and dead letters. */
  housekeeping(): Promise<void> {
    return this.housekeeper.round();
  }

  /** Graceful stop: finish the batch in flight, commit, flush queued rows and alerts, disconnect. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      await this.consumer.stop();
      await this.housekeeper.stop();
      await this.producer?.disconnect().catch(() => undefined);
      const server = this.metricsServer;
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
      this.deps.log.info('drift aggregator stopped');
    })();
    return this.stopped;
  }
}
