/**
 * Datasets named by location (POST /v1/evaluate, /v1/drift/compare, `driftline evaluate --location`): a file path
 * that must lie inside one of the configured data roots (DRIFTLINE_DATA_ROOTS, default the repository's data/).
 *
 * A relative location is looked up against the repository root first (so `data/sample/reviews-sample.jsonl` reads
 * as everywhere else in the docs), then against each root; an absolute one is taken as it is. Whichever way, the
 * file must lie inside a root, checked twice: on the path as written (no `..` segment at all, no absolute path
 * elsewhere) and on the real path after symbolic links are followed (a link inside a root that leads out of it is
 * refused). URIs (an artifact store) are not readable here. Refusals are DATA_LOCATION_REFUSED (403), a location
 * inside the roots that names no file is DATA_LOCATION_NOT_FOUND (404); neither message names a server path.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { defineSettings, setting } from './config.js';
import { DriftlineError } from './errors.js';
import { repoRoot } from './paths.js';

export const dataLocationSettings = defineSettings('data', {
  roots: setting({
    env: 'DRIFTLINE_DATA_ROOTS',
    kind: 'list',
    default: ['data'],
    description: 'Directories datasets named by location may be read from (comma-separated; relative ones are relative to the repository root). Nothing outside them is readable by location.',
  }),
});

/** The configured roots as absolute paths. */
export function dataRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  return dataLocationSettings.load(env).roots.map((root) => resolve(repoRoot(), root));
}

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
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(location)) throw refused(location, 'URIs are not readable here, only files inside the data roots', field);
  if (location.includes('\0')) throw refused(location, 'it holds a NUL character', field);
  if (location.split(/[\\/]/).includes('..')) throw refused(location, "'..' segments are not allowed", field);
  const lexicalRoots = roots.map((root) => resolve(root));
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
