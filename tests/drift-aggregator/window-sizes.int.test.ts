/**
 * Several window sizes against real Redis: with sizes 5m,1h the 1 h window is built by merging its twelve
 * counted 5 m windows, and it equals the 1 h window counted directly (an aggregator with the one size 1h) —
 * the same rows, the same sketch bins — while its counts are the sums of the 5 m rows. Late events of a
 * 5 m window are late for its hour too.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import type { WindowSummaryRow } from '../../core/drift/tables.js';
import { createLogger } from '../../core/logger.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../../drift-aggregator/baselines.js';
import type { PendingEntry } from '../../drift-aggregator/clickhouse-writer.js';
import { WindowCloser } from '../../drift-aggregator/closer.js';
import type { ClosedWindow } from '../../drift-aggregator/types.js';
import { windowSizesOf } from '../../drift-aggregator/config.js';
import { sharedWindowStates } from '../../drift-aggregator/evaluate.js';
import { BatchAggregate } from '../../drift-aggregator/increments.js';
import { LargerWindows } from '../../drift-aggregator/larger-windows.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { AggregatorMetrics } from '../../drift-aggregator/telemetry.js';
import { largeWindowId, windowId } from '../../drift-aggregator/windows.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';

const MODEL = 'sizes-model';
const FIVE_MINUTES = 300_000;
const HOUR = 3_600_000;
const HOUR_START = 100 * HOUR;
const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1, 2_000)]), 5);
let redis: Redis;

/** One aggregator's Redis state and closer for a list of sizes (the smallest counted). */
interface Instance {
  state: AggregatorState;
  closer: WindowCloser;
  sizes: number[];
  offset: number;
}

async function instance(sizes: string[]): Promise<Instance> {
  const state = new AggregatorState(redis, `t-${randomUUID()}`);
  await state.loadScript();
  const resolved = windowSizesOf({ windowMs: 60_000, windowSizes: sizes });
  const closer = new WindowCloser(
    {
      windowMs: resolved[0]!,
      largerSizesMs: resolved.slice(1),
      allowedLatenessMs: 0,
      idleCloseMs: 600_000,
      closeLockTtlMs: 10_000,
      stateTtlSeconds: 3_600,
      // Reported status = the window's own (no hysteresis), so the hour's first window already alerts.
      thresholds: { ...defaultDriftThresholds(), hysteresisWindows: 1 },
      rollback: { enabled: false, maxAgeMs: 0, windows: 3 },
    },
    { state, catalog, metrics: new AggregatorMetrics(), log: createLogger('sizes-test', 'silent'), rollbackTarget: null },
  );
  return { state, closer, sizes: resolved, offset: -1 };
}

/** Applies reviews as one partition in batches of 97 (windows of the instance's counted size). */
async function apply(target: Instance, reviews: readonly ScoredReview[]): Promise<number> {
  let late = 0;
  for (let i = 0; i < reviews.length; i += 97) {
    const batch = reviews.slice(i, i + 97);
    const aggregate = new BatchAggregate({ windowMs: target.sizes[0]!, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) });
    for (const review of batch) aggregate.add(review);
    const outcome = await target.state.applyBatch({ topic: 'scored', partition: 0, expectedPrevOffset: target.offset, lastOffset: target.offset + batch.length, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: target.sizes[0]! });
    if (outcome.status !== 'applied') throw new Error(`batch not applied: ${outcome.status}`);
    late += outcome.lateEvents;
    target.offset += batch.length;
  }
  return late;
}

/** The hour: traffic like the reference in its first half, drifted in the second; then one event of the next hour (moves the watermark). */
function stream(): ScoredReview[] {
  const random = seededRandom(5);
  const reviews: ScoredReview[] = [];
  for (let i = 0; i < 1_800; i++) {
    const time = HOUR_START + Math.floor((i / 1_800) * HOUR);
    reviews.push(syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, shifted: i >= 900, ingestTimeMs: time }));
  }
  reviews.push(syntheticReview(5_000, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: HOUR_START + HOUR + 1 }));
  return reviews;
}

/** Rows without their write time, in key order (segments come in the order the sketches were read). */
const withoutWrittenAt = <T extends { written_at: number; segment: string }>(rows: T[]): Array<Omit<T, 'written_at'>> =>
  rows.map(({ written_at: _, ...rest }) => rest).sort((a, b) => JSON.stringify([a.segment, a]).localeCompare(JSON.stringify([b.segment, b])));
const close = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
/** Rows equal, floats (sums whose last bits depend on the order of addition) to 1e-9. */
function expectSameRows(actual: ReadonlyArray<Record<string, unknown>>, expected: ReadonlyArray<Record<string, unknown>>): void {
  expect(actual.length).toBe(expected.length);
  const differences: string[] = [];
  expected.forEach((want, index) => {
    for (const [key, value] of Object.entries(want)) {
      const got = actual[index]![key];
      if (typeof value === 'number' && typeof got === 'number' ? !close(got, value) : got !== value) differences.push(`row ${index} ${key}: ${String(got)} vs ${String(value)}`);
    }
  });
  expect(differences).toEqual([]);
}

let merged: Instance;
let direct: Instance;
let mergedClosed: ClosedWindow[];
let directClosed: ClosedWindow[];

beforeAll(async () => {
  redis = new Redis(coreSettings.load().redisUrl);
  await catalog.ensure([{ modelName: MODEL, version: 1 }]);
  [merged, direct] = [await instance(['1h', '5m']), await instance(['1h'])];
  await apply(merged, stream());
  await apply(direct, stream());
  mergedClosed = await merged.closer.tick();
  directClosed = await direct.closer.tick();
});

