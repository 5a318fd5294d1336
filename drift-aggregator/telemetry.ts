/** Prometheus metrics of the aggregator (served on DRIFTLINE_AGGREGATOR_METRICS_PORT). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../core/metrics.js';
import type { DriftStatus } from '../schemas/types.js';

const STATUS_VALUE: Record<DriftStatus, number> = { green: 0, amber: 1, red: 2 };

export class AggregatorMetrics {
  readonly registry: Registry;
  readonly eventsConsumed: Counter;
  readonly lateEvents: Counter;
  readonly undecodable: Counter;
  readonly invalidEvents: Counter<'error_code'>;
  readonly replayedBatches: Counter;
  readonly windowsClosed: Counter;
  readonly alertsPublished: Counter;
  readonly rollbacks: Counter;
  readonly redisApplySeconds: Histogram;
  readonly windowCloseSeconds: Histogram;
  readonly clickhousePendingRows: Gauge;
  readonly stateLost: Gauge;
  readonly driftValue: Gauge;
  readonly driftPValue: Gauge;
  readonly driftThreshold: Gauge;
  readonly driftStatus: Gauge;

  constructor(registry: Registry = createMetricsRegistry('drift-aggregator')) {
    this.registry = registry;
    const registers = [registry];
    this.eventsConsumed = new Counter({ name: 'driftline_aggregator_events_total', help: 'ScoredReview events applied to window sketches (late ones included).', registers });
    this.lateEvents = new Counter({ name: 'driftline_aggregator_late_events_total', help: 'Events whose window had already closed (counted as late_events, not in the sketches).', registers });
    this.undecodable = new Counter({ name: 'driftline_aggregator_undecodable_total', help: 'Messages that were not ScoredReview Avro (sent to the dead-letter topic).', registers });
    this.invalidEvents = new Counter({
      name: 'driftline_aggregator_invalid_events_total',
      help: 'ScoredReview events refused before windowing (absurd times, oversized fields), by error code; sent to the dead-letter topic.',
      labelNames: ['error_code'],
      registers,
    });
    this.replayedBatches = new Counter({ name: 'driftline_aggregator_replayed_batches_total', help: 'Kafka batches skipped because Redis had already applied their offsets.', registers });
    this.windowsClosed = new Counter({ name: 'driftline_aggregator_windows_closed_total', help: 'Windows closed by this instance.', registers });
    this.alertsPublished = new Counter({ name: 'driftline_aggregator_alerts_published_total', help: 'DriftAlert events published.', registers });
    this.rollbacks = new Counter({ name: 'driftline_aggregator_rollbacks_total', help: 'Automatic rollbacks published.', registers });
    this.redisApplySeconds = new Histogram({
      name: 'driftline_aggregator_redis_apply_seconds',
      help: 'Latency of the per-batch Redis apply (one Lua call).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.windowCloseSeconds = new Histogram({ name: 'driftline_aggregator_window_close_seconds', help: 'Time to close one window (read sketches, all metrics, queue rows).', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
    this.clickhousePendingRows = new Gauge({ name: 'driftline_aggregator_clickhouse_pending_rows', help: 'Rows queued in Redis waiting for ClickHouse.', registers });
    this.stateLost = new Gauge({ name: 'driftline_aggregator_state_lost', help: '1 once Redis state was found missing behind committed Kafka offsets (affected windows are marked state_lost).', registers });
    const labelNames = ['model', 'version', 'segment', 'feature', 'metric'] as const;
    this.driftValue = new Gauge({ name: 'driftline_drift_value', help: 'Latest drift metric value of a closed window.', labelNames, registers });
    this.driftPValue = new Gauge({ name: 'driftline_drift_p_value', help: 'Latest p-value (KS, chi-square), Holm-adjusted.', labelNames, registers });
    this.driftThreshold = new Gauge({ name: 'driftline_drift_threshold', help: 'Amber/red threshold of a drift metric.', labelNames: [...labelNames, 'level'], registers });
    this.driftStatus = new Gauge({ name: 'driftline_drift_status', help: 'Status after hysteresis: 0 green, 1 amber, 2 red.', labelNames, registers });
  }

  recordItem(item: { model: string; version: number; segment: string; feature: string; metric: string; value: number; pValue: number | null; amber: number; red: number; status: DriftStatus }): void {
    const labels = { model: item.model, version: String(item.version), segment: item.segment, feature: item.feature, metric: item.metric };
    if (Number.isFinite(item.value)) this.driftValue.set(labels, item.value);
    if (item.pValue !== null) this.driftPValue.set(labels, item.pValue);
    this.driftThreshold.set({ ...labels, level: 'amber' }, item.amber);
    this.driftThreshold.set({ ...labels, level: 'red' }, item.red);
    this.driftStatus.set(labels, STATUS_VALUE[item.status]);
  }
}
