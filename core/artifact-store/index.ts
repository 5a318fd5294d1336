/**
 * The artifact store family: one interface (types.ts), a filesystem and an S3 implementation, opened from
 * DRIFTLINE_ARTIFACT_STORE, plus copying a whole directory (one model version) in and out.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { DriftlineError } from '../errors.js';
import { artifactStoreSettings, type ArtifactStoreSettings } from './config.js';
import { FilesystemArtifactStore } from './filesystem.js';
import { checkKey } from './keys.js';
import { S3ArtifactStore } from './s3.js';
import type { ArtifactStore } from './types.js';

export type { ArtifactStore } from './types.js';
export { artifactStoreSettings, type ArtifactStoreSettings } from './config.js';
export { FilesystemArtifactStore } from './filesystem.js';
export { S3ArtifactStore, type S3StoreOptions } from './s3.js';

/** An S3 store of `bucket`/`prefix` with the endpoint, region, credentials and retries of the settings. */
export function s3Store(settings: ArtifactStoreSettings, bucket: string, prefix: string): S3ArtifactStore {
  return new S3ArtifactStore({
    bucket,
    prefix,
    endpoint: settings.s3Endpoint,
    region: settings.s3Region,
    forcePathStyle: settings.s3ForcePathStyle,
    accessKeyId: settings.s3AccessKeyId,
    secretAccessKey: settings.s3SecretAccessKey,
    retries: settings.retries,
  });
}

/** The configured store, or null when none is configured (the registry directory is the only copy). */
export async function openArtifactStore(settings: ArtifactStoreSettings = artifactStoreSettings.load()): Promise<ArtifactStore | null> {
  const url = settings.url.trim();
  if (url === '') return null;
  if (url.startsWith('file://')) return new FilesystemArtifactStore(fileURLToPath(url));
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*?))?\/?$/.exec(url);
  if (!match) {
    throw new DriftlineError('CONFIG_INVALID', `DRIFTLINE_ARTIFACT_STORE '${url}' is neither s3://bucket[/prefix] nor file:///path`, { field: 'DRIFTLINE_ARTIFACT_STORE' });
  }
  const store = s3Store(settings, match[1] ?? '', match[2] ?? '');
  try {
    await store.ensureBucket(settings.s3CreateBucket);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Uploads every file under `dir` to `<prefix>/<relative path>`; returns the keys written. */
export async function uploadDirectory(store: ArtifactStore, dir: string, prefix: string): Promise<string[]> {
  const files = await filesUnder(dir);
  const keys: string[] = [];
  for (const file of files) {
    const key = checkKey(`${prefix}/${relative(dir, file).split(sep).join('/')}`);
    await store.put(key, new Uint8Array(await readFile(file)));
    keys.push(key);
  }
  return keys;
}

/**
 * Downloads every object under `<prefix>/` into `dir`, through a temporary sibling directory renamed into
 * place, so `dir` is complete or absent. Returns the number of files; 0 (and no `dir`) when none exist.
 */
export async function downloadDirectory(store: ArtifactStore, prefix: string, dir: string): Promise<number> {
  const keys = await store.list(`${checkKey(prefix)}/`);
  if (keys.length === 0) return 0;
  const temporary = `${dir}.${randomUUID()}.download`;
  try {
    for (const key of keys) {
      const bytes = await store.get(key);
      if (bytes === null) throw new DriftlineError('ARTIFACT_STORE_FAILED', `object ${key} vanished from ${store.uri} while downloading ${prefix}`);
      const target = join(temporary, ...key.slice(prefix.length + 1).split('/'));
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, bytes);
    }
    await mkdir(join(dir, '..'), { recursive: true });
    await rename(temporary, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process downloaded the same version first: its complete copy stands, ours goes.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(temporary, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(temporary, { recursive: true, force: true });
    throw err;
  }
  return keys.length;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}