afterAll(async () => {
  for (const target of [merged, direct]) {
    const keys = await redis.keys(`${target.state.base}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

describe('several window sizes', () => {
  it('closes the twelve 5 m windows, then the hour they make up (the next hour stays open)', () => {
    expect(merged.sizes).toEqual([FIVE_MINUTES, HOUR]);
    expect(mergedClosed.map((c) => [c.sizeMs, c.ref.start - HOUR_START])).toEqual([...Array.from({ length: 12 }, (_, i) => [FIVE_MINUTES, i * FIVE_MINUTES]), [HOUR, 0]]);
    expect(directClosed.map((c) => [c.sizeMs, c.ref.start - HOUR_START])).toEqual([[HOUR, 0]]);
  });

  it('the merged 1 h window writes the same rows as the 1 h window counted directly', () => {
    const hour = mergedClosed.find((c) => c.sizeMs === HOUR)!;
    const counted = directClosed[0]!;
    expect(hour.rows.length).toBeGreaterThan(50);
    expectSameRows(withoutWrittenAt(hour.rows), withoutWrittenAt(counted.rows));
    expectSameRows(withoutWrittenAt(hour.summaries), withoutWrittenAt(counted.summaries));
    expect(hour.rows.every((row) => row.window_size_ms === HOUR && row.window_end - row.window_start === HOUR)).toBe(true);
    expect(hour.rows.some((row) => row.status === 'red')).toBe(true);
  });

  it('its counts are the sums of its twelve 5 m rows, segment by segment', () => {
    const hour = mergedClosed.find((c) => c.sizeMs === HOUR)!;
    const fives = mergedClosed.filter((c) => c.sizeMs === FIVE_MINUTES);
    for (const summary of hour.summaries) {
      const parts = fives.flatMap((c) => c.summaries.filter((s) => s.segment === summary.segment));
      const sum = (field: keyof WindowSummaryRow): number => parts.reduce((total, s) => total + Number(s[field]), 0);
      expect([summary.events, summary.outliers, summary.event_time_events, summary.ingest_time_events], summary.segment).toEqual([sum('events'), sum('outliers'), sum('event_time_events'), sum('ingest_time_events')]);
    }
    const all = hour.summaries.find((s) => s.segment === '__all__')!;
    expect(all.events).toBe(1_800);
  });

  it('its sketches are the bin-by-bin merge of the 5 m sketches: equal to the directly counted hour\'s', async () => {
    const sketches = catalog.get(MODEL, 1);
    const ref = { modelName: MODEL, modelVersion: 1, start: HOUR_START };
    const built = await new LargerWindows(merged.state, FIVE_MINUTES, [HOUR]).merge(ref, HOUR, sketches);
    expect(built.windowsMerged).toBe(12);
    const counted = sharedWindowStates(await direct.state.readWindow(windowId(ref)), sketches);
    expect([...built.states.keys()].sort()).toEqual([...counted.keys()].sort());
    for (const [segment, states] of counted) {
      const mine = built.states.get(segment)!;
      for (const [name, state] of Object.entries(states.numeric)) {
        expect(mine.numeric[name]!.counts, `${segment} ${name}`).toEqual(state!.counts);
        expect(close(mine.numeric[name]!.sum, state!.sum)).toBe(true);
      }
      for (const [name, state] of Object.entries(states.categorical)) expect(mine.categorical[name], `${segment} ${name}`).toEqual(state);
      expect(mine.summary!.count).toBe(states.summary!.count);
      expect(mine.summary!.confusion).toEqual(states.summary!.confusion);
    }
  });

  it('alerts of the hour have ids of their own (not those of the 5 m window starting with it)', () => {
    const hourAlerts = mergedClosed.find((c) => c.sizeMs === HOUR)!.alerts;
    const fiveAlertIds = new Set(mergedClosed.filter((c) => c.sizeMs === FIVE_MINUTES).flatMap((c) => c.alerts.map((a) => a.alert_id)));
    expect(hourAlerts.length).toBeGreaterThan(0);
    expect(hourAlerts.every((a) => a.window_end_ms - a.window_start_ms === HOUR && !fiveAlertIds.has(a.alert_id))).toBe(true);
  });

  it('a late event of a 5 m window is late for its hour too (both summary rows are rewritten)', async () => {
    const random = seededRandom(77);
    const late = [syntheticReview(9_000, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: HOUR_START + 7 * FIVE_MINUTES + 3 })];
    expect(await apply(merged, late)).toBe(1);
    await redis.del(merged.state.key('pending'));
    await merged.closer.tick(); // rewrites the 5 m row and marks the hour
    await merged.closer.tick(); // rewrites the hour's row
    const pending = (await redis.lrange(merged.state.key('pending'), 0, -1)).map((text) => JSON.parse(text) as PendingEntry);
    const rewritten = pending.filter((e) => e.table === 'window_summary').map((e) => e.row as WindowSummaryRow).map((r) => [r.window_size_ms, r.window_start - HOUR_START, r.late_events]);
    expect(rewritten).toEqual(expect.arrayContaining([[FIVE_MINUTES, 7 * FIVE_MINUTES, 1], [HOUR, 0, 1]]));
    expect(await redis.exists(merged.state.key('done', largeWindowId({ modelName: MODEL, modelVersion: 1, start: HOUR_START }, HOUR)))).toBe(1);
  });
});
