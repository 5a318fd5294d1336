import { describe, expect, it } from 'vitest';
import { windowSizesOf } from '../../drift-aggregator/config.js';
import { constituentStarts, isPastWatermark, largeWindowId, parseLargeWindowId, parseWindowId, shouldClose, slidingWindowStarts, streamProgress, watermarkOf, windowId, windowStartOf, windowTimeOf } from '../../drift-aggregator/windows.js';

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

describe('several window sizes', () => {
  it('DRIFTLINE_WINDOW_SIZES: sorted, smallest first; empty means the one DRIFTLINE_WINDOW_MS', () => {
    expect(windowSizesOf({ windowMs: 60_000, windowSizes: [] })).toEqual([60_000]);
    expect(windowSizesOf({ windowMs: 60_000, windowSizes: ['1h', '1m', '5m', '60s'] })).toEqual([60_000, 300_000, 3_600_000]);
  });

  it('refuses a size that is not a duration, under 1 s, or not a multiple of the smallest, naming the setting', () => {
    expect(() => windowSizesOf({ windowMs: 60_000, windowSizes: ['5m', 'an hour'] })).toThrow(/DRIFTLINE_WINDOW_SIZES.*"an hour" is not a duration/);
    expect(() => windowSizesOf({ windowMs: 60_000, windowSizes: ['500ms'] })).toThrow(/shorter than 1s/);
    expect(() => windowSizesOf({ windowMs: 60_000, windowSizes: ['2m', '5m'] })).toThrow(/5m is not a multiple of the smallest size 2m/);
  });

  it('larger windows have ids of their own and are made of the counted windows they span', () => {
    const ref = { modelName: 'a|b~c', modelVersion: 2, start: 3_600_000 };
    expect(parseLargeWindowId(largeWindowId(ref, 3_600_000))).toEqual({ ref, sizeMs: 3_600_000 });
    expect(parseLargeWindowId(windowId(ref))).toBeNull();
    expect(constituentStarts(3_600_000, 3_600_000, 300_000)).toHaveLength(12);
    expect(constituentStarts(0, 900_000, 300_000)).toEqual([0, 300_000, 600_000]);
  });
});
