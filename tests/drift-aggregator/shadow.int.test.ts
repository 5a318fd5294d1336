/**
 * Shadow windows (DRIFTLINE_AGGREGATOR_SHADOW): the production aggregator and the shadow topic's aggregator
 * (drift-aggregator/run.ts shadowAggregatorSettings) side by side on real Kafka, Redis and chdb. The
 * candidate's events carry the same review ids as production's; each aggregator counts all of its own,
 * and window_summary holds, for the same windows, production's (v1, worse) and the candidate's (v2) live
 * accuracy and macro-F1 — which the shadow promotion gate reads (core/model/shadow-gate.ts).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { clickhouseShadowWindows, decideShadowGate } from '../../core/model/shadow-gate.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { shadowAggregatorSettings } from '../../drift-aggregator/run.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { publishScored, releaseTestAggregator, testSetup, waitFor, testAggregator } from './harness.js';

// Two window sizes: the gate reads the smallest only (the 3-minute windows merge the same reviews).
const setup = testSetup({ windowSizes: ['1m', '3m'] });
const core = { ...setup.core, topicShadow: `t-${setup.id}-shadow` };
const shadowed = shadowAggregatorSettings(core, setup.settings);
const kafka = createKafka(core, 'agg-shadow-test');
const WINDOWS = 3;
const PER_WINDOW = 200;
const MODEL = 'synth-shadow';
let redis: Redis;
let clickhouse: ClickHouseClient;
const services: AggregatorService[] = [];
let firstWindow: number;

function stream(version: number, shifted: boolean, seed: number): ScoredReview[] {
  const random = seededRandom(seed);
  const out: ScoredReview[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      out.push(syntheticReview(w * PER_WINDOW + i, random, { modelName: MODEL, modelVersion: version, shifted, ingestTimeMs: firstWindow + w * setup.settings.windowMs + i * 100 }));
    }
  }
  return out;
}

function aggregator(deps: { core: typeof core; settings: typeof setup.settings }): AggregatorService {
  const service = testAggregator('agg-shadow-test', {
    ...deps,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline(MODEL, 1), syntheticBaseline(MODEL, 2)]),
  }, 'warn');
  services.push(service);
  return service;
}

beforeAll(async () => {
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  await ensureTopics(kafka, [core.topicScored, core.topicShadow, core.topicAlerts], core);
  firstWindow = Math.floor(Date.now() / setup.settings.windowMs) * setup.settings.windowMs - 10 * setup.settings.windowMs;
  await aggregator({ core, settings: setup.settings }).start();
  await aggregator(shadowed).start();
});

afterAll(async () => {
  for (const service of services) await service.stop();
  await releaseTestAggregator({ core, clickhouse, redis });
});

describe('drift aggregator: shadow windows', () => {
  it('keeps its own group and state, and never rolls a candidate back', () => {
    expect(shadowed.core.topicScored).toBe(core.topicShadow);
    expect(shadowed.core.redisPrefix).toBe(`${core.redisPrefix}:shadow`);
    expect(shadowed.settings.groupId).toBe(`${setup.settings.groupId}-shadow`);
    expect(shadowed.settings.autoRollback).toBe(false);
  });

  it('writes the candidate\'s per-window accuracy and macro-F1 beside production\'s for the same windows', async () => {
    const production = stream(1, true, 21);
    // The same reviews (ids), scored better by the candidate.
    const candidate = stream(2, false, 22).map((r, i) => ({ ...r, review_id: production[i]!.review_id }));
    await publishScored(kafka, core.topicScored, production);
    await publishScored(kafka, core.topicShadow, candidate);
    type Row = { model_version: number; start: string; events: string; accuracy: number | null; macro_f1: number | null };
    const summaryRows = async (): Promise<Row[]> =>
      (await (
        await clickhouse.query({
          query: `SELECT model_version, toUnixTimestamp64Milli(window_start) AS start, events, accuracy, macro_f1 FROM ${core.clickhouseDatabase}.window_summary FINAL
                  WHERE model_name = {model:String} AND segment = '__all__' AND window_size_ms = 60000 ORDER BY model_version, start`,
          query_params: { model: MODEL },
          format: 'JSONEachRow',
        })
      ).json()) as Row[];
    await waitFor(async () => (await summaryRows()).length >= 2 * WINDOWS, 60_000, 'the 1-minute windows of both versions in ClickHouse');
    for (const service of services) await waitFor(async () => (await service.writer.pendingCount()) === 0, 60_000, 'ClickHouse rows to be written');
    const rows = await summaryRows();
    const of = (version: number) => rows.filter((r) => Number(r.model_version) === version);
    expect(of(1).map((r) => Number(r.events))).toEqual([PER_WINDOW, PER_WINDOW, PER_WINDOW]);
    expect(of(2).map((r) => Number(r.events))).toEqual([PER_WINDOW, PER_WINDOW, PER_WINDOW]);
    expect(of(2).map((r) => r.start)).toEqual(of(1).map((r) => r.start));
    for (let w = 0; w < WINDOWS; w++) {
      expect(of(2)[w]!.macro_f1).not.toBeNull();
      expect(of(2)[w]!.macro_f1!).toBeGreaterThan(of(1)[w]!.macro_f1!);
      expect(of(2)[w]!.accuracy!).toBeGreaterThan(of(1)[w]!.accuracy!);
    }

    // What the shadow promotion gate reads from these rows, and decides on them.
    const read = await clickhouseShadowWindows(clickhouse, core.clickhouseDatabase)(MODEL, [2, 1], 10);
    expect(read.get(2)!.map((w) => w.windowStart)).toEqual(of(2).map((r) => Number(r.start)).reverse()); // newest first
    expect(read.get(2)!.map((w) => w.macroF1)).toEqual(of(2).map((r) => r.macro_f1).reverse());
    const decision = decideShadowGate({ candidate: 2, production: 1 }, read.get(2)!, read.get(1)!, { windows: 10, minReviews: WINDOWS * PER_WINDOW, margin: 0.05 });
    expect(decision.numbers).toMatchObject({ windows: WINDOWS, reviews: WINDOWS * PER_WINDOW });
    expect(decision.promote).toBe(true);
    expect(decideShadowGate({ candidate: 2, production: 1 }, read.get(2)!, read.get(1)!, { windows: 10, minReviews: WINDOWS * PER_WINDOW + 1, margin: 0.05 }).promote).toBe(false);
  });
});
