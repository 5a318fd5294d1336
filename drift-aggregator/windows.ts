/**
 * Window arithmetic (pure): tumbling windows per model name + version on either the event clock or the
 * ingest (processing) clock, the watermark, lateness and the close rule. Sliding views are unions of
 * consecutive tumbling windows (see `slidingWindowStarts`), so only tumbling sketches are ever stored.
 */
import type { ScoredReview } from '../schemas/types.js';
import type { WindowTimeMode } from './config.js';
import type { WindowRowKey } from '../core/drift/tables.js';

export interface WindowRef {
  modelName: string;
  modelVersion: number;
  /** Inclusive start (ms since epoch); the window is [start, start + windowMs). */
  start: number;
}

/** Which clock an event was windowed on (recorded per window: event_time_events / ingest_time_events). */
export type TimeSource = 'event' | 'ingest';

/** The time an event is windowed on and where it came from: event time when asked for and present, else ingest time. */
export function windowClockOf(event: Pick<ScoredReview, 'event_time_ms' | 'ingest_time_ms'>, mode: WindowTimeMode): { time: number; source: TimeSource } {
  if (mode === 'event' && event.event_time_ms !== null && Number.isFinite(event.event_time_ms)) return { time: event.event_time_ms, source: 'event' };
  return { time: event.ingest_time_ms, source: 'ingest' };
}

/** The time an event is windowed on: event time (falling back to ingest time) or ingest time. */
export function windowTimeOf(event: Pick<ScoredReview, 'event_time_ms' | 'ingest_time_ms'>, mode: WindowTimeMode): number {
  return windowClockOf(event, mode).time;
}

export function windowStartOf(timeMs: number, windowMs: number): number {
  return Math.floor(timeMs / windowMs) * windowMs;
}

/** Stable text id `name|version|start`; the name may itself contain '|' (parsed from the right). */
export function windowId(ref: WindowRef): string {
  return `${ref.modelName}|${ref.modelVersion}|${ref.start}`;
}

/**
 * Id of a window of a larger size (DRIFTLINE_WINDOW_SIZES) than the counted one: `<sizeMs>~<windowId>`.
 * Counted windows keep the plain id, so one size alone stores exactly what it always did.
 */
export function largeWindowId(ref: WindowRef, sizeMs: number): string {
  return `${sizeMs}~${windowId(ref)}`;
}

/** The size and window of a large-window id; null for a counted (smallest) window's id. */
export function parseLargeWindowId(id: string): { ref: WindowRef; sizeMs: number } | null {
  const match = /^(\d+)~(.*)$/s.exec(id);
  return match ? { sizeMs: Number(match[1]), ref: parseWindowId(match[2]!) } : null;
}

/** Starts of the counted windows of `smallestMs` that make up the window of `sizeMs` starting at `start`. */
export function constituentStarts(start: number, sizeMs: number, smallestMs: number): number[] {
  const starts: number[] = [];
  for (let s = start; s < start + sizeMs; s += smallestMs) starts.push(s);
  return starts;
}

export function parseWindowId(id: string): WindowRef {
  const last = id.lastIndexOf('|');
  const middle = id.lastIndexOf('|', last - 1);
  if (last < 0 || middle < 0) throw new Error(`not a window id: ${id}`);
  return { modelName: id.slice(0, middle), modelVersion: Number(id.slice(middle + 1, last)), start: Number(id.slice(last + 1)) };
}

/**
 * The stream's progress on the window clock: the minimum over every partition of the latest window time
 * applied from it (`partitionMax`: "topic:partition" -> time). `partitionCounts` (topic -> partitions the
 * topic has) names every partition the aggregator owns: one that has applied nothing yet holds the progress
 * back (null, no watermark: windows then close only when idle), so it cannot run ahead on the others' times
 * and make that partition's events late. Without known counts, the partitions that applied something count.
 */
export function streamProgress(partitionMax: Record<string, string | number>, partitionCounts: Record<string, string | number>): number | null {
  const fields = Object.keys(partitionMax);
  if (fields.length === 0) return null;
  for (const [topic, count] of Object.entries(partitionCounts)) {
    for (let partition = 0; partition < Number(count); partition++) if (!(`${topic}:${partition}` in partitionMax)) return null;
  }
  return Math.min(...fields.map((field) => Number(partitionMax[field])));
}

/** Watermark: everything at or before it is assumed complete. -Infinity until something was seen. */
export function watermarkOf(maxTimeSeen: number | null, allowedLatenessMs: number): number {
  return maxTimeSeen === null ? Number.NEGATIVE_INFINITY : maxTimeSeen - allowedLatenessMs;
}

/** A window is complete (may close, and later events for it are late) once the watermark reaches its end. */
export function isPastWatermark(start: number, windowMs: number, watermark: number): boolean {
  return start + windowMs <= watermark;
}

/** Close rule: the watermark passed the end, or the window got no events for `idleCloseMs` of wall-clock time. */
export function shouldClose(
  window: { start: number; lastTouchedWallMs: number },
  clock: { watermark: number; nowWallMs: number },
  windowMs: number,
  idleCloseMs: number,
): boolean {
  return isPastWatermark(window.start, windowMs, clock.watermark) || clock.nowWallMs - window.lastTouchedWallMs >= idleCloseMs;
}

/** The tumbling window starts that make up the sliding view of `lengthMs` ending at (exclusive) `endMs`. */
export function slidingWindowStarts(endMs: number, lengthMs: number, windowMs: number): number[] {
  if (lengthMs % windowMs !== 0) throw new Error(`a sliding view must span whole windows: ${lengthMs} is not a multiple of ${windowMs}`);
  const lastStart = windowStartOf(endMs - 1, windowMs);
  const starts: number[] = [];
  for (let start = lastStart - lengthMs + windowMs; start <= lastStart; start += windowMs) starts.push(start);
  return starts;
}

/** The key columns every drift table row of a window has: its bounds, size, model version and segment. */
export function windowRowKey(ref: WindowRef, sizeMs: number, segment: string): WindowRowKey {
  return { window_start: ref.start, window_end: ref.start + sizeMs, window_size_ms: sizeMs, model_name: ref.modelName, model_version: ref.modelVersion, segment };
}
