/**
 * One conformance suite over every ArtifactStore: the filesystem store and the S3 store against the real
 * S3Proxy that scripts/services.sh starts (the integration project's global setup runs `services.sh up`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FilesystemArtifactStore,
  S3ArtifactStore,
  downloadDirectory,
  openArtifactStore,
  uploadDirectory,
  artifactStoreSettings,
  type ArtifactStore,
} from '../../../core/artifact-store/index.js';
import { DriftlineError } from '../../../core/errors.js';

const S3_ENDPOINT = `http://127.0.0.1:${process.env.DRIFTLINE_S3PROXY_PORT ?? '9300'}`;
const LOCAL_CREDENTIALS = { accessKeyId: 'driftline', secretAccessKey: 'driftline-local-secret' };
const BUCKET = 'driftline-tests';

function s3Store(prefix: string, overrides: Partial<ConstructorParameters<typeof S3ArtifactStore>[0]> = {}): S3ArtifactStore {
  return new S3ArtifactStore({ bucket: BUCKET, prefix, endpoint: S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, retries: 2, ...LOCAL_CREDENTIALS, ...overrides });
}

const scratch: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'driftline-artifacts-'));
  scratch.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

const implementations: Array<[string, () => Promise<ArtifactStore>]> = [
  ['filesystem', async () => new FilesystemArtifactStore(await tempDir())],
  [
    's3 (S3Proxy)',
    async () => {
      const store = s3Store(`run-${randomUUID().slice(0, 8)}`);
      await store.ensureBucket(true);
      return store;
    },
  ],
];

describe.each(implementations)('ArtifactStore conformance: %s', (_name, open) => {
  it('stores, reads back, overwrites and deletes objects byte for byte', async () => {
    const store = await open();
    const bytes = new Uint8Array([0, 1, 2, 255, 254, 10, 13]);
    await store.put('reviews/versions/1/wide/weights.bin', bytes);
    expect(await store.get('reviews/versions/1/wide/weights.bin')).toEqual(bytes);
    await store.put('reviews/versions/1/wide/weights.bin', new Uint8Array([7]));
    expect(await store.get('reviews/versions/1/wide/weights.bin')).toEqual(new Uint8Array([7]));
    await store.delete('reviews/versions/1/wide/weights.bin');
    expect(await store.get('reviews/versions/1/wide/weights.bin')).toBeNull();
    await store.delete('reviews/versions/1/wide/weights.bin'); // deleting a missing key is fine
    await store.close();
  });

  it('answers null for a key that was never written, and an empty object as empty bytes', async () => {
    const store = await open();
    expect(await store.get('nothing/here.json')).toBeNull();
    await store.put('empty.txt', new Uint8Array(0));
    expect(await store.get('empty.txt')).toEqual(new Uint8Array(0));
    await store.close();
  });

  it('lists the keys under a prefix, sorted, and nothing of a sibling prefix', async () => {
    const store = await open();
    for (const key of ['m/versions/2/b.json', 'm/versions/2/a/x.bin', 'm/versions/20/c.json', 'm/versions/1/d.json']) {
      await store.put(key, new TextEncoder().encode(key));
    }
    expect(await store.list('m/versions/2/')).toEqual(['m/versions/2/a/x.bin', 'm/versions/2/b.json']);
    expect((await store.list('')).filter((k) => k.startsWith('m/'))).toHaveLength(4);
    expect(await store.list('absent/')).toEqual([]);
    await store.close();
  });

  it('names the children of one level: folders that hold objects and the objects of that level', async () => {
    const store = await open();
    for (const key of ['m/index.json', 'm/versions/1/d.json', 'm/versions/2/a/x.bin', 'n/index.json', 'top.json']) {
      await store.put(key, new TextEncoder().encode(key));
    }
    expect(await store.children('')).toEqual(['m', 'n', 'top.json']);
    expect(await store.children('m/')).toEqual(['index.json', 'versions']);
    expect(await store.children('m/versions/')).toEqual(['1', '2']);
    expect(await store.children('absent/')).toEqual([]);
    await store.delete('m/versions/1/d.json');
    expect(await store.children('m/versions/')).toEqual(['2']);
    await expect(store.children('m')).rejects.toMatchObject({ code: 'ARTIFACT_STORE_FAILED' });
    await store.close();
  });

  it('refuses keys that could leave its root', async () => {
    const store = await open();
    for (const key of ['../escape', 'a/../../b', '/absolute', 'a//b', '', 'a/b/', 'white space']) {
      await expect(store.put(key, new Uint8Array(1)), key).rejects.toMatchObject({ code: 'ARTIFACT_STORE_FAILED' });
    }
    await expect(store.list('no-trailing-slash')).rejects.toMatchObject({ code: 'ARTIFACT_STORE_FAILED' });
    await store.close();
  });

  it('round-trips a whole version directory (upload, then download into a fresh place)', async () => {
    const store = await open();
    const source = await tempDir();
    await mkdir(join(source, 'wide'), { recursive: true });
    await writeFile(join(source, 'driftline-model.json'), '{"format":1}');
    await writeFile(join(source, 'wide', 'weights.bin'), Buffer.from([1, 2, 3]));
    const keys = await uploadDirectory(store, source, 'reviews/versions/3');
    expect(keys).toEqual(['reviews/versions/3/driftline-model.json', 'reviews/versions/3/wide/weights.bin']);
    const target = join(await tempDir(), 'copy', '3');
    expect(await downloadDirectory(store, 'reviews/versions/3', target)).toBe(2);
    expect(await readFile(join(target, 'driftline-model.json'), 'utf8')).toBe('{"format":1}');
    expect([...(await readFile(join(target, 'wide', 'weights.bin')))]).toEqual([1, 2, 3]);
    expect(await downloadDirectory(store, 'reviews/versions/4', join(target, '..', '4'))).toBe(0);
    await store.close();
  });
});

describe('S3 store failures', () => {
  it('a wrong secret is refused at once as ARTIFACT_STORE_FAILED (not retried as if transient)', async () => {
    const store = s3Store('denied', { secretAccessKey: 'wrong' });
    const started = Date.now();
    const err = await store.put('x.json', new Uint8Array(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftlineError);
    expect((err as DriftlineError).code).toBe('ARTIFACT_STORE_FAILED');
    expect((err as DriftlineError).retriable).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
    await store.close();
  });

  it('a server that does not answer is ARTIFACT_STORE_UNAVAILABLE (retriable) after the retries', async () => {
    const store = s3Store('nowhere', { endpoint: 'http://127.0.0.1:1', retries: 1 });
    await expect(store.get('x.json')).rejects.toMatchObject({ code: 'ARTIFACT_STORE_UNAVAILABLE', retriable: true });
    await store.close();
  });

  it('openArtifactStore: empty means none; s3:// opens (bucket checked); anything else is CONFIG_INVALID', async () => {
    expect(await openArtifactStore(artifactStoreSettings.load({}))).toBeNull();
    const env = {
      DRIFTLINE_ARTIFACT_STORE: `s3://${BUCKET}/open-test`,
      DRIFTLINE_S3_ENDPOINT: S3_ENDPOINT,
      DRIFTLINE_S3_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      DRIFTLINE_S3_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      DRIFTLINE_S3_CREATE_BUCKET: 'true',
    };
    const store = await openArtifactStore(artifactStoreSettings.load(env));
    expect(store?.uri).toBe(`s3://${BUCKET}/open-test/`);
    await store?.close();
    const missing = artifactStoreSettings.load({ ...env, DRIFTLINE_ARTIFACT_STORE: 's3://driftline-no-such-bucket', DRIFTLINE_S3_CREATE_BUCKET: 'false' });
    await expect(openArtifactStore(missing)).rejects.toMatchObject({ code: 'ARTIFACT_STORE_FAILED' });
    await expect(openArtifactStore(artifactStoreSettings.load({ DRIFTLINE_ARTIFACT_STORE: 'ftp://x' }))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
