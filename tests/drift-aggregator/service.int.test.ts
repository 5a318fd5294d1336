/**
 * The aggregator in-process against real Kafka, Redis and chdb: a shifted synthetic stream turns
 * features red and produces alerts, an unshifted one stays green; every event is counted once and
 * ClickHouse holds one row per key.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { collect, publishScored, testSetup, waitFor, releaseTestAggregator, testAggregator } from './harness.js';

const setup = testSetup();
const { core, settings } = setup;
const kafka = createKafka(core, 'agg-test');
const WINDOWS = 4;
const PER_WINDOW = 300;
let redis: Redis;
let clickhouse: ClickHouseClient;
let service: AggregatorService;
let firstWindow: number;

function stream(modelName: string, shifted: boolean, seed: number): ScoredReview[] {
  const random = seededRandom(seed);
  const reviews: ScoredReview[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (let i = 0; i < PER_WINDOW; i++) {
      reviews.push(syntheticReview(w * PER_WINDOW + i, random, { modelName, modelVersion: 1, shifted, ingestTimeMs: firstWindow + w * settings.windowMs + i * 100 }));
    }
  }
  return reviews;
}

interface SummaryRow {
  model_name: string;
  window_start: string;
  events: string;
  late_events: string;
  status: string;
  state_lost: number;
}

beforeAll(async () => {
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  await ensureTopics(kafka, [core.topicScored, core.topicAlerts], core);
  firstWindow = Math.floor(Date.now() / settings.windowMs) * settings.windowMs - 10 * settings.windowMs;
  service = testAggregator('agg-test', {
    core,
    settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([syntheticBaseline('synth-shifted', 1), syntheticBaseline('synth-stable', 1)]),
  }, 'warn');
  await service.start();
});

afterAll(() => releaseTestAggregator({ core, service, clickhouse, redis }));

describe('drift aggregator service', () => {
  it('counts every event once, turns a shifted stream red with alerts and keeps an unshifted one green', async () => {
    const shifted = stream('synth-shifted', true, 11);
    const stable = stream('synth-stable', false, 12);
    const closed: string[] = [];
    service.onWindowClosed((window) => closed.push(`${window.ref.modelName}|${window.ref.start}`));
    // Both models' events interleaved in time order, as the scorer would publish them.
    await publishScored(kafka, core.topicScored, [...shifted, ...stable].sort((a, b) => a.ingest_time_ms - b.ingest_time_ms));
    await waitFor(async () => closed.length >= 2 * WINDOWS, 30_000, 'all windows to close');
    await waitFor(async () => (await service.writer.pendingCount()) === 0, 60_000, 'ClickHouse rows to be written');

    const db = core.clickhouseDatabase;
    const summaries = (await (
      await clickhouse.query({ query: `SELECT model_name, toString(window_start) AS window_start, events, late_events, status, state_lost FROM ${db}.window_summary FINAL WHERE segment = '__all__' ORDER BY model_name, window_start`, format: 'JSONEachRow' })
    ).json()) as SummaryRow[];
    const total = (model: string): number => summaries.filter((r) => r.model_name === model).reduce((sum, r) => sum + Number(r.events), 0);
    expect(total('synth-shifted')).toBe(WINDOWS * PER_WINDOW);
    expect(total('synth-stable')).toBe(WINDOWS * PER_WINDOW);
    expect(summaries.every((r) => Number(r.late_events) === 0 && r.state_lost === 0)).toBe(true);

    const shiftedStatuses = summaries.filter((r) => r.model_name === 'synth-shifted').map((r) => r.status);
    const stableStatuses = summaries.filter((r) => r.model_name === 'synth-stable').map((r) => r.status);
    // Hysteresis (2 windows): the first shifted window is only raw red; from the second on it is reported red.
    expect(shiftedStatuses.slice(1)).toEqual(['red', 'red', 'red']);
    expect(stableStatuses).toEqual(['green', 'green', 'green', 'green']);

    const redFeatures = (await (
      await clickhouse.query({
        query: `SELECT DISTINCT feature FROM ${db}.drift_metrics FINAL WHERE model_name = 'synth-shifted' AND segment = '__all__' AND status = 'red' ORDER BY feature`,
        format: 'JSONEachRow',
      })
    ).json()) as Array<{ feature: string }>;
    expect(redFeatures.map((r) => r.feature)).toEqual(expect.arrayContaining(['feature.text_length', 'category', 'prediction.confidence', '__model__']));

    const duplicates = (await (
      await clickhouse.query({
        query: `SELECT count() AS n FROM (SELECT model_name, model_version, segment, feature, metric, window_start, count() AS c FROM ${db}.drift_metrics FINAL GROUP BY ALL HAVING c > 1)`,
        format: 'JSONEachRow',
      })
    ).json()) as Array<{ n: string }>;
    expect(Number(duplicates[0]!.n)).toBe(0);

    const alerts = await collect(kafka, core.topicAlerts, 'DriftAlert', { idleMs: 5_000 });
    const shiftedAlerts = alerts.filter((a) => a.value.model_name === 'synth-shifted' && a.value.segment === null);
    expect(shiftedAlerts.every((a) => a.key === 'synth-shifted')).toBe(true);
    // State changes, not one alert per window: text_length turns red once and stays red (one alert).
    const textLength = shiftedAlerts.filter((a) => a.value.feature === 'feature.text_length' && a.value.metric === 'psi');
    expect(textLength.map((a) => [a.value.previous_status, a.value.status])).toEqual([['green', 'red']]);
    expect(textLength[0]!.value.items).toEqual([expect.objectContaining({ feature: 'feature.text_length', status: 'red' })]);
    const history = (await (
      await clickhouse.query({ query: `SELECT alert_id, status FROM ${db}.alerts FINAL WHERE model_name = 'synth-shifted' AND segment = '__all__'`, format: 'JSONEachRow' })
    ).json()) as Array<{ alert_id: string; status: string }>;
    expect(history.map((r) => r.alert_id).sort()).toEqual(shiftedAlerts.map((a) => a.value.alert_id).sort());
    expect(alerts.filter((a) => a.value.model_name === 'synth-stable')).toEqual([]);
  });

  it('counts events for closed windows as late: the closed window\'s summary row is rewritten, its sketches untouched', async () => {
    const random = seededRandom(13);
    const late = Array.from({ length: 20 }, (_, i) => syntheticReview(10_000 + i, random, { modelName: 'synth-stable', modelVersion: 1, ingestTimeMs: firstWindow + 1_000 + i }));
    const lateBefore = (await service.metrics.lateEvents.get()).values[0]?.value ?? 0;
    await publishScored(kafka, core.topicScored, late);
    await waitFor(async () => ((await service.metrics.lateEvents.get()).values[0]?.value ?? 0) - lateBefore === 20, 30_000, 'late events to be counted');
    const query = `SELECT events, late_events FROM ${core.clickhouseDatabase}.window_summary FINAL
                   WHERE model_name = 'synth-stable' AND segment = '__all__' AND toUnixTimestamp64Milli(window_start) = ${firstWindow}`;
    await waitFor(async () => {
      const rows = (await (await clickhouse.query({ query, format: 'JSONEachRow' })).json()) as Array<{ late_events: string }>;
      return Number(rows[0]?.late_events ?? 0) === 20;
    }, 30_000, 'the rewritten summary row');
    const rows = (await (await clickhouse.query({ query, format: 'JSONEachRow' })).json()) as Array<{ events: number | string; late_events: number | string }>;
    expect(rows.map((r) => [Number(r.events), Number(r.late_events)])).toEqual([[PER_WINDOW, 20]]);
  });

  it('sends undecodable messages to the dead-letter topic (stage aggregator) and keeps going', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: core.topicScored, messages: [{ key: 'bad', value: Buffer.from('not avro at all') }] });
    await producer.disconnect();
    await waitFor(async () => (await service.metrics.undecodable.get()).values[0]?.value === 1, 30_000, 'the bad message to be counted');
    const deadLetters = await collect(kafka, core.topicDeadLetter, 'DeadLetter', { expected: 1 });
    expect(deadLetters.map((d) => [d.value.stage, d.value.error_code, d.value.source_topic, d.value.raw.toString()])).toEqual([['aggregator', 'AVRO_BAD_HEADER', core.topicScored, 'not avro at all']]);
  });
});
