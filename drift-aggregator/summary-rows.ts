/**
 * The window_summary rows a closed window writes: one per segment from its evaluation, and the empty row a
 * window gets when its only events came late (so its late count is visible all the same).
 */
import { ALL_SEGMENTS, type WindowSummaryRow } from '../core/drift/tables.js';
import type { DriftStatus } from '../schemas/types.js';
import type { SegmentSummary } from './evaluate.js';
import { windowRowKey, type TimeSource, type WindowRef } from './windows.js';

export function summaryRow(
  ref: WindowRef,
  windowMs: number,
  summary: SegmentSummary,
  extra: { lateEvents: number; timeSources: Record<TimeSource, number>; status: DriftStatus; stateLost: boolean; writtenAt: number },
): WindowSummaryRow {
  return {
    ...windowRowKey(ref, windowMs, summary.segment),
    events: summary.summary.count + summary.summary.invalid,
    late_events: extra.lateEvents,
    event_time_events: extra.timeSources.event,
    ingest_time_events: extra.timeSources.ingest,
    outliers: summary.summary.outliers,
    outlier_rate: summary.outlierRate,
    mean_confidence: summary.meanConfidence,
    accuracy: summary.accuracy,
    macro_f1: summary.macroF1,
    estimated_accuracy: summary.estimatedAccuracy,
    estimated_macro_f1: summary.estimatedMacroF1,
    status: extra.status,
    state_lost: extra.stateLost ? 1 : 0,
    reference_scope: summary.referenceScope,
    reference_rows: summary.referenceRows,
    written_at: extra.writtenAt,
  };
}

export function emptySummaryRow(ref: WindowRef, windowMs: number): WindowSummaryRow {
  return {
    ...windowRowKey(ref, windowMs, ALL_SEGMENTS),
    events: 0,
    late_events: 0,
    event_time_events: 0,
    ingest_time_events: 0,
    outliers: 0,
    outlier_rate: 0,
    mean_confidence: 0,
    accuracy: null,
    macro_f1: null,
    estimated_accuracy: null,
    estimated_macro_f1: null,
    status: 'green',
    state_lost: 0,
    reference_scope: 'global',
    reference_rows: 0,
    written_at: 0,
  };
}
