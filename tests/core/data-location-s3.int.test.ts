/**
 * Datasets under an s3:// data root (core/data-location.ts withDataLocation), against the real S3Proxy that
 * scripts/services.sh starts: read through a temporary copy that is gone afterwards; a URI under no root, a key
 * with '..' and another scheme are refused (403 code), a missing object is not found (404 code); POST
 * /v1/evaluate reads one the same way.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../../core/artifact-store/index.js';
import { withDataLocation } from '../../core/data-location.js';
import { repoPath } from '../../core/paths.js';
import { ADMIN_TOKEN, buildTestApi, type TestApi } from '../api/helpers.js';

const ENDPOINT = `http://127.0.0.1:${process.env.DRIFTLINE_S3PROXY_PORT ?? '9300'}`;
const BUCKET = 'driftline-tests';
const PREFIX = `datasets-${randomUUID().slice(0, 8)}`;
const ROOT = `s3://${BUCKET}/${PREFIX}/`;
const S3_ENV = {
  DRIFTLINE_S3_ENDPOINT: ENDPOINT,
  DRIFTLINE_S3_ACCESS_KEY_ID: 'driftline',
  DRIFTLINE_S3_SECRET_ACCESS_KEY: 'driftline-local-secret',
  DRIFTLINE_ARTIFACT_STORE_RETRIES: '1',
};
const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (err: { code?: string }) => err.code);

describe('datasets under an s3:// data root', () => {
  let store: S3ArtifactStore;
  let sample: Buffer;
  let test: TestApi | undefined;
  const saved = { ...process.env };

  beforeAll(async () => {
    store = new S3ArtifactStore({ bucket: BUCKET, prefix: PREFIX, endpoint: ENDPOINT, region: 'us-east-1', forcePathStyle: true, retries: 1, accessKeyId: S3_ENV.DRIFTLINE_S3_ACCESS_KEY_ID, secretAccessKey: S3_ENV.DRIFTLINE_S3_SECRET_ACCESS_KEY });
    await store.ensureBucket(true);
    sample = await readFile(repoPath('data', 'sample', 'reviews-sample.jsonl'));
    await store.put('eval/sample.jsonl', new Uint8Array(sample));
  });
  afterAll(async () => {
    await test?.close();
    process.env = saved;
    await store?.delete('eval/sample.jsonl').catch(() => undefined);
    await store?.close();
  });

  it('reads an object under the root through a temporary copy that is removed afterwards', async () => {
    let copy = '';
    const text = await withDataLocation(`${ROOT}eval/sample.jsonl`, ['data', ROOT], 'location', async (path) => {
      copy = path;
      expect(path.endsWith('sample.jsonl')).toBe(true);
      return readFile(path, 'utf8');
    }, S3_ENV);
    expect(text).toBe(sample.toString('utf8'));
    expect(existsSync(copy)).toBe(false);
  });

  it('refuses URIs under no root, keys with .. and other schemes; a missing object is not found', async () => {
    const read = (location: string) => withDataLocation(location, [ROOT], 'location', async () => 'read', S3_ENV);
    expect(await code(read(`s3://${BUCKET}/elsewhere/sample.jsonl`))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(read(`s3://${BUCKET}/${PREFIX}-sibling/eval/sample.jsonl`))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(read(`${ROOT}eval/../../secret.jsonl`))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(read(`https://example.com/${PREFIX}/sample.jsonl`))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(read(`${ROOT}eval/missing.jsonl`))).toBe('DATA_LOCATION_NOT_FOUND');
    const error = await read(`${ROOT}eval/missing.jsonl`).catch((err: unknown) => err as { field: string; message: string });
    expect(error).toMatchObject({ field: 'location' });
  });

  it('POST /v1/evaluate reads a dataset named by its s3:// location', async () => {
    process.env = { ...process.env, ...S3_ENV };
    test = await buildTestApi({ dataRoots: [repoPath('data'), ROOT], settings: { maxCompareRows: 5000, rateLimitHeavy: 0 } });
    const response = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { dataset_location: `${ROOT}eval/sample.jsonl` }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ rows: 3000, dataset: { location: `${ROOT}eval/sample.jsonl`, rows: 3000 } });
    const outside = await test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload: { dataset_location: `s3://${BUCKET}/elsewhere/sample.jsonl` }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(outside.statusCode).toBe(403);
  });
});
