/**
 * Durations as people write them in settings and query strings: `500ms`, `30s`, `5m`, `1h`, `1d`, or a
 * plain number of milliseconds. Used for the drift window sizes (DRIFTLINE_WINDOW_SIZES, the API's
 * `window_size` filter), so both read the same text the same way.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `text`, or null when it is not a positive whole duration. */
export function parseDurationMs(text: string): number | null {
  const match = /^\s*(\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return null;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : null;
}

/** The shortest text for a duration (`3600000` -> `1h`, `90000` -> `90s`). */
export function formatDurationMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  return `${ms}ms`;
}
