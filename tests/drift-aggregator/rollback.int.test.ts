/**
 * Automatic rollback through the real registry: a freshly promoted version that is red on outlier
 * rate / macro-F1 for DRIFTLINE_AUTO_ROLLBACK_WINDOWS consecutive windows is rolled back to the previous
 * production version, once, and the ModelPromotion event is published.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { openRegistry } from '../../core/model/registry/index.js';
import { registryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { registryRollbackTarget } from '../../drift-aggregator/rollback.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { collect, publishScored, registerBaseline, releaseTestAggregator, testSetup, waitFor, testAggregator } from './harness.js';

const MODEL = 'rb-model';
const WINDOWS = 5;
const PER_WINDOW = 250;
const setup = testSetup({ autoRollbackWindows: 3 });
const { core } = setup;
const kafka = createKafka(core, 'rollback-test');
const redis = new Redis(core.redisUrl);
const registryDir = mkdtempSync(join(tmpdir(), 'driftline-rb-registry-'));
let clickhouse: ClickHouseClient | undefined;

afterAll(async () => {
  await releaseTestAggregator({ core, clickhouse, redis });
  rmSync(registryDir, { recursive: true, force: true });
});

describe('automatic rollback', () => {
  it('rolls a new version that stays red on live performance back to the previous production version, once', async () => {
    // Synthetic versions have a baseline and no model: promoted without the serving runtime's load check.
    const registry = openRegistry(registryDir, { verifyArtifacts: async () => undefined });
    await registerBaseline(registryDir, syntheticBaseline(MODEL, 1));
    await registry.promote(MODEL, 1, { actor: 'test' });
    const badVersion = await registerBaseline(registryDir, syntheticBaseline(MODEL, 2));
    await registry.promote(MODEL, badVersion, { actor: 'test', force: true });
    await ensureTopics(kafka, [core.topicScored, core.topicPromotions], core);

    clickhouse = await createClickHouse(core);
    const target = registryRollbackTarget(registryDir, kafka, core.topicPromotions);
    const service = testAggregator('rollback-test', {
      core,
      settings: setup.settings,
      thresholds: { ...defaultDriftThresholds(), hysteresisWindows: 1 },
      kafka,
      redis,
      clickhouse,
      baselines: registryBaselineProvider(registryDir),
      rollbackTarget: target,
    });
    await service.start();
    try {
      const random = seededRandom(41);
      const firstWindow = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;
      const reviews = Array.from({ length: WINDOWS * PER_WINDOW }, (_, i) =>
        syntheticReview(i, random, { modelName: MODEL, modelVersion: badVersion, shifted: true, ingestTimeMs: firstWindow + Math.floor(i / PER_WINDOW) * 60_000 + (i % PER_WINDOW) * 10 }),
      );
      await publishScored(kafka, core.topicScored, reviews);
      await waitFor(async () => (await service.metrics.windowsClosed.get()).values[0]?.value === WINDOWS, 90_000, 'all windows to close');
    } finally {
      await service.stop();
      await target.close();
    }

    const promotions = await collect(kafka, core.topicPromotions, 'ModelPromotion', { idleMs: 4_000 });
    const rollbacks = promotions.map((p) => p.value).filter((p) => p.action === 'rollback' && p.to_stage === 'production');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ model_name: MODEL, version: 1, previous_production_version: badVersion, actor: 'drift-aggregator' });
    expect(rollbacks[0]!.reason).toMatch(/auto-rollback: rb-model v2 red for 3 consecutive windows/);
    expect(await openRegistry(registryDir).productionVersion(MODEL)).toBe(1);
  });
});
