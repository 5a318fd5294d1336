/**
 * Datasets named by location (POST /v1/evaluate, /v1/drift/compare, `driftline evaluate --location`): a file path
 * that must lie inside one of the configured data roots (DRIFTLINE_DATA_ROOTS, default the repository's data/).
 *
 * A relative location is looked up against the repository root first (so `data/sample/reviews-sample.jsonl` reads
 * as everywhere else in the docs), then against each root; an absolute one is taken as it is. Whichever way, the
 * file must lie inside a root, checked twice: on the path as written (no `..` segment at all, no absolute path
 * elsewhere) and on the real path after symbolic links are followed (a link inside a root that leads out of it is
 * refused). A root may also be an S3 URI (`s3://bucket/datasets/`): a location under it (`s3://bucket/datasets/a.jsonl`)
 * is read from the S3-compatible store of the artifact-store settings (endpoint, credentials) through a temporary
 * copy (withDataLocation); any other URI is refused. Refusals are DATA_LOCATION_REFUSED (403), a location inside the
 * roots that names no file or object is DATA_LOCATION_NOT_FOUND (404); neither message names a server path.
 */
import { mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { artifactStoreSettings, s3Store } from './artifact-store/index.js';
import { checkKey } from './artifact-store/keys.js';
import { defineSettings, setting } from './config.js';
import { DriftlineError } from './errors.js';
import { repoRoot } from './paths.js';

export const dataLocationSettings = defineSettings('data', {
  roots: setting({
    env: 'DRIFTLINE_DATA_ROOTS',
    kind: 'list',
    default: ['data'],
    description: 'Directories datasets named by location may be read from (comma-separated; relative ones are relative to the repository root), and S3 URI prefixes (s3://bucket/prefix/, read with the DRIFTLINE_S3_* settings). Nothing outside them is readable by location.',
  }),
  maxObjectBytes: setting({
    env: 'DRIFTLINE_DATA_MAX_OBJECT_BYTES',
    kind: 'int',
    default: 268_435_456,
    min: 1,
    description: 'Largest dataset object read from an S3 data root (bytes); a larger one is refused.',
  }),
});

/** The configured roots as absolute paths. */
export function dataRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  return dataLocationSettings.load(env).roots.map((root) => (isUri(root) ? root : resolve(repoRoot(), root)));
}

const isUri = (text: string): boolean => /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text);

function refused(location: string, why: string, field: string): DriftlineError {
  return new DriftlineError('DATA_LOCATION_REFUSED', `${field} ${JSON.stringify(location)} is refused: ${why}`, { field });
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const root of roots) {
    try {
      out.push(await realpath(root));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err; // a root that does not exist holds nothing
    }
  }
  return out;
}

/**
 * The real path of the file `location` names inside `roots`; DATA_LOCATION_REFUSED or DATA_LOCATION_NOT_FOUND
 * (naming `field`) otherwise.
 */
export async function resolveDataLocation(location: string, roots: readonly string[] = dataRoots(), field = 'location'): Promise<string> {
  if (location.trim() === '') throw refused(location, 'it is empty', field);
  if (isUri(location)) throw refused(location, 'a URI is read only under an s3:// data root (withDataLocation), never as a file', field);
  if (location.includes('\0')) throw refused(location, 'it holds a NUL character', field);
  if (location.split(/[\\/]/).includes('..')) throw refused(location, "'..' segments are not allowed", field);
  const lexicalRoots = roots.filter((root) => !isUri(root)).map((root) => resolve(root));
  const candidates = isAbsolute(location) ? [resolve(location)] : [...new Set([resolve(repoRoot(), location), ...lexicalRoots.map((root) => join(root, location))])];
  const inside = candidates.filter((candidate) => lexicalRoots.some((root) => isInside(candidate, root)));
  if (inside.length === 0) throw refused(location, 'it lies outside the configured data roots (DRIFTLINE_DATA_ROOTS)', field);
  const real = await realRoots(lexicalRoots);
  for (const candidate of inside) {
    let target: string;
    try {
      target = await realpath(candidate);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') continue;
      throw new DriftlineError('DATA_LOCATION_NOT_FOUND', `${field} ${JSON.stringify(location)} cannot be read (${errnoCode(err) ?? 'error'})`, { field, cause: err });
    }
    if (!real.some((root) => isInside(target, root))) throw refused(location, 'a symbolic link leads outside the data roots', field);
    if (!(await stat(target)).isFile()) throw new DriftlineError('DATA_LOCATION_NOT_FOUND', `${field} ${JSON.stringify(location)} is not a file`, { field });
    return target;
  }
  throw new DriftlineError('DATA_LOCATION_NOT_FOUND', `${field} ${JSON.stringify(location)} names no file inside the data roots`, { field });
}

/** `s3://bucket/key` split, or null when `location` is not such a URI. */
function parseS3(location: string): { bucket: string; key: string } | null {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(location);
  return match ? { bucket: match[1] ?? '', key: match[2] ?? '' } : null;
}

/** The root a URI location lies under (same bucket, key below the root's prefix), checked segment by segment. */
function uriRootOf(location: string, roots: readonly string[]): string | undefined {
  return roots.filter(isUri).find((root) => {
    const prefix = root.endsWith('/') ? root : `${root}/`;
    return location.startsWith(prefix) && location.length > prefix.length;
  });
}

/** Copies the object `location` names into a temporary file; DATA_LOCATION_* errors name `field`, never the copy. */
async function downloadObject(location: string, field: string, env: NodeJS.ProcessEnv): Promise<{ path: string; dir: string }> {
  const target = parseS3(location);
  if (!target) throw refused(location, 'only s3://bucket/key URIs are readable', field);
  try {
    checkKey(target.key);
  } catch {
    throw refused(location, 'its key is not a relative path of [A-Za-z0-9._-] segments', field);
  }
  const store = s3Store(artifactStoreSettings.load(env), target.bucket, '');
  let bytes: Uint8Array | null;
  try {
    bytes = await store.get(target.key);
  } finally {
    await store.close();
  }
  if (bytes === null) throw new DriftlineError('DATA_LOCATION_NOT_FOUND', `${field} ${JSON.stringify(location)} names no object`, { field });
  const limit = dataLocationSettings.load(env).maxObjectBytes;
  if (bytes.byteLength > limit) throw refused(location, `it holds ${bytes.byteLength} bytes, more than DRIFTLINE_DATA_MAX_OBJECT_BYTES (${limit})`, field);
  const dir = await mkdtemp(join(tmpdir(), 'driftline-dataset-'));
  // The object's own name keeps its extension (.jsonl, .csv, .gz): readers choose their format by it.
  const path = join(dir, target.key.split('/').pop() ?? 'dataset');
  await writeFile(path, bytes);
  return { path, dir };
}

/**
 * Runs `read` on the dataset `location` names: a file inside the file roots as it is, an object under an s3://
 * root through a temporary copy that is removed afterwards. Refusals and misses as resolveDataLocation.
 */
export async function withDataLocation<T>(location: string, roots: readonly string[], field: string, read: (path: string) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  if (!isUri(location)) return read(await resolveDataLocation(location, roots, field));
  if (uriRootOf(location, roots) === undefined) throw refused(location, 'it lies under no data root (DRIFTLINE_DATA_ROOTS)', field);
  const copy = await downloadObject(location, field, env);
  try {
    return await read(copy.path);
  } finally {
    await rm(copy.dir, { recursive: true, force: true });
  }
}
