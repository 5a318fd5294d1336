/** Prometheus metrics of the aggregator (served on DRIFTLINE_AGGREGATOR_METRICS_PORT). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../core/metrics.js';
import type { DriftStatus } from '../schemas/types.js';
import type { SegmentAssessment } from './evaluate.js';

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
  readonly stateRewinds: Counter;
  readonly duplicates: Counter;
  readonly rewindingPartitions: Gauge;
  readonly driftValue: Gauge;
  readonly driftPValue: Gauge;
  readonly driftPValueAdjusted: Gauge;
  readonly driftThreshold: Gauge;
  readonly driftStatus: Gauge;
  readonly driftRawStatus: Gauge;
  readonly driftSamples: Gauge;
  readonly driftWindowStart: Gauge;
  readonly estimatedAccuracy: Gauge;
  readonly estimatedMacroF1: Gauge;
  /** Per model: the window the estimate gauges show and their segments (a newer version's window replaces them). */
  private readonly estimateShown = new Map<string, { start: number; version: string; segments: Set<string> }>();
  /** Per model: the window the drift gauges show and the label sets written for it. */
  private readonly shown = new Map<string, { start: number; version: string; series: DriftLabels[] }>();

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
    // One series per (model, version, segment, feature, metric), mirroring a drift_metrics row in ClickHouse.
    this.duplicates = new Counter({ name: 'driftline_aggregator_duplicates_total', help: 'Events not counted because their review_id was counted before inside DRIFTLINE_DEDUPE_HORIZON_S.', registers });
    this.stateRewinds = new Counter({ name: 'driftline_aggregator_state_rewinds_total', help: 'Times Redis held an applied offset older than one this instance applied (the gap is replayed from Kafka).', registers });
    this.rewindingPartitions = new Gauge({ name: 'driftline_aggregator_rewinding_partitions', help: 'Partitions replaying what an older Redis lost (no window closes meanwhile).', registers });
    const labelNames = ['model', 'version', 'segment', 'feature', 'metric'] as const;
    this.driftValue = new Gauge({ name: 'driftline_drift_value', help: 'Drift effect size of the latest closed window (drift_metrics.value: what the thresholds are compared with).', labelNames, registers });
    this.driftPValue = new Gauge({ name: 'driftline_drift_p_value', help: 'Unadjusted p-value of the latest closed window (KS, chi-square, prediction drift); absent for effect-only metrics and insufficient windows.', labelNames, registers });
    this.driftPValueAdjusted = new Gauge({ name: 'driftline_drift_p_value_adjusted', help: 'p-value after the multiple-testing correction over the window (DRIFTLINE_DRIFT_P_ADJUST); absent like driftline_drift_p_value.', labelNames, registers });
    this.driftThreshold = new Gauge({ name: 'driftline_drift_threshold', help: 'Amber/red threshold of a drift metric (level label).', labelNames: [...labelNames, 'level'], registers });
    this.driftStatus = new Gauge({ name: 'driftline_drift_status', help: 'Status after hysteresis: 0 green, 1 amber, 2 red.', labelNames, registers });
    this.driftRawStatus = new Gauge({ name: 'driftline_drift_raw_status', help: 'Status of the latest window alone, before hysteresis: 0 green, 1 amber, 2 red.', labelNames, registers });
    this.driftSamples = new Gauge({ name: 'driftline_drift_samples', help: 'Values compared in the latest closed window (side: current window or reference).', labelNames: [...labelNames, 'side'], registers });
    const estimateLabels = ['model', 'version', 'segment'] as const;
    this.estimatedAccuracy = new Gauge({
      name: 'driftline_estimated_accuracy',
      help: 'Label-free accuracy estimate of the latest closed window from the calibrated confidences (CBPE; window_summary.estimated_accuracy).',
      labelNames: estimateLabels,
      registers,
    });
    this.estimatedMacroF1 = new Gauge({
      name: 'driftline_estimated_macro_f1',
      help: 'Label-free macro-F1 estimate of the latest closed window from the calibrated confidences (CBPE; window_summary.estimated_macro_f1).',
      labelNames: estimateLabels,
      registers,
    });
    this.driftWindowStart = new Gauge({ name: 'driftline_drift_window_start_seconds', help: 'Start of the window the drift gauges of this model show (Unix seconds).', labelNames: ['model', 'version'], registers });
  }

  /**
   * Shows one closed window's assessments. The gauges follow the newest window of each model: a window
   * that starts earlier than the one shown (a late close) is left to ClickHouse, and a newer window of
   * another version (promotion, rollback) replaces the old version's series instead of leaving them
   * behind — a red left over from a retired version would otherwise keep an alert firing for ever.
   */
  recordWindow(window: { modelName: string; modelVersion: number; start: number }, items: readonly DriftGaugeItem[]): void {
    const version = String(window.modelVersion);
    const previous = this.shown.get(window.modelName);
    if (previous && window.start < previous.start) return;
    if (previous && previous.version !== version) this.forget(window.modelName, previous.version, previous.series);
    const series = previous && previous.version === version ? previous.series : [];
    const known = new Set(series.map(seriesKey));
    for (const item of items) {
      const labels: DriftLabels = { model: window.modelName, version, segment: item.segment, feature: item.feature, metric: item.metric };
      this.recordItem(labels, item);
      if (!known.has(seriesKey(labels))) {
        known.add(seriesKey(labels));
        series.push(labels);
      }
    }
    this.driftWindowStart.set({ model: window.modelName, version }, window.start / 1000);
    this.shown.set(window.modelName, { start: window.start, version, series });
  }

  /**
   * Shows the label-free estimates of one closed window, per segment; like the drift gauges they follow
   * the newest window of each model, and a newer version's window removes the older version's series.
   */
  recordPerformanceEstimate(
    window: { modelName: string; modelVersion: number; start: number },
    rows: ReadonlyArray<{ segment: string; estimated_accuracy: number | null; estimated_macro_f1: number | null }>,
  ): void {
    const version = String(window.modelVersion);
    const previous = this.estimateShown.get(window.modelName);
    if (previous && window.start < previous.start) return;
    if (previous && previous.version !== version) {
      for (const segment of previous.segments) for (const gauge of [this.estimatedAccuracy, this.estimatedMacroF1]) gauge.remove({ model: window.modelName, version: previous.version, segment });
    }
    const segments = previous && previous.version === version ? previous.segments : new Set<string>();
    for (const row of rows) {
      const labels = { model: window.modelName, version, segment: row.segment };
      setOrRemove(this.estimatedAccuracy, labels, row.estimated_accuracy);
      setOrRemove(this.estimatedMacroF1, labels, row.estimated_macro_f1);
      segments.add(row.segment);
    }
    this.estimateShown.set(window.modelName, { start: window.start, version, segments });
  }

  private recordItem(labels: DriftLabels, item: DriftGaugeItem): void {
    setOrRemove(this.driftValue, labels, item.effect);
    setOrRemove(this.driftPValue, labels, item.pValue);
    setOrRemove(this.driftPValueAdjusted, labels, item.pValueAdjusted);
    this.driftThreshold.set({ ...labels, level: 'amber' }, item.thresholdAmber);
    this.driftThreshold.set({ ...labels, level: 'red' }, item.thresholdRed);
    this.driftStatus.set(labels, STATUS_VALUE[item.status]);
    this.driftRawStatus.set(labels, STATUS_VALUE[item.rawStatus]);
    this.driftSamples.set({ ...labels, side: 'current' }, item.currentCount);
    this.driftSamples.set({ ...labels, side: 'reference' }, item.referenceCount);
  }

  private forget(model: string, version: string, series: readonly DriftLabels[]): void {
    for (const labels of series) {
      for (const gauge of [this.driftValue, this.driftPValue, this.driftPValueAdjusted, this.driftStatus, this.driftRawStatus]) gauge.remove(labels);
      for (const level of ['amber', 'red']) this.driftThreshold.remove({ ...labels, level });
      for (const side of ['current', 'reference']) this.driftSamples.remove({ ...labels, side });
    }
    this.driftWindowStart.remove({ model, version });
  }
}

type DriftLabels = Record<'model' | 'version' | 'segment' | 'feature' | 'metric', string>;

/** What the gauges need of one assessment: drift-aggregator/evaluate.ts's SegmentAssessment, with its status after hysteresis. */
export type DriftGaugeItem = Pick<
  SegmentAssessment,
  'segment' | 'feature' | 'effect' | 'pValue' | 'pValueAdjusted' | 'thresholdAmber' | 'thresholdRed' | 'rawStatus' | 'currentCount' | 'referenceCount'
> & { metric: string; status: DriftStatus };

function seriesKey(labels: DriftLabels): string {
  return `${labels.segment}|${labels.feature}|${labels.metric}`;
}

/** A missing number (no p-value, NaN effect) removes the series rather than leaving the previous window's value. */
function setOrRemove(gauge: Gauge, labels: Record<string, string>, value: number | null): void {
  if (value !== null && Number.isFinite(value)) gauge.set(labels, value);
  else gauge.remove(labels);
}
