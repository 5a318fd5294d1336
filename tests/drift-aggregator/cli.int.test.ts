/** `driftline alerts` as a process: reads DriftAlert events in its consumer group, prints them, and a second run of the group prints nothing again. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InMemoryBaselineProvider, SketchCatalog } from '../../drift-aggregator/baselines.js';
import { BatchAggregate } from '../../drift-aggregator/increments.js';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { registerBaseline } from './harness.js';
import { codecFor } from '../../core/avro.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { stepWindow } from '../../drift-aggregator/alert-episodes.js';
import type { DriftAlert } from '../../schemas/types.js';
import { driftlineCli, testSetup } from './harness.js';

describe('driftline alerts', () => {
  it('prints the alerts of the topic, as JSON lines or readable text', async () => {
    const { core, env } = testSetup();
    const kafka = createKafka(core, 'cli-test');
    await ensureTopics(kafka, [core.topicAlerts], core);
    const alerts = stepWindow({ modelName: 'cli-model', modelVersion: 3, start: 1_700_000_040_000 }, 60_000, [
      { segment: '__all__', feature: 'feature.text_chars', metric: 'psi', value: 0.61, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status: 'red' },
      { segment: 'Books', feature: 'rating', metric: 'chi_square', value: 0.15, pValue: 1e-6, thresholdAmber: 0.1, thresholdRed: 0.2, status: 'amber' },
    ], [null, null], 1_700_000_100_000).alerts;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: core.topicAlerts, messages: alerts.map((alert) => ({ key: alert.model_name, value: codecFor('DriftAlert').encode(alert) })) });
    await producer.disconnect();

    const cliEnv = { ...process.env, ...env };
    const json = await driftlineCli(['alerts', '--json', '--max', '2', '--group', `t-${core.redisPrefix}-json`], cliEnv);
    const printed = json.trim().split('\n').map((line) => JSON.parse(line) as DriftAlert);
    expect(printed.map((a) => [a.segment, a.previous_status, a.status])).toEqual([[null, 'green', 'red'], ['Books', 'green', 'amber']]);
    const text = await driftlineCli(['alerts', '--idle-ms', '2000', '--group', `t-${core.redisPrefix}-text`], cliEnv);
    expect(text).toContain(`RED raised green→red cli-model v3 segment all: feature.text_chars psi=0.6100 (amber 0.1, red 0.25) window 2023-11-14T22:14:00.000Z alert ${alerts[0]!.alert_id}`);
    expect(text).toContain('AMBER raised green→amber cli-model v3 segment Books: rating chi_square=0.1500 (amber 0.1, red 0.2, p=1.00e-6)');
    // The same group again: its offsets are committed, nothing is printed twice.
    expect(await driftlineCli(['alerts', '--idle-ms', '2000', '--group', `t-${core.redisPrefix}-json`], cliEnv)).toBe('');
    rmSync(core.clickhousePath, { recursive: true, force: true });
  });

  it('driftline drift sliding merges consecutive windows from the Redis sketches', async () => {
    const { core, env } = testSetup();
    const registryDir = mkdtempSync(join(tmpdir(), 'driftline-cli-registry-'));
    const baseline = syntheticBaseline('sliding-model', 1, 2_000);
    await registerBaseline(registryDir, baseline);
    const redis = new Redis(core.redisUrl);
    const state = new AggregatorState(redis, core.redisPrefix);
    const catalog = new SketchCatalog(new InMemoryBaselineProvider([baseline]), 10);
    await catalog.ensure([{ modelName: 'sliding-model', version: 1 }]);
    const random = seededRandom(3);
    let last = -1;
    for (const [window, count] of [[0, 120], [1, 130], [2, 140]] as const) {
      const aggregate = new BatchAggregate({ windowMs: 60_000, windowTime: 'ingest', sketchesOf: (n, v) => catalog.get(n, v) });
      for (let i = 0; i < count; i++) aggregate.add(syntheticReview(i, random, { modelName: 'sliding-model', modelVersion: 1, ingestTimeMs: 6_000_000 + window * 60_000 + i }));
      await state.applyBatch({ topic: 'scored', partition: 0, expectedPrevOffset: last, lastOffset: last + count, increments: aggregate.increments(), nowWallMs: Date.now(), allowedLatenessMs: 0, windowMs: 60_000 });
      last += count;
    }
    const out = await driftlineCli(['drift', 'sliding', '--model', 'sliding-model', '--version', '1', '--windows', '2', '--end-ms', String(6_000_000 + 3 * 60_000), '--json'], {
      ...process.env,
      ...env,
      DRIFTLINE_REGISTRY_DIR: registryDir,
    });
    const view = JSON.parse(out.trim()) as { windowsFound: number; events: number; accuracy: number | null; estimatedAccuracy: number | null; rows: Array<{ feature: string; status: string }> };
    expect(view.windowsFound).toBe(2);
    expect(view.events).toBe(270);
    // The merged windows' realized accuracy and its label-free estimate (synthetic events: ~0.85 correct).
    expect(view.accuracy).toBeGreaterThan(0.7);
    expect(view.estimatedAccuracy).toBeGreaterThan(0.5);
    expect(view.rows.some((r) => r.feature === 'feature.text_length')).toBe(true);
    const keys = await redis.keys(`${core.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(registryDir, { recursive: true, force: true });
    rmSync(core.clickhousePath, { recursive: true, force: true });
  });
});
