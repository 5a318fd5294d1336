/**
 * The retrain policy's checks in its metrics, and its lock: a check while another instance holds the lock is
 * skipped (and counted so); a crashed holder's lock (dead pid on this host, or silent past
 * DRIFTLINE_RETRAIN_LOCK_STALE_MS elsewhere) is taken over. On a real filesystem registry without a production
 * version, so the checks end before reading ClickHouse (the trained / promoted / refused counts are in
 * tests/trainer/retrain-policy.int.test.ts, on a real training).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { acquireLock, openRegistry } from '../../core/model/registry/index.js';
import { retrainPolicySettings } from '../../trainer/config.js';
import { RetrainPolicy } from '../../trainer/retrain-policy.js';
import { createRetrainPolicyMetrics, type RetrainPolicyMetrics } from '../../trainer/retrain-policy-metrics.js';

const root = mkdtempSync(join(tmpdir(), 'driftline-policy-metrics-'));
const NOW_MS = 1_800_000_000_000;
const STALE_MS = 60_000;
let clickhouse: ClickHouseClient;
let prometheus: Registry;
let metrics: RetrainPolicyMetrics;

function policy(): RetrainPolicy {
  return new RetrainPolicy(
    { ...retrainPolicySettings.load({}), enabled: true, lockStaleMs: STALE_MS },
    {
      registry: openRegistry(join(root, 'registry')),
      clickhouse,
      database: 'policy_metrics_test',
      name: 'reviews',
      reference: async () => [],
      log: createLogger('retrain-policy-metrics-test', 'silent'),
      gate: { windows: 3, minReviews: 500, margin: 0.01 },
      now: () => NOW_MS,
      metrics,
    },
  );
}

async function value(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await prometheus.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number> }>;
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

async function writeLock(path: string, owner: { pid: number; host: string }, ageMs: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify({ ...owner, token: 'crashed', acquired_at_ms: 0 }));
  const at = new Date(Date.now() - ageMs);
  await utimes(path, at, at);
}

beforeAll(async () => {
  clickhouse = await createClickHouse(coreSettings.load({}, { clickhouseUrl: '', clickhousePath: join(root, 'chdb') }));
  prometheus = new Registry();
  metrics = createRetrainPolicyMetrics(prometheus);
});

afterAll(async () => {
  await clickhouse?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('retrain policy metrics and lock', () => {
  it('counts each check by outcome and stamps its time', async () => {
    expect(await policy().tick()).toEqual({ action: 'none', reason: 'reviews has no production version' });
    expect(await policy().tick()).toMatchObject({ action: 'none' });
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'none' })).toBe(2);
    expect(await value('driftline_retrain_policy_last_outcome_timestamp_seconds', { outcome: 'none' })).toBe(NOW_MS / 1_000);
    // Nothing triggered, trained or offered to the gate.
    expect(await value('driftline_retrain_policy_triggers_total')).toBeUndefined();
    expect(await value('driftline_retrain_policy_candidates_trained_total')).toBe(0);
    expect(await value('driftline_retrain_policy_gate_decisions_total')).toBeUndefined();
  });

  it('skips the check while another instance holds the lock, and checks again once it is released', async () => {
    const instance = policy();
    const other = await acquireLock(instance.lockPath(), 0, STALE_MS);
    expect(await instance.tick()).toMatchObject({ action: 'skipped', reason: expect.stringContaining('another retrain policy instance holds') });
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'skipped' })).toBe(1);
    await other.release();
    expect((await instance.tick()).action).toBe('none');
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'none' })).toBe(3);
  });

  it("takes over a crashed holder's lock: at once when its pid is dead on this host, after the stale age from another host", async () => {
    const instance = policy();
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    await writeLock(instance.lockPath(), { pid: exited, host: hostname() }, 0);
    expect((await instance.tick()).action).toBe('none');
    // Another host's holder: alive while fresh, abandoned once silent past the stale age.
    await writeLock(instance.lockPath(), { pid: 1, host: 'elsewhere' }, STALE_MS / 2);
    expect((await instance.tick()).action).toBe('skipped');
    await writeLock(instance.lockPath(), { pid: 1, host: 'elsewhere' }, 2 * STALE_MS);
    expect((await instance.tick()).action).toBe('none');
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'skipped' })).toBe(2);
  });
});
