/**
 * Fault (operational): a promotion to v2 and a rollback to v1 while traffic flows, to the scorer (child
 * process, following the promotions topic) and to the API (startApiServer in-process on port 0, with
 * predict requests fired in a loop through both swaps). The scored events name v1, then v2, then v1 again
 * (per input partition, in offset order); none is lost or duplicated; the aggregator's windows per version
 * add up to the reviews; and not one API request fails during the swaps.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { kafkaPromotionPublisher, publishingRegistry } from '../../core/model/promotions.js';
import { openRegistry } from '../../core/model/registry/index.js';
import { startApiServer } from '../../api/server.js';
import type { RunningApi } from '../../api/types.js';
import { MODEL_NAME, registerShippedCopy, startScorer, waitUntil, type ScorerChild } from '../scorer/helpers.js';
import { apiItem, loadValidLines } from '../support/corpus.js';
import {
  createPipeline,
  drainPipeline,
  expectedWindowCounts,
  ingestLines,
  logRecords,
  printTotals,
  readWindowsOf,
  reviewLines,
  scorerCommitted,
  startAggregator,
  waitForLog,
  windowKey,
  type Pipeline,
} from '../support/pipeline.js';

const TOTAL = 1_500;
const RATE = 60;
const API_LOOPS = 2;

/** 1,1,2,2,2,1 → [1,2,1] */
function runsOf(versions: number[]): number[] {
  return versions.filter((version, i) => i === 0 || version !== versions[i - 1]);
}

interface ApiCall {
  status: number;
  version: number | null;
}

