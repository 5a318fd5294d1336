/** Dataset locations resolve inside the configured data roots only (core/data-location.ts). */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataRoots, resolveDataLocation } from '../../core/data-location.js';
import { repoPath } from '../../core/paths.js';

let dir: string;
let root: string;
let outside: string;

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'driftline-locations-')));
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'sub', 'a.jsonl'), '{}\n');
  writeFileSync(join(outside, 'secret.jsonl'), '{}\n');
  symlinkSync(join(outside, 'secret.jsonl'), join(root, 'escape.jsonl'));
  symlinkSync(outside, join(root, 'escape-dir'));
  symlinkSync(join(root, 'sub', 'a.jsonl'), join(root, 'alias.jsonl'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const code = (promise: Promise<unknown>) => promise.then(() => 'resolved', (err: { code?: string }) => err.code);

describe('data locations', () => {
  it('resolves a path relative to a root, an absolute path inside one, and a link that stays inside', async () => {
    expect(await resolveDataLocation('sub/a.jsonl', [root])).toBe(join(root, 'sub', 'a.jsonl'));
    expect(await resolveDataLocation(join(root, 'sub', 'a.jsonl'), [root])).toBe(join(root, 'sub', 'a.jsonl'));
    expect(await resolveDataLocation('alias.jsonl', [root])).toBe(join(root, 'sub', 'a.jsonl'));
  });

  it("reads the repository's data/ by default, named as the docs name it", async () => {
    expect(dataRoots({})).toEqual([repoPath('data')]);
    expect(await resolveDataLocation('data/sample/reviews-sample.jsonl', dataRoots({}))).toBe(realpathSync(repoPath('data', 'sample', 'reviews-sample.jsonl')));
    expect(await resolveDataLocation('sample/reviews-sample.jsonl', dataRoots({}))).toBe(realpathSync(repoPath('data', 'sample', 'reviews-sample.jsonl')));
    expect(dataRoots({ DRIFTLINE_DATA_ROOTS: `${root}, fixtures` })).toEqual([root, repoPath('fixtures')]);
  });

  it("refuses '..', absolute paths outside the roots, links that lead out and URIs (403 code)", async () => {
    expect(await code(resolveDataLocation('../outside/secret.jsonl', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation('sub/../sub/a.jsonl', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation(join(outside, 'secret.jsonl'), [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation('/etc/passwd', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation('package.json', [root]))).toBe('DATA_LOCATION_NOT_FOUND');
    expect(await code(resolveDataLocation('escape.jsonl', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation('escape-dir/secret.jsonl', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation('s3://bucket/reviews.jsonl', [root]))).toBe('DATA_LOCATION_REFUSED');
    expect(await code(resolveDataLocation(root, [root]))).toBe('DATA_LOCATION_REFUSED');
    const error = await resolveDataLocation('escape.jsonl', [root], 'dataset_location').then(
      () => ({ field: '', message: 'resolved' }),
      (err: unknown) => err as { field: string; message: string },
    );
    expect(error).toMatchObject({ field: 'dataset_location' });
    // The answer names the location as given, never a server path.
    expect(error.message).not.toContain(dir);
  });

  it('answers not found for a missing file or a directory inside a root (404 code)', async () => {
    expect(await code(resolveDataLocation('sub/missing.jsonl', [root]))).toBe('DATA_LOCATION_NOT_FOUND');
    expect(await code(resolveDataLocation('sub', [root]))).toBe('DATA_LOCATION_NOT_FOUND');
    expect(await code(resolveDataLocation('sub/a.jsonl/x', [root]))).toBe('DATA_LOCATION_NOT_FOUND');
  });
});
