/**
 * Exactly-once counting across crashes and scale-out: the aggregator runs as a child process
 * (`node --import tsx drift-aggregator/main.ts`), is SIGKILLed mid-stream, then two instances in the
 * same consumer group take over. Every event must be counted exactly once in ClickHouse's windows —
 * on a single Redis and on the 3-master Redis Cluster (the topic's 3 partitions spread over its masters).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AggregatorState } from '../../drift-aggregator/redis-state.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import type { ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';
import { REPO_ROOT, driftlineCli, publishScored, registerBaseline, testSetup, waitFor } from './harness.js';
import { deleteMatching, REDIS_MODES, redisFor } from '../support/redis-modes.js';

const WINDOWS = 6;
const PER_WINDOW = 500;
const TOTAL = WINDOWS * PER_WINDOW;
const MODEL = 'eo-model';

const children: ChildProcess[] = [];

function startAggregator(baseEnv: NodeJS.ProcessEnv, chdbPath: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'drift-aggregator/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...baseEnv, DRIFTLINE_CLICKHOUSE_PATH: chdbPath },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (/"level":(50|60)/.test(text)) process.stderr.write(`[aggregator ${child.pid}] ${text}`);
  });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}


interface SummaryRow {
  window_start: string;
  segment: string;
  events: number;
  late_events: number;
  state_lost: number;
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe.each(REDIS_MODES)('exactly-once window counts on $name Redis', (mode) => {
  const setup = testSetup({ maxBatchBytes: 8 * 1024, idleCloseMs: 2_000 });
  const registryDir = mkdtempSync(join(tmpdir(), 'driftline-eo-registry-'));
  const chdbPaths = ['a', 'b', 'c'].map((name) => mkdtempSync(join(tmpdir(), `driftline-eo-chdb-${name}-`)));
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...setup.env, ...mode.env, DRIFTLINE_REGISTRY_DIR: registryDir };
  const redis = redisFor(mode);
  const state = new AggregatorState(redis, setup.core.redisPrefix);

  async function appliedEvents(): Promise<number> {
    const offsets = await state.appliedOffsets();
    return Object.values(offsets).reduce((sum, offset) => sum + Number(offset) + 1, 0);
  }

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await deleteMatching(redis, `${setup.core.redisPrefix}:*`);
    redis.disconnect();
    for (const path of [registryDir, ...chdbPaths, setup.core.clickhousePath]) rmSync(path, { recursive: true, force: true });
  });

  it('counts every event once after a SIGKILL mid-stream and a restart as two instances', async () => {
    await registerBaseline(registryDir, syntheticBaseline(MODEL, 1));
    const kafka = createKafka(setup.core, 'eo-test');
    await ensureTopics(kafka, [setup.core.topicScored], setup.core);
    const random = seededRandom(21);
    const firstWindow = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;
    const reviews: ScoredReview[] = Array.from({ length: TOTAL }, (_, i) =>
      syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: firstWindow + Math.floor(i / PER_WINDOW) * 60_000 + (i % PER_WINDOW) * 10 }),
    );
    await publishScored(kafka, setup.core.topicScored, reviews);

    const first = startAggregator(baseEnv, chdbPaths[0]!);
    await waitFor(async () => (await appliedEvents()) > 0, 120_000, 'the first instance to apply a batch', 5);
    first.kill('SIGKILL');
    await exited(first);
    const appliedAtKill = await appliedEvents();
    expect(appliedAtKill).toBeLessThan(TOTAL);

    const second = startAggregator(baseEnv, chdbPaths[1]!);
    const third = startAggregator(baseEnv, chdbPaths[2]!);
    await waitFor(async () => (await appliedEvents()) === TOTAL, 120_000, 'every offset to be applied');
    await waitFor(
      async () => (await redis.zcard(state.key('open'))) === 0 && (await redis.llen(state.key('pending'))) === 0 && (await state.lateDirtyCount()) === 0,
      120_000,
      'every window to be closed and written',
    );
    second.kill('SIGTERM');
    third.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(await exited(third)).toBe(0);

    // Each instance wrote into its own chdb path: read them all, keep the newest row per key.
    const newest = new Map<string, SummaryRow & { written_at: string }>();
    for (const path of chdbPaths) {
      const out = await driftlineCli(['drift', 'query', '--summary', '--json', '--limit', '1000'], { ...baseEnv, DRIFTLINE_CLICKHOUSE_PATH: path });
      const rows = JSON.parse(out.trim().split('\n').pop() ?? '[]') as Array<SummaryRow & { written_at?: string }>;
      for (const row of rows) {
        const key = `${row.window_start}|${row.segment}`;
        const current = newest.get(key);
        if (!current || (row.written_at ?? '') > current.written_at) newest.set(key, { ...row, written_at: row.written_at ?? '' });
      }
    }
    const windows = [...newest.values()];
    expect(windows).toHaveLength(WINDOWS);
    expect(windows.reduce((sum, w) => sum + Number(w.events) + Number(w.late_events), 0)).toBe(TOTAL);
    expect(windows.every((w) => Number(w.state_lost) === 0)).toBe(true);
  });
});
