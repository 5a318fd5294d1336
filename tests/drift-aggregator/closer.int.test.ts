/**
 * The closer against real Redis: one instance per window (lock), a re-closed window (crash before
 * 'done') gives the same rows and does not advance hysteresis or the rollback counter twice.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreSettings } from '../../core/config.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { createLogger } from '../../core/logger.js';
import { InMemoryBaselineProvider, SketchCatalog } from '../../drift-aggregator/baselines.js';
import { WindowCloser } from '../../drift-aggregator/closer.js';
import type { ClosedWindow } from '../../drift-aggregator/types.js';
import { BatchAggregate } from '../../drift-aggregator/increments.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { AggregatorMetrics } from '../../drift-aggregator/telemetry.js';
import { windowId } from '../../drift-aggregator/windows.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';

const MODEL = 'closer-model';
const WINDOW_MS = 60_000;
let redis: Redis;
let state: AggregatorState;
const catalog = new SketchCatalog(new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1, 2_000)]), 5);
let offset = -1;

function closer(): WindowCloser {
  return new WindowCloser(
    {
      windowMs: WINDOW_MS,
      allowedLatenessMs: 0,
      idleCloseMs: 600_000,
      closeLockTtlMs: 10_000,
      stateTtlSeconds: 3_600,
      thresholds: { ...defaultDriftThresholds(), hysteresisWindows: 2 },
      rollback: { enabled: false, maxAgeMs: 0, windows: 3 },
    },
    { state, catalog, metrics: new AggregatorMetrics(), log: createLogger('closer-test', 'silent'), rollbackTarget: null },
  );
}

async function fill(window: number, count: number, shifted: boolean): Promise<void> {
  const random = seededRandom(100 + window);
  const aggregate = new BatchAggregate({ windowMs: WINDOW_MS, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) });
  for (let i = 0; i < count; i++) aggregate.add(syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, shifted, ingestTimeMs: window * WINDOW_MS + i }));
  const outcome = await state.applyBatch({ topic: 'scored', partition: 0, expectedPrevOffset: offset, lastOffset: offset + count, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: WINDOW_MS });
  expect(outcome.status).toBe('applied');
  offset += count;
}

function statusOf(closed: ClosedWindow, feature: string, metric: string): string | undefined {
  return closed.rows.find((r) => r.segment === '__all__' && r.feature === feature && r.metric === metric)?.status;
}

beforeAll(async () => {
  redis = new Redis(coreSettings.load().redisUrl);
  state = new AggregatorState(redis, `t-${randomUUID()}`);
  await state.loadScript();
  await catalog.ensure([{ modelName: MODEL, version: 1 }]);
});

afterAll(async () => {
  const keys = await redis.keys(`${state.base}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('window closer', () => {
  it('closes due windows in order, each once, with hysteresis across windows', async () => {
    await fill(0, 300, true);
    await fill(1, 300, true);
    await fill(2, 10, false); // moves the watermark past windows 0 and 1
    const [first, second] = [closer(), closer()];
    const results = await Promise.all([first.tick(), second.tick()]);
    const closed = results.flat().sort((a, b) => a.ref.start - b.ref.start);
    expect(closed.map((c) => c.ref.start)).toEqual([0, WINDOW_MS]);
    // Raw red in both; reported red only from the second window on (2-window hysteresis).
    expect(statusOf(closed[0]!, 'feature.text_length', 'psi')).toBe('green');
    expect(statusOf(closed[1]!, 'feature.text_length', 'psi')).toBe('red');
    // Alerts are state changes: none while the report stays green, one per item that turned non-green.
    expect(closed[0]!.alerts).toEqual([]);
    const turned = closed[1]!.rows.filter((row) => row.status !== 'green');
    expect(closed[1]!.alerts.map((a) => `${a.segment ?? '__all__'}|${a.feature}|${a.metric}|${a.previous_status}→${a.status}`).sort()).toEqual(
      turned.map((row) => `${row.segment}|${row.feature}|${row.metric}|green→${row.status}`).sort(),
    );
    // Drift rows, summaries and one alerts-table row per alert wait for ClickHouse.
    const queued = closed.reduce((sum, c) => sum + c.rows.length + c.summaries.length + c.alerts.length, 0);
    expect(await redis.lrange(state.key('pending'), 0, -1)).toHaveLength(queued);
    expect(await redis.llen(state.key('alerts-outbox'))).toBe(closed[1]!.alerts.length);
    // The label-free estimate went through the same atomic apply: every summary row carries it.
    for (const summary of closed.flatMap((c) => c.summaries)) {
      expect(summary.estimated_accuracy).toBeGreaterThan(0.3);
      expect(summary.estimated_accuracy).toBeLessThanOrEqual(1);
      expect(summary.estimated_macro_f1).not.toBeNull();
    }
  });

  it('re-closing a window after a crash before "done" repeats the same result, not a further hysteresis step', async () => {
    const id = windowId({ modelName: MODEL, modelVersion: 1, start: WINDOW_MS });
    const hysteresisBefore = await redis.hgetall(state.key('hyst', MODEL, 1));
    // Crash simulation: the rows were never queued, the window is still open.
    await redis.del(state.key('done', id), state.key('pending'));
    await redis.zadd(state.key('open'), WINDOW_MS, id);
    await redis.zadd(state.key('touched'), Date.now(), id);
    const again = await closer().closeWindow(id);
    expect(again).not.toBe('locked');
    if (again === 'locked' || again === 'already-done') throw new Error(`unexpected ${again}`);
    expect(statusOf(again, 'feature.text_length', 'psi')).toBe('red');
    expect(again.summaries.find((s) => s.segment === '__all__')!.events).toBe(300);
    expect(await redis.hgetall(state.key('hyst', MODEL, 1))).toEqual(hysteresisBefore);
    expect(await closer().closeWindow(id)).toBe('already-done');
  });

  it('bounds its bookkeeping: late counts, hysteresis and rollback state expire with the state TTL', async () => {
    await fill(0, 5, false); // window 0 is closed: late events
    await closer().tick();
    const id = windowId({ modelName: MODEL, modelVersion: 1, start: 0 });
    expect(await state.lateEvents(id)).toBe(5);
    const keys = [
      // Late counts live in the partitions' slots; hysteresis and rollback state in the window-level one.
      ...(await redis.keys(`${state.base}*late:*`)),
      ...(await redis.keys(`${state.globalBase}hyst:*`)),
      ...(await redis.keys(`${state.globalBase}rollback:*`)),
    ];
    expect(keys.length).toBeGreaterThanOrEqual(3);
    const ttls = await Promise.all(keys.map(async (key) => ({ key: key.slice(state.base.length), ttl: await redis.ttl(key) })));
    expect(ttls.filter(({ ttl }) => ttl <= 0 || ttl > 3_600)).toEqual([]);
  });

  it('does not close a window another instance holds the lock of', async () => {
    const id = windowId({ modelName: MODEL, modelVersion: 1, start: 2 * WINDOW_MS });
    await redis.set(state.key('lock', id), 'someone-else', 'PX', 10_000);
    expect(await closer().closeWindow(id)).toBe('locked');
    const partitions = await state.partitions();
    expect(partitions.length).toBeGreaterThan(0);
    for (const ref of partitions) expect(await redis.exists(state.partitionKey(ref, 'closed', id))).toBe(0);
  });
});
