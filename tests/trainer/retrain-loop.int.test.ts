/**
 * The whole retraining loop on real services: Kafka (shared broker, own topics), Redis (own prefix),
 * embedded ClickHouse (own path), the registry's artifacts in the S3-compatible store (the S3Proxy
 * scripts/services.sh starts; own prefix), the scorer as a child process on a registry directory of its own
 * (so every model it loads comes through S3), the production and shadow aggregators and the retrain policy in
 * this process (they share the chdb client, as in `driftline serve`).
 *
 *   shifted stream (sentiment words production v1 never saw) → v1's windows red → the policy trains v2 by warm
 *   start on the reference data + the recent sample (recent_reviews) and registers it as staging → the scorer
 *   shadow-scores v2 (registration event) → v2's shadow windows beat v1's → the policy promotes v2 through the
 *   shadow gate → the scorer hot-reloads v2 (promotion event) → v2's production windows are assessed, with the
 *   live macro-F1 recovered.
 *
 * Small on purpose: a tiny model (seconds to train), 250 reviews per window (the drift tests' minimum is 200),
 * ingest-time windows with synthetic times so windows close as soon as the next one starts.
 */
import { randomUUID } from 'node:crypto';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { S3ArtifactStore } from '../../core/artifact-store/index.js';
import { codecFor } from '../../core/avro.js';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../../core/config.js';
import { loadDriftThresholds } from '../../core/drift/config.js';
import { ensureTopics } from '../../core/kafka.js';
import { createLogger } from '../../core/logger.js';
import { kafkaPromotionPublisher, publishingRegistry } from '../../core/model/promotions.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { aggregatorSettings, type AggregatorSettings } from '../../drift-aggregator/config.js';
import { registryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { shadowAggregatorSettings } from '../../drift-aggregator/run.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ReviewEvent } from '../../schemas/types.js';
import { retrainPolicySettings } from '../../trainer/config.js';
import type { LabeledReview } from '../../trainer/data.js';
import { runTrainingJob } from '../../trainer/pipeline.js';
import { RetrainPolicy, readPolicyWindows, type TickOutcome } from '../../trainer/retrain-policy.js';
import { createSetup, killAllScorers, loggedWithVersion as logged, produce, startScorer, waitUntil, type ScorerChild, type TestSetup } from '../scorer/helpers.js';
import { reviewEventOf } from '../../fixtures/scored-events.js';
import { TINY_PARAMS, shiftedReviews, syntheticReviews } from './fixtures.js';

const NAME = 'loop';
const S3 = {
  DRIFTLINE_S3_ENDPOINT: `http://127.0.0.1:${process.env.DRIFTLINE_S3PROXY_PORT ?? '9300'}`,
  DRIFTLINE_S3_ACCESS_KEY_ID: 'driftline',
  DRIFTLINE_S3_SECRET_ACCESS_KEY: 'driftline-local-secret',
  DRIFTLINE_S3_CREATE_BUCKET: 'true',
};
const BUCKET = 'driftline-tests';
const STORE_PREFIX = `loop-${randomUUID().slice(0, 8)}`;
const WINDOW_MS = 60_000;
const PER_WINDOW = 250;
const REFERENCE = syntheticReviews(1_200, 31);
// Windows on ingest time, set by the test: two hours ago onwards, so nothing waits for the wall clock.
const T0 = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 120 * WINDOW_MS;

let setup: TestSetup;
let core: CoreSettings;
let settings: AggregatorSettings;
let redis: Redis;
let clickhouse: ClickHouseClient;
let registry: ModelRegistry;
let publisher: ReturnType<typeof kafkaPromotionPublisher>;
let store: S3ArtifactStore;
let scorerRegistryDir: string;
let scorer: ScorerChild;
const aggregators: AggregatorService[] = [];
const log = createLogger('retrain-loop-test', process.env.LOOP_TEST_LOG ?? 'warn');

/** `windows` windows of shifted reviews from window index `first` on, as ReviewEvents with their ingest times. */
function shiftedStream(first: number, windows: number, seed: number): ReviewEvent[] {
  return shiftedReviews(windows * PER_WINDOW, seed).map((row: LabeledReview, i) => ({
    ...reviewEventOf(row, T0 + (first + Math.floor(i / PER_WINDOW)) * WINDOW_MS + (i % PER_WINDOW) * 100),
    event_time_ms: null,
    source: 'loop-test',
  }));
}

async function send(reviews: ReviewEvent[]): Promise<void> {
  const codec = codecFor('ReviewEvent');
  await produce(setup.kafka, setup.topics.reviews, reviews.map((review) => ({ key: review.review_id, value: codec.encode(review) })));
}


interface SummaryRow {
  start: number;
  events: number;
  status: string;
  macroF1: number | null;
}

/** window_summary rows (__all__) of a version from window index `first` on, oldest first. */
async function windowsOf(version: number, first = 0): Promise<SummaryRow[]> {
  const rows = await readPolicyWindows(clickhouse, core.clickhouseDatabase, NAME, version, 1_000);
  return rows
    .filter((w) => w.windowStart >= T0 + first * WINDOW_MS)
    .map((w) => ({ start: w.windowStart, events: w.events, status: w.status, macroF1: w.macroF1 }))
    .sort((a, b) => a.start - b.start);
}

const weightedF1 = (rows: SummaryRow[]): number => rows.reduce((sum, r) => sum + r.macroF1! * r.events, 0) / rows.reduce((sum, r) => sum + r.events, 0);

function policy(): RetrainPolicy {
  return new RetrainPolicy(
    { ...retrainPolicySettings.load({}), enabled: true, redWindows: 3, minSample: 300, sampleWindows: 10, epochs: 2, autoPromote: true, recentReferenceMin: 100 },
    { registry, clickhouse, database: core.clickhouseDatabase, name: NAME, reference: async () => REFERENCE, log, gate: { windows: 3, minReviews: 3 * PER_WINDOW, margin: 0.05 } },
  );
}

function aggregator(deps: { core: CoreSettings; settings: AggregatorSettings }): AggregatorService {
  const service = new AggregatorService({ ...deps, thresholds: loadDriftThresholds({}), kafka: setup.kafka, redis, clickhouse, baselines: registryBaselineProvider(setup.registryDir), rollbackTarget: null, log });
  aggregators.push(service);
  return service;
}

beforeAll(async () => {
  setup = await createSetup('loop', 1);
  const shadowTopic = `t-${setup.id}-shadow`;
  Object.assign(setup.env, {
    DRIFTLINE_TOPIC_SHADOW: shadowTopic,
    DRIFTLINE_SCORER_MODEL_NAME: NAME,
    DRIFTLINE_REDIS_PREFIX: `t-${setup.id}`,
    DRIFTLINE_CLICKHOUSE_URL: '',
    DRIFTLINE_CLICKHOUSE_PATH: mkdtempSync(join(tmpdir(), 'driftline-loop-chdb-')),
  });
  core = coreSettings.load(setup.env);
  settings = aggregatorSettings.load({
    DRIFTLINE_AGGREGATOR_GROUP: `g-${setup.id}-aggregator`,
    DRIFTLINE_AGGREGATOR_METRICS_PORT: '0',
    DRIFTLINE_WINDOW_MS: String(WINDOW_MS),
    DRIFTLINE_WINDOW_TIME: 'ingest',
    DRIFTLINE_ALLOWED_LATENESS_MS: '0',
    DRIFTLINE_WINDOW_IDLE_CLOSE_MS: '1500',
    DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS: '200',
    DRIFTLINE_AUTO_ROLLBACK: 'false',
  });
  await ensureTopics(setup.kafka, [shadowTopic, core.topicAlerts], core, 1);
  redis = new Redis(core.redisUrl);
  clickhouse = await createClickHouse(core);
  publisher = kafkaPromotionPublisher(setup.kafka, setup.topics.promotions);
  store = new S3ArtifactStore({ bucket: BUCKET, prefix: STORE_PREFIX, endpoint: S3.DRIFTLINE_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, retries: 2, accessKeyId: S3.DRIFTLINE_S3_ACCESS_KEY_ID, secretAccessKey: S3.DRIFTLINE_S3_SECRET_ACCESS_KEY });
  await store.ensureBucket(true);
  registry = publishingRegistry(openRegistry(setup.registryDir, { artifactStore: store }), publisher);
  // Production v1: the tiny model on the reference (synthetic) vocabulary.
  const v1 = await runTrainingJob({ registry, name: NAME, rows: REFERENCE, params: TINY_PARAMS, promote: true, compareBaseline: false, progress: () => {} });
  expect(v1.version).toBe(1);
  // The scorer's registry directory starts empty: the index, v1 and later v2 reach it through the store only.
  scorerRegistryDir = mkdtempSync(join(tmpdir(), 'driftline-loop-scorer-registry-'));
  scorer = startScorer(setup, 'loop', { DRIFTLINE_SHADOW: 'staging', DRIFTLINE_REGISTRY_DIR: scorerRegistryDir, DRIFTLINE_ARTIFACT_STORE: `s3://${BUCKET}/${STORE_PREFIX}`, ...S3 });
  await aggregator({ core, settings }).start();
  await aggregator(shadowAggregatorSettings(core, settings)).start();
}, 180_000);

afterAll(async () => {
  await killAllScorers();
  for (const service of aggregators) await service.stop().catch(() => undefined);
  await publisher?.close();
  if (store) {
    for (const key of await store.list('').catch(() => [])) await store.delete(key).catch(() => undefined);
    await store.close();
  }
  if (scorerRegistryDir) rmSync(scorerRegistryDir, { recursive: true, force: true });
  await clickhouse?.close();
  if (redis) {
    const keys = await redis.keys(`${core.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  if (core) rmSync(core.clickhousePath, { recursive: true, force: true });
  setup?.cleanup();
});

describe('the retraining loop', () => {
  it('shifted stream → red windows → staging candidate → shadow-scored → promoted by the gate → hot-reloaded → windows recover', async () => {
    onTestFailed(() => console.log(`scorer log: ${scorer.logFile}\n${scorer.logs().split('\n').slice(-30).join('\n')}`));
    // 1. The shifted stream: production's windows turn red.
    await send(shiftedStream(0, 5, 41));
    await waitUntil('v1 windows 0-4 in ClickHouse', async () => (await windowsOf(1)).length >= 5, 120_000, [scorer]);
    const red = await windowsOf(1);
    expect(red.slice(-3).map((w) => w.status)).toEqual(['red', 'red', 'red']);

    // 2. The policy trains and registers a staging candidate from the recent sample.
    const trained = await policy().tick();
    expect(trained, trained.reason).toMatchObject({ action: 'trained', version: 2 });
    const comparison = (await registry.get(NAME, 2)).metrics['comparison'] as { production: { recent: { macroF1: number } }; candidate: { recent: { macroF1: number } }; recentSample: { rows: number } };
    expect(comparison.recentSample.rows).toBe(5 * 200); // DRIFTLINE_RECENT_SAMPLE_PER_WINDOW per window
    expect(comparison.candidate.recent.macroF1).toBeGreaterThan(comparison.production.recent.macroF1);

    // 3. The scorer follows the registration: v2 is shadow-scored beside v1.
    await waitUntil('the scorer to shadow-score with v2', () => logged(scorer, 'shadow scoring with the staging candidate', 2), 90_000, [scorer]);
    expect((await policy().tick()).action).toBe('waiting'); // no shadow windows yet
    await send(shiftedStream(6, 3, 42));
    await waitUntil('v2 shadow windows 6-8', async () => (await windowsOf(2, 6)).length >= 3 && (await windowsOf(1, 6)).length >= 3, 120_000, [scorer]);

    // 4. The shadow gate passes: the policy promotes v2; the scorer hot-reloads it.
    let promoted: TickOutcome | undefined;
    await waitUntil('the policy to promote v2', async () => (promoted = await policy().tick()).action === 'promoted', 30_000, [scorer]);
    expect(promoted).toMatchObject({ action: 'promoted', version: 2 });
    expect(await registry.productionVersion(NAME)).toBe(2);
    // Not 'model version swapped in': the shadow model service logs that too, when it loads the candidate.
    await waitUntil('the scorer to score with v2', () => logged(scorer, 'scoring with model version', 2), 90_000, [scorer]);

    // 5. Production is v2 now: its windows are assessed and the live macro-F1 recovered.
    await send(shiftedStream(10, 3, 43));
    await waitUntil('v2 production windows 10-12', async () => (await windowsOf(2, 10)).length >= 3, 120_000, [scorer]);
    const before = red.slice(-3);
    const after = await windowsOf(2, 10);
    console.log(`retrain loop: v1 (status, macro-F1) ${JSON.stringify(before.map((w) => [w.status, w.macroF1?.toFixed(3)]))}; v2 ${JSON.stringify(after.map((w) => [w.status, w.macroF1?.toFixed(3)]))}`);
    expect(after.map((w) => w.events)).toEqual([PER_WINDOW, PER_WINDOW, PER_WINDOW]);
    expect(weightedF1(after)).toBeGreaterThan(weightedF1(before) + 0.2);
    // Recovered: the candidate's drift reference is the recent traffic it learnt from, so no item of v2 is red.
    expect(after.map((w) => w.status)).not.toContain('red');
    // The scorer served both versions from what it downloaded from the store into its own directory.
    expect((await store.list(`${NAME}/versions/2/`)).length).toBeGreaterThan(0);
    expect(await openRegistry(scorerRegistryDir, { artifactStore: store }).productionVersion(NAME)).toBe(2);
  }, 300_000);
});
