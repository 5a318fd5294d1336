import { describe, expect, it } from 'vitest';
import { isPastWatermark, parseWindowId, shouldClose, slidingWindowStarts, streamProgress, watermarkOf, windowId, windowStartOf, windowTimeOf } from '../../drift-aggregator/windows.js';

describe('window assignment', () => {
  it('assigns tumbling windows by floor(time / length)', () => {
    expect(windowStartOf(0, 60_000)).toBe(0);
    expect(windowStartOf(59_999, 60_000)).toBe(0);
    expect(windowStartOf(60_000, 60_000)).toBe(60_000);
    expect(windowStartOf(-1, 60_000)).toBe(-60_000);
  });

  it('uses event time in event mode, falling back to ingest time, and ingest time in ingest mode', () => {
    expect(windowTimeOf({ event_time_ms: 1_000, ingest_time_ms: 9_000 }, 'event')).toBe(1_000);
    expect(windowTimeOf({ event_time_ms: null, ingest_time_ms: 9_000 }, 'event')).toBe(9_000);
    expect(windowTimeOf({ event_time_ms: 1_000, ingest_time_ms: 9_000 }, 'ingest')).toBe(9_000);
  });

  it('round-trips window ids, also for names containing the separator', () => {
    const ref = { modelName: 'a|b', modelVersion: 3, start: 120_000 };
    expect(parseWindowId(windowId(ref))).toEqual(ref);
  });
});

describe('watermark and lateness', () => {
  it('watermark is the max time seen minus the allowed lateness', () => {
    expect(watermarkOf(100_000, 10_000)).toBe(90_000);
    expect(watermarkOf(null, 10_000)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a window is complete only once the watermark reaches its end', () => {
    const watermark = watermarkOf(70_000, 10_000); // 60_000
    expect(isPastWatermark(0, 60_000, watermark)).toBe(true);
    expect(isPastWatermark(60_000, 60_000, watermark)).toBe(false);
    expect(isPastWatermark(0, 60_000, watermarkOf(69_999, 10_000))).toBe(false);
  });

  it('progress is the minimum over every partition of the topic: one that applied nothing yet holds it back', () => {
    const counts = { scored: 3 };
    // Partitions 0 and 1 are far ahead, partition 2 has not applied anything: no watermark at all.
    expect(streamProgress({ 'scored:0': 600_000, 'scored:1': 540_000 }, counts)).toBeNull();
    expect(streamProgress({ 'scored:0': 600_000, 'scored:1': 540_000, 'scored:2': 120_000 }, counts)).toBe(120_000);
    // Without known partition counts, the partitions that applied something decide.
    expect(streamProgress({ 'scored:0': '600000', 'scored:1': '540000' }, {})).toBe(540_000);
    expect(streamProgress({}, counts)).toBeNull();
  });

  it('closes on the watermark or after the idle timeout, not before', () => {
    const window = { start: 0, lastTouchedWallMs: 1_000 };
    expect(shouldClose(window, { watermark: 59_999, nowWallMs: 1_500 }, 60_000, 5_000)).toBe(false);
    expect(shouldClose(window, { watermark: 60_000, nowWallMs: 1_500 }, 60_000, 5_000)).toBe(true);
    expect(shouldClose(window, { watermark: 0, nowWallMs: 6_000 }, 60_000, 5_000)).toBe(true);
  });
});

describe('sliding views', () => {
  it('are the consecutive tumbling windows ending at the given time', () => {
    expect(slidingWindowStarts(180_000, 180_000, 60_000)).toEqual([0, 60_000, 120_000]);
    expect(slidingWindowStarts(150_000, 120_000, 60_000)).toEqual([60_000, 120_000]);
    expect(() => slidingWindowStarts(180_000, 90_000, 60_000)).toThrow();
  });
});
