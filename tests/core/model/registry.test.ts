import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { openRegistry, type ModelRegistry, type RegisterInput } from '../../../core/model/registry/index.js';
import { repoPath } from '../../../core/paths.js';
import { fakeBaseline as baseline, fakeRegisterInput as input } from './registry-fixtures.js';
import { runModels } from '../../../trainer/registry-cli.js';
import type { ModelPromotion } from '../../../schemas/types.js';

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DriftlineError) return err.code;
    throw err;
  }
  return 'resolved';
}

let dir: string;
let registry: ModelRegistry;
const actor = 'tester';

/** The load check of these tests' one-file fake artifacts (the real one is tested in 'promotion gate'). */
const fakeArtifactsLoad = async (versionDir: string): Promise<void> => {
  if ((await readFile(join(versionDir, 'model.bin'), 'utf8')) === 'corrupt') throw new DriftlineError('MODEL_LOAD_FAILED', 'model.bin is corrupt');
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-registry-'));
  registry = openRegistry(dir, { verifyArtifacts: fakeArtifactsLoad });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('register', () => {
  it('assigns increasing versions in staging, renames artifacts into place and stamps the baseline', async () => {
    const first = await registry.register(input('sentiment', 0.7, 'one'));
    const second = await registry.register(input('sentiment', 0.72, 'two'));
    expect([first.version, second.version]).toEqual([1, 2]);
    expect(second.dir).toBe(registry.versionDir('sentiment', 2));
    expect(await readFile(join(second.dir, 'model.bin'), 'utf8')).toBe('two');
    const stamped = await registry.baseline('sentiment', 2);
    expect([stamped.modelName, stamped.modelVersion]).toEqual(['sentiment', 2]);
    const record = await registry.get('sentiment', 1);
    expect(record).toMatchObject({ stage: 'staging', data_fingerprint: 'sha256:abc', featurizer: { kind: 'hashing', buckets: 16 }, params: { epochs: 1 }, timings: { trainMs: 12 } });
    expect(record.stage_history).toEqual([expect.objectContaining({ action: 'register', from_stage: null, to_stage: 'staging' })]);
    expect(first.changes.map((c) => [c.action, c.to_stage])).toEqual([['register', 'staging']]);
    // Nothing left behind: no temp dirs, no lock.
    expect((await readdir(join(dir, 'sentiment'))).sort()).toEqual(['index.json', 'versions']);
    expect(JSON.parse(await readFile(join(dir, 'sentiment', 'index.json'), 'utf8')).versions).toHaveLength(2);
  });

  it('cleans the temp directory and registers nothing when writing artifacts fails', async () => {
    const failing: RegisterInput = { ...input('sentiment', 0.7), writeArtifacts: async () => Promise.reject(new Error('disk full')) };
    await expect(registry.register(failing)).rejects.toThrow('disk full');
    expect(await registry.list('sentiment')).toEqual([]);
    expect(await readdir(join(dir, 'sentiment'))).toEqual([]);
  });

  it('never reuses a version number left by an orphaned version directory', async () => {
    await registry.register(input('sentiment', 0.7));
    await mkdir(join(dir, 'sentiment', 'versions', '2')); // as after a crash between rename and index write
    expect((await registry.register(input('sentiment', 0.7))).version).toBe(3);
  });

  it('rejects names that could escape the registry directory', async () => {
    expect(await code(registry.register(input('../evil', 0.5)))).toBe('REQUEST_INVALID');
    expect(await code(registry.get('a/b', 1))).toBe('REQUEST_INVALID');
  });

  it('answers MODEL_NOT_FOUND for unknown names and versions', async () => {
    expect(await code(registry.get('nope', 1))).toBe('MODEL_NOT_FOUND');
    await registry.register(input('sentiment', 0.7));
    expect(await code(registry.get('sentiment', 9))).toBe('MODEL_NOT_FOUND');
    expect(await registry.productionVersion('sentiment')).toBeNull();
    expect(await registry.productionVersion('nope')).toBeNull();
  });
});

describe('stage rules', () => {
  it('keeps at most one production version and archives the old one with previous_production', async () => {
    await registry.register(input('sentiment', 0.7));
    await registry.register(input('sentiment', 0.75));
    const first = await registry.promote('sentiment', 1, { actor });
    expect(first.change).toMatchObject({ action: 'promote', from_stage: 'staging', to_stage: 'production', previous_production_version: null, actor });
    const second = await registry.promote('sentiment', 2, { actor, reason: 'better' });
    expect(second.change).toMatchObject({ version: 2, previous_production_version: 1, reason: 'better' });
    const stages = (await registry.list('sentiment')).map((r) => [r.version, r.stage]);
    expect(stages).toEqual([
      [1, 'archived'],
      [2, 'production'],
    ]);
    expect((await registry.get('sentiment', 2)).previous_production).toBe(1);
    expect(await registry.productionVersion('sentiment')).toBe(2);
  });

  it('refuses a candidate with a worse held-out macro-F1 unless forced', async () => {
    await registry.register(input('sentiment', 0.8));
    await registry.register(input('sentiment', 0.6));
    await registry.register(input('sentiment', undefined));
    await registry.promote('sentiment', 1, { actor });
    expect(await code(registry.promote('sentiment', 2, { actor }))).toBe('PROMOTION_REFUSED');
    expect(await code(registry.promote('sentiment', 3, { actor }))).toBe('PROMOTION_REFUSED');
    expect(await registry.productionVersion('sentiment')).toBe(1);
    expect((await registry.get('sentiment', 2)).stage).toBe('staging');
    await registry.promote('sentiment', 2, { actor, force: true });
    expect(await registry.productionVersion('sentiment')).toBe(2);
  });

  it('refuses promoting the production version again', async () => {
    await registry.register(input('sentiment', 0.8));
    await registry.promote('sentiment', 1, { actor });
    expect(await code(registry.promote('sentiment', 1, { actor }))).toBe('PROMOTION_REFUSED');
  });

  it('rolls back through earlier production versions and refuses when none is left', async () => {
    for (const f1 of [0.7, 0.75, 0.8]) await registry.register(input('sentiment', f1));
    expect(await code(registry.rollback('sentiment', { actor }))).toBe('PROMOTION_REFUSED');
    await registry.promote('sentiment', 1, { actor });
    await registry.promote('sentiment', 2, { actor });
    await registry.promote('sentiment', 3, { actor });
    const back = await registry.rollback('sentiment', { actor, reason: 'drift' });
    expect(back.change).toMatchObject({ action: 'rollback', version: 2, from_stage: 'archived', to_stage: 'production', previous_production_version: 3, reason: 'drift' });
    expect((await registry.get('sentiment', 3)).stage).toBe('archived');
    await registry.rollback('sentiment', { actor });
    expect(await registry.productionVersion('sentiment')).toBe(1);
    expect(await code(registry.rollback('sentiment', { actor }))).toBe('PROMOTION_REFUSED');
    expect((await registry.list('sentiment')).filter((r) => r.stage === 'production')).toHaveLength(1);
  });

  it('archives staging versions, and the production one only with force', async () => {
    await registry.register(input('sentiment', 0.7));
    await registry.register(input('sentiment', 0.7));
    await registry.promote('sentiment', 1, { actor });
    expect((await registry.archive('sentiment', 2, { actor })).change).toMatchObject({ action: 'archive', from_stage: 'staging', to_stage: 'archived' });
    expect(await code(registry.archive('sentiment', 2, { actor }))).toBe('PROMOTION_REFUSED');
    expect(await code(registry.archive('sentiment', 1, { actor }))).toBe('PROMOTION_REFUSED');
    await registry.archive('sentiment', 1, { actor, force: true });
    expect(await registry.productionVersion('sentiment')).toBeNull();
    // A force-archived production version can still be rolled back to.
    await registry.rollback('sentiment', { actor });
    expect(await registry.productionVersion('sentiment')).toBe(1);
  });
});

describe('promotion gate', () => {
  it('refuses, even with force, a version whose artifacts do not load, and leaves production as it was', async () => {
    await registry.register(input('sentiment', 0.8));
    await registry.promote('sentiment', 1, { actor });
    await registry.register(input('sentiment', 0.9, 'corrupt'));
    const refused = await registry.promote('sentiment', 2, { actor, force: true }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DriftlineError);
    expect(refused).toMatchObject({ code: 'PROMOTION_REFUSED', details: { name: 'sentiment', version: 2, check: 'MODEL_LOAD_FAILED' } });
    expect(await registry.productionVersion('sentiment')).toBe(1);
    expect((await registry.get('sentiment', 2)).stage).toBe('staging');
  });

  it('by default loads the version with the serving runtime and runs its model check', async () => {
    const real = openRegistry(dir); // the default verifier
    const shipped = (corrupt: boolean): RegisterInput => ({
      ...input('shipped', 0.8),
      writeArtifacts: async (target) => {
        await cp(repoPath('models', 'default'), target, { recursive: true });
        if (corrupt) await writeFile(join(target, 'wide', 'weights.bin'), 'not weights');
      },
    });
    await real.register(shipped(true));
    expect(await real.promote('shipped', 1, { actor, force: true }).catch((err: unknown) => (err as DriftlineError).details)).toMatchObject({ check: 'MODEL_LOAD_FAILED' });
    await real.register(shipped(false));
    expect((await real.promote('shipped', 2, { actor })).change).toMatchObject({ version: 2, to_stage: 'production' });
  });
});

describe('runs log', () => {
  it('appends runs and reads them back, skipping a torn last line', async () => {
    await registry.recordRun('sentiment', { kind: 'training', version: 1, metrics: { macroF1: 0.7 } });
    await registry.recordRun('sentiment', { kind: 'evaluation', version: 1 });
    await writeFile(join(dir, 'sentiment', 'runs.jsonl'), '{"kind":"trai', { flag: 'a' });
    const runs = await registry.runs('sentiment');
    expect(runs.map((r) => r.kind)).toEqual(['training', 'evaluation']);
    expect(runs[0]!.run_id).not.toBe(runs[1]!.run_id);
    expect(await registry.runs('other')).toEqual([]);
  });
});

describe('seedFromDirectory', () => {
  it('registers a shipped directory as version 1 in production, only once', async () => {
    const shipped = await mkdtemp(join(tmpdir(), 'driftline-shipped-'));
    try {
      await mkdir(join(shipped, 'sentiment'));
      await writeFile(join(shipped, 'sentiment', 'model.json'), '{"layers":[]}');
      await writeFile(join(shipped, 'baseline.json'), JSON.stringify(baseline()));
      await writeFile(join(shipped, 'metrics.json'), JSON.stringify({ macroF1: 0.66 }));
      const seeded = await registry.seedFromDirectory('default', shipped);
      expect(seeded?.version).toBe(1);
      expect(seeded?.changes.map((c) => [c.action, c.to_stage])).toEqual([
        ['register', 'staging'],
        ['promote', 'production'],
      ]);
      expect(await registry.productionVersion('default')).toBe(1);
      expect((await registry.get('default', 1)).metrics).toEqual({ macroF1: 0.66 });
      expect(await readFile(join(registry.versionDir('default', 1), 'sentiment', 'model.json'), 'utf8')).toBe('{"layers":[]}');
      expect(await registry.seedFromDirectory('default', shipped)).toBeNull();
      expect(await registry.list('default')).toHaveLength(1);
    } finally {
      await rm(shipped, { recursive: true, force: true });
    }
  });

  it('seeds exactly once when two starters race (e.g. scorer and API)', async () => {
    const shipped = await mkdtemp(join(tmpdir(), 'driftline-shipped-'));
    try {
      await writeFile(join(shipped, 'baseline.json'), JSON.stringify(baseline()));
      const results = await Promise.all([registry.seedFromDirectory('default', shipped), openRegistry(dir).seedFromDirectory('default', shipped)]);
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect((await registry.list('default')).map((r) => [r.version, r.stage])).toEqual([[1, 'production']]);
      expect(await readdir(join(dir, 'default', 'versions'))).toEqual(['1']);
    } finally {
      await rm(shipped, { recursive: true, force: true });
    }
  });

  it('does nothing when the name already has a version', async () => {
    await registry.register(input('default', 0.7));
    expect(await registry.seedFromDirectory('default', join(dir, 'does-not-matter'))).toBeNull();
  });

  it('refuses a directory without a baseline', async () => {
    expect(await code(registry.seedFromDirectory('default', dir))).toBe('MODEL_NOT_FOUND');
  });
});

describe('writer lock', () => {
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolveExit) => child.once('exit', resolveExit));
    return child.pid!;
  }

  it('takes over a lock whose holder on this host is dead', async () => {
    await mkdir(join(dir, 'sentiment'), { recursive: true });
    const lock = { pid: await deadPid(), host: hostname(), token: 'old', acquired_at_ms: Date.now() };
    await writeFile(join(dir, 'sentiment', '.lock'), JSON.stringify(lock));
    const quick = openRegistry(dir, { verifyArtifacts: fakeArtifactsLoad, lockWaitMs: 200, conflictRetries: 0 });
    expect((await quick.register(input('sentiment', 0.7))).version).toBe(1);
    await expect(stat(join(dir, 'sentiment', '.lock'))).rejects.toThrow();
  });

  it('takes over a lock older than the stale timeout', async () => {
    await mkdir(join(dir, 'sentiment'), { recursive: true });
    const path = join(dir, 'sentiment', '.lock');
    await writeFile(path, JSON.stringify({ pid: 1, host: 'elsewhere', token: 'old', acquired_at_ms: 0 }));
    const old = new Date(Date.now() - 120_000);
    await utimes(path, old, old);
    const quick = openRegistry(dir, { verifyArtifacts: fakeArtifactsLoad, lockWaitMs: 200, lockStaleMs: 60_000, conflictRetries: 0 });
    expect((await quick.register(input('sentiment', 0.7))).version).toBe(1);
  });

  it('answers REGISTRY_CONFLICT (retriable) while a live writer holds the lock', async () => {
    await mkdir(join(dir, 'sentiment'), { recursive: true });
    await writeFile(join(dir, 'sentiment', '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'live', acquired_at_ms: Date.now() }));
    const quick = openRegistry(dir, { verifyArtifacts: fakeArtifactsLoad, lockWaitMs: 50, conflictRetries: 1 });
    const error = await quick.promote('sentiment', 1, { actor }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DriftlineError);
    expect((error as DriftlineError).code).toBe('REGISTRY_CONFLICT');
    expect((error as DriftlineError).retriable).toBe(true);
    // The live lock is left alone.
    expect(JSON.parse(await readFile(join(dir, 'sentiment', '.lock'), 'utf8')).token).toBe('live');
  });
});

