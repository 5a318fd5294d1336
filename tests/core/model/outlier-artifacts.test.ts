import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { TEXT_ANOMALY_FILE, writeModelArtifacts } from '../../../core/model/artifacts.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { repoPath } from '../../../core/paths.js';
import type { TrainResult } from '../../../trainer/train.js';
import { trainTiny } from '../../trainer/fixtures.js';
import { probe } from './runtime-conformance.js';

let trained: TrainResult;
const dirs: string[] = [];

async function written(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-outlier-artifacts-'));
  dirs.push(dir);
  await writeModelArtifacts(trained.bundle, dir);
  return dir;
}

async function loadError(dir: string): Promise<DriftlineError | null> {
  try {
    (await loadModelRuntime(dir, { name: 'tiny', version: 1 })).dispose();
    return null;
  } catch (err) {
    return err as DriftlineError;
  }
}

beforeAll(async () => {
  trained = await trainTiny();
}, 120_000);

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('outlier artifacts', () => {
  it('a trained version carries the text-anomaly tables and the k-NN shift sample, and scores the same after a round trip', async () => {
    const dir = await written();
    const outlier = JSON.parse(await readFile(join(dir, 'outlier.json'), 'utf8')) as Record<string, unknown>;
    expect(outlier.textAnomaly).toMatchObject({ gram4Bits: 19, gram3Bits: 16, vocabBits: 20 });
    expect((outlier.shiftKnn as { points: number[] }).points.length).toBeGreaterThan(0);
    expect((await readFile(join(dir, TEXT_ANOMALY_FILE))).byteLength).toBe(2 ** 19 + 2 ** 16 + 2 ** 17);
    const runtime = await loadModelRuntime(dir, { name: 'tiny', version: 1 });
    try {
      const predictions = await runtime.score(probe.slice(0, 20));
      for (const p of predictions) {
        expect(p.outlierScore).toBeGreaterThanOrEqual(0);
        expect(p.outlierScore).toBeLessThanOrEqual(1);
        expect(p.shiftScore).toBeGreaterThanOrEqual(0);
        expect(p.shiftScore).toBeLessThanOrEqual(1);
      }
    } finally {
      runtime.dispose();
    }
  });

  it('refuses with MODEL_LOAD_FAILED a version whose text-anomaly binary is missing or truncated', async () => {
    const missing = await written();
    await unlink(join(missing, TEXT_ANOMALY_FILE));
    expect((await loadError(missing))?.code).toBe('MODEL_LOAD_FAILED');
    const truncated = await written();
    await truncate(join(truncated, TEXT_ANOMALY_FILE), 1000);
    const error = await loadError(truncated);
    expect(error?.code).toBe('MODEL_LOAD_FAILED');
    expect(error?.message).toMatch(/text-anomaly tables need/);
  });

  it('refuses a k-NN sample of the wrong width with MODEL_LOAD_FAILED', async () => {
    const dir = await written();
    const outlier = JSON.parse(await readFile(join(dir, 'outlier.json'), 'utf8')) as { shiftKnn: { dims: number; points: number[] } };
    outlier.shiftKnn.dims = 4;
    outlier.shiftKnn.points = outlier.shiftKnn.points.slice(0, 40);
    await writeFile(join(dir, 'outlier.json'), JSON.stringify(outlier));
    expect((await loadError(dir))?.code).toBe('MODEL_LOAD_FAILED');
  });

  it('keeps loading versions written before them (no tables, no k-NN sample): the old scores, in [0, 1]', async () => {
    const dir = await written();
    const outlier = JSON.parse(await readFile(join(dir, 'outlier.json'), 'utf8')) as Record<string, unknown>;
    delete outlier.textAnomaly;
    delete outlier.shiftKnn;
    await writeFile(join(dir, 'outlier.json'), JSON.stringify(outlier));
    await unlink(join(dir, TEXT_ANOMALY_FILE));
    for (const versionDir of [dir, repoPath('models', 'default')]) {
      const runtime = await loadModelRuntime(versionDir, { name: 'old', version: 1 });
      try {
        await runtime.check();
        const [p] = await runtime.score([probe[0]!]);
        expect(p!.outlierScore).toBeGreaterThanOrEqual(0);
        expect(p!.outlierScore).toBeLessThanOrEqual(1);
      } finally {
        runtime.dispose();
      }
    }
  });
});