describe('fault: promotion and rollback under traffic', () => {
  let pipeline: Pipeline;
  let redis: Redis;
  let api: RunningApi | undefined;
  const children: ScorerChild[] = [];

  beforeAll(async () => {
    pipeline = await createPipeline('promotion');
    redis = new Redis(pipeline.core.redisUrl);
  });

  afterAll(async () => {
    for (const child of children) await child.kill('SIGKILL');
    await api?.close();
    await pipeline?.cleanupAll(redis);
    redis?.disconnect();
  });

  it('swaps v1 → v2 → v1 in the scorer and the API without losing, doubling or failing anything', async () => {
    onTestFailed(() => pipeline.keepLogs());
    const started = Date.now();
    const reviews = reviewLines(TOTAL, 2_400);
    const publisher = kafkaPromotionPublisher(pipeline.kafka, pipeline.topics.promotions);
    const registry = publishingRegistry(openRegistry(pipeline.registryDir), publisher);
    const scorer = startScorer(pipeline, 'promotion-scorer', { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '50' });
    const aggregator = startAggregator(pipeline, 'promotion-aggregator');
    children.push(scorer, aggregator);
    api = await startApiServer({
      settings: { host: '127.0.0.1', port: 0, modelName: MODEL_NAME, seedModelDir: '', followPromotions: true, groupId: `g-${pipeline.id}-api` },
      core: pipeline.core,
      clickhouse: false,
      logger: createLogger('fault-promotion-api', 'warn'),
    });
    const url = api.url;
    await waitForLog(scorer, 'scorer started', 120_000);
    await waitForLog(aggregator, 'drift aggregator started', 120_000);
    await waitUntil('the API to be ready', async () => (await fetch(`${url}/ready`)).status === 200, 120_000, children);

    // Predict loops: one request after another per loop, so each loop's versions are in time order.
    const items = loadValidLines(8, 4_000).map(({ record }) => apiItem(record));
    const calls: ApiCall[][] = Array.from({ length: API_LOOPS }, () => []);
    let trafficOn = true;
    const traffic = calls.map(async (log) => {
      while (trafficOn) {
        try {
          const response = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reviews: items }) });
          const body = (await response.json()) as { model?: { version: number } };
          log.push({ status: response.status, version: body.model?.version ?? null });
        } catch {
          log.push({ status: 0, version: null });
        }
      }
    });

    const committed = async (): Promise<number> => (await scorerCommitted(pipeline))?.committed ?? 0;
    const scorerSwaps = (version: number): number => logRecords(scorer).filter((r) => r.msg === 'scoring with model version' && r.version === version).length;
    const apiServes = (version: number) => () => api!.modelService.isReady() && api!.modelService.current().version === version;
    const servedBy = (log: ApiCall[], version: number): number => log.filter((call) => call.version === version).length;
    const everyLoopSaw = (version: number, atLeast: number[]) => () => calls.every((log, i) => servedBy(log, version) >= atLeast[i]!);
    // Three phases of traffic. Each swap is triggered while its phase is still being ingested; the next
    // phase starts only once the scorer and the API have swapped, so every partition sees v1, v2, v1 in
    // turn however slow the machine is (the phases, not the clock, order the versions).
    const [phaseA, phaseB, phaseC] = [reviews.slice(0, 600), reviews.slice(600, 1_200), reviews.slice(1_200)];
    const ingest = async (phase: typeof reviews): Promise<number> => (await ingestLines(pipeline, phase.map((r) => r.line), RATE)).published;
    const promote = async (): Promise<void> => {
      await waitUntil('300 reviews scored', async () => (await committed()) >= 300, 120_000, children);
      expect(await registerShippedCopy(registry, { actor: 'fault-test' })).toBe(2);
      await registry.promote(MODEL_NAME, 2, { actor: 'fault-test', force: true, reason: 'promotion under traffic' });
      await waitUntil('the scorer to swap to v2', () => scorerSwaps(2) >= 1, 60_000, children);
      await waitUntil('the API to serve v2', apiServes(2), 60_000, children);
      await waitUntil('every API loop to be served by v2', everyLoopSaw(2, calls.map(() => 3)), 60_000, children);
    };
    const rollback = async (): Promise<void> => {
      await waitUntil('300 reviews of phase B scored', async () => (await committed()) >= phaseA.length + 300, 120_000, children);
      await registry.rollback(MODEL_NAME, { actor: 'fault-test', reason: 'rollback under traffic' });
      await waitUntil('the scorer to roll back to v1', () => scorerSwaps(1) >= 2, 60_000, children);
      await waitUntil('the API to serve v1 again', apiServes(1), 60_000, children);
    };
    const [publishedA] = await Promise.all([ingest(phaseA), promote()]);
    const [publishedB] = await Promise.all([ingest(phaseB), rollback()]);
    const publishedC = await ingest(phaseC);
    const ingested = { published: publishedA + publishedB + publishedC };
    // A few more requests on v1 after the rollback, then stop the traffic.
    const v1BeforeRollback = calls.map((log) => servedBy(log, 1));
    await waitUntil('API traffic on v1 after the rollback', everyLoopSaw(1, v1BeforeRollback.map((n) => n + 3)), 60_000, children);
    trafficOn = false;
    await Promise.all(traffic);
    await publisher.close();
    expect(ingested.published).toBe(TOTAL);

    const { scored, counts } = await drainPipeline(pipeline, redis, children);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(await aggregator.kill('SIGTERM')).toBe(0);
    const { rows, events: windowEvents } = await readWindowsOf(pipeline);

    const byPartition = new Map<number, Array<{ offset: number; version: number }>>();
    for (const { value } of scored) {
      const list = byPartition.get(value.input_partition) ?? [];
      list.push({ offset: value.input_offset, version: value.model_version });
      byPartition.set(value.input_partition, list);
    }
    const partitionRuns = [...byPartition.values()].map((list) => runsOf(list.sort((a, b) => a.offset - b.offset).map((e) => e.version)));
    const allCalls = calls.flat();
    const failed = allCalls.filter((call) => call.status !== 200);
    const byVersion = (version: number): number => scored.filter((s) => s.value.model_version === version).length;
    printTotals('promotion', {
      ingested: ingested.published,
      scored: scored.length,
      unique: counts.size,
      scored_v1: byVersion(1),
      scored_v2: byVersion(2),
      window_events: windowEvents,
      windows: rows.length,
      api_requests: allCalls.length,
      api_v2_responses: allCalls.filter((call) => call.version === 2).length,
      api_failed: failed.length,
      seconds: Math.round((Date.now() - started) / 1000),
    });

    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(new Set(counts.keys())).toEqual(new Set(reviews.map((r) => r.id)));
    expect(scored).toHaveLength(TOTAL);
    expect(partitionRuns).toEqual([...byPartition.keys()].map(() => [1, 2, 1]));
    expect(windowEvents).toBe(TOTAL);
    expect(new Map(rows.map((row) => [windowKey(row), row.events + row.late]))).toEqual(expectedWindowCounts(scored.map((s) => s.value), pipeline.windowMs));
    expect(failed).toEqual([]);
    for (const log of calls) expect(runsOf(log.map((call) => call.version ?? -1))).toEqual([1, 2, 1]);
  });
});
