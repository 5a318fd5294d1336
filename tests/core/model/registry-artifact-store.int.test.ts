/**
 * The registry over a real S3-compatible store (the S3Proxy scripts/services.sh starts): a writer host
 * registers and promotes; a serving host with an empty registry directory finds the model through the
 * store's index, downloads the production version on first load and serves it; rollback still works.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../../../core/artifact-store/index.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { repoPath } from '../../../core/paths.js';

const S3_ENDPOINT = `http://127.0.0.1:${process.env.DRIFTLINE_S3PROXY_PORT ?? '9300'}`;
const SAMPLE = { review_id: 'r1', title: 'Great', text: 'Works well, I love it.', rating: 5 };

let store: S3ArtifactStore;
let writerDir: string;
let readerDir: string;
let writer: ModelRegistry;
let reader: ModelRegistry;

beforeAll(async () => {
  store = new S3ArtifactStore({
    bucket: 'driftline-tests', prefix: `registry-${randomUUID().slice(0, 8)}`, endpoint: S3_ENDPOINT, region: 'us-east-1',
    forcePathStyle: true, accessKeyId: 'driftline', secretAccessKey: 'driftline-local-secret', retries: 2,
  });
  await store.ensureBucket(true);
  writerDir = await mkdtemp(join(tmpdir(), 'driftline-writer-'));
  readerDir = await mkdtemp(join(tmpdir(), 'driftline-reader-'));
  writer = openRegistry(writerDir, { artifactStore: store });
  reader = openRegistry(readerDir, { artifactStore: store });
});

afterAll(async () => {
  await store.close();
  await Promise.all([writerDir, readerDir].map((d) => rm(d, { recursive: true, force: true })));
});

describe('model registry with an S3 artifact store', () => {
  it('a seeded production version is in the store, and a host with an empty directory loads and serves it', async () => {
    const seeded = await writer.seedFromDirectory('reviews', repoPath('models', 'default'));
    expect(seeded?.version).toBe(1);
    const keys = await store.list('reviews/');
    expect(keys).toContain('reviews/index.json');
    expect(keys).toContain('reviews/versions/1/driftline-model.json');

    expect(await readdir(readerDir)).toEqual([]);
    expect(await reader.names()).toEqual(['reviews']);
    expect(await reader.productionVersion('reviews')).toBe(1);
    const dir = await reader.localVersionDir('reviews', 1);
    expect(dir.startsWith(readerDir)).toBe(true);
    expect(await readFile(join(dir, 'wide', 'weights.bin'))).toEqual(await readFile(repoPath('models', 'default', 'wide', 'weights.bin')));
    expect((await reader.baseline('reviews', 1)).modelVersion).toBe(1);

    const runtime = await loadModelRuntime(dir, { name: 'reviews', version: 1 });
    try {
      await runtime.check();
      const [prediction] = await runtime.score([SAMPLE]);
      expect(prediction?.sentiment).toBe('positive');
    } finally {
      runtime.dispose();
    }
  });

  it('a second version registered and promoted by the writer is what the reader sees; rollback restores v1 for both', async () => {
    await writer.seedFromDirectory('other', repoPath('models', 'default')); // a second model name, listed too
    const second = await writer.register({
      name: 'reviews',
      writeArtifacts: async (target) => {
        const { cp } = await import('node:fs/promises');
        await cp(repoPath('models', 'default'), target, { recursive: true });
      },
      metrics: { macroF1: 0.99 },
      baseline: await writer.baseline('reviews', 1),
      featurizer: {},
      dataFingerprint: 'sha256:test',
      params: {},
      timings: {},
    });
    expect(second.version).toBe(2);
    await writer.promote('reviews', 2, { actor: 'test', force: true });
    expect(await reader.productionVersion('reviews')).toBe(2);
    expect(await reader.names()).toEqual(['other', 'reviews']);
    await reader.localVersionDir('reviews', 2);

    await writer.rollback('reviews', { actor: 'test', reason: 'test' });
    expect(await reader.productionVersion('reviews')).toBe(1);
  });

  it('a version the store does not have is MODEL_NOT_FOUND naming the store', async () => {
    await expect(reader.localVersionDir('reviews', 9)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining(store.uri) });
  });
});
