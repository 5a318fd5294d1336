/**
 * ModelService with the real runtime (core/model/runtime.ts) and the shipped model (models/default):
 * corrupted copies of it are refused with a typed error while the old version keeps serving.
 */
import { cp, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { repoPath } from '../../../core/paths.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { createModelService, type ManagedModelService } from '../../../core/model/service.js';
import type { ReviewInput } from '../../../core/review.js';

const silent = pino({ level: 'silent' });
const reviews: ReviewInput[] = [
  { review_id: 'a', text: 'Terrible quality, broke after one day. Do not buy.', rating: 1 },
  { review_id: 'b', text: 'Works exactly as described, very happy with it!', rating: 5 },
];

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

let dir: string;
let registry: ModelRegistry;
let service: ManagedModelService;

/** Registers a copy of v1, changed by `corrupt` (applied to the copy only). */
async function registerCopy(corrupt: (versionDir: string) => Promise<void>): Promise<number> {
  const v1 = await registry.get('sentiment', 1);
  const result = await registry.register({
    name: 'sentiment',
    writeArtifacts: async (target) => {
      await cp(registry.versionDir('sentiment', 1), target, { recursive: true });
      await corrupt(target);
    },
    metrics: { ...v1.metrics },
    baseline: await registry.baseline('sentiment', 1),
    featurizer: v1.featurizer,
    dataFingerprint: v1.data_fingerprint,
    params: { copyOf: 1 },
    timings: {},
  });
  return result.version;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (err: unknown) => (err instanceof DriftlineError ? err.code : `untyped: ${String(err)}`),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-service-real-'));
  registry = openRegistry(join(dir, 'registry'));
  expect(await registry.seedFromDirectory('sentiment', repoPath('models', 'default'))).not.toBeNull();
  service = createModelService({ registry, modelName: 'sentiment', logger: silent, disposeGraceMs: 0, reconcileIntervalMs: 0 });
  await service.loadProduction();
});
afterAll(async () => {
  await service?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ModelService with models/default', () => {
  it('serves the seeded production version', async () => {
    expect(service.current().version).toBe(1);
    const predictions = await service.current().score(reviews);
    expect(predictions.map((p) => p.review_id)).toEqual(['a', 'b']);
    for (const p of predictions) expect(Number.isFinite(p.confidence)).toBe(true);
  });

  it('refuses a copy with truncated weights; v1 keeps serving', async () => {
    const broken = await registerCopy(async (target) => {
      const weights = (await filesUnder(target)).filter((f) => f.endsWith('.bin'));
      expect(weights.length).toBeGreaterThan(0);
      for (const file of weights) await truncate(file, Math.floor((await stat(file)).size / 2));
    });
    expect(['MODEL_LOAD_FAILED', 'MODEL_CHECK_FAILED']).toContain(await refusal(service.swapTo(broken)));
    expect(service.current().version).toBe(1);
    expect(await service.current().score(reviews)).toHaveLength(2);
  });

  it('refuses a copy whose model.json is garbage; v1 keeps serving', async () => {
    const broken = await registerCopy(async (target) => {
      const manifests = (await filesUnder(target)).filter((f) => f.endsWith('model.json'));
      expect(manifests.length).toBeGreaterThan(0);
      for (const file of manifests) await writeFile(file, '{"modelTopology": [garbage');
    });
    expect(await refusal(service.swapTo(broken))).toBe('MODEL_LOAD_FAILED');
    expect(service.current().version).toBe(1);
    expect(await service.current().score(reviews)).toHaveLength(2);
    expect(service.stats().swapFailures).toBe(2);
  });

  it('swaps to an intact copy and scores the same way', async () => {
    const before = await service.current().score(reviews);
    const intact = await registerCopy(async () => undefined);
    expect((await service.swapTo(intact)).version).toBe(intact);
    const after = await service.current().score(reviews);
    expect(after.map((p) => p.sentiment)).toEqual(before.map((p) => p.sentiment));
    for (let i = 0; i < before.length; i++) expect(after[i]!.confidence).toBeCloseTo(before[i]!.confidence, 5);
  });
});
