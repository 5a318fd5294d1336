import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from '../../core/duration.js';

describe('durations', () => {
  it('reads a whole number with a unit, or plain milliseconds', () => {
    expect(['500ms', '30s', '5m', '1h', '1d', '60000', ' 2h '].map(parseDurationMs)).toEqual([500, 30_000, 300_000, 3_600_000, 86_400_000, 60_000, 7_200_000]);
  });

  it('refuses what is not one (null)', () => {
    expect(['', '0', '1.5h', '-5m', '5 minutes', 'h', '5w'].map(parseDurationMs)).toEqual([null, null, null, null, null, null, null]);
  });

  it('writes the shortest text back', () => {
    expect([3_600_000, 90_000, 300_000, 1_500, 86_400_000].map(formatDurationMs)).toEqual(['1h', '90s', '5m', '1500ms', '1d']);
  });
});