describe('driftline models (CLI)', () => {
  it('lists, promotes with refusal, rolls back and shows without Kafka (--no-publish)', async () => {
    await registry.register(input('sentiment', 0.8));
    await registry.register(input('sentiment', 0.7));
    const lines: string[] = [];
    const io = { registry, out: (t: string) => lines.push(t), err: (t: string) => lines.push(`ERR ${t}`) };
    expect(await runModels(['promote', 'sentiment', '1', '--no-publish'], io)).toBe(0);
    expect(await runModels(['promote', 'sentiment', '2', '--no-publish'], io)).toBe(1);
    expect(lines.at(-1)).toContain('PROMOTION_REFUSED');
    expect(await runModels(['promote', 'sentiment', '2', '--force', '--reason', 'canary', '--no-publish'], io)).toBe(0);
    expect(lines.at(-1)).toBe('sentiment v2: promote staging -> production (previous production: v1)');
    expect(await runModels(['rollback', 'sentiment', '--no-publish'], io)).toBe(0);
    expect(await runModels(['list', 'sentiment'], io)).toBe(0);
    expect(lines.at(-1)).toMatch(/sentiment\s+1\s+production\s+0\.8000/);
    expect(await runModels(['show', 'sentiment', '2'], io)).toBe(0);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ version: 2, stage: 'archived' });
    expect(await runModels(['show', 'sentiment', 'two'], io)).toBe(2);
    expect(await runModels(['bogus'], io)).toBe(2);
  });

  it('publishes one ModelPromotion per stage change, after it is saved', async () => {
    await registry.register(input('sentiment', 0.8));
    await registry.register(input('sentiment', 0.9));
    const events: ModelPromotion[] = [];
    const publisher = async (event: ModelPromotion): Promise<void> => {
      // The change is already persisted when the event goes out.
      expect(await registry.productionVersion('sentiment')).toBe(event.to_stage === 'production' ? event.version : null);
      events.push(event);
    };
    const io = { registry, publisher, out: () => undefined, err: () => undefined };
    expect(await runModels(['promote', 'sentiment', '1', '--actor', 'ops'], io)).toBe(0);
    expect(await runModels(['promote', 'sentiment', '2', '--reason', 'better'], io)).toBe(0);
    expect(await runModels(['rollback', 'sentiment'], io)).toBe(0);
    expect(await runModels(['promote', 'sentiment', '1'], io)).toBe(1); // refused: nothing published
    expect(events.map((e) => [e.action, e.version, e.from_stage, e.to_stage, e.previous_production_version])).toEqual([
      ['promote', 1, 'staging', 'production', null],
      ['promote', 2, 'staging', 'production', 1],
      ['rollback', 1, 'archived', 'production', 2],
    ]);
    expect(events[0]!.actor).toBe('ops');
    expect(events[1]!.reason).toBe('better');
    expect(new Set(events.map((e) => e.event_id)).size).toBe(3);
  });
});
