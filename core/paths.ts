/** Locates files shipped with the repository (schemas, sample data, shipped models) from source or dist. */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor of this module that holds package.json and schemas/. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas'))) return (cachedRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('driftline: cannot find the repository root (package.json + schemas/)');
    dir = parent;
  }
}

export function repoPath(...parts: string[]): string {
  return join(repoRoot(), ...parts);
}

/**
 * How reports and committed artifacts name a file: relative to the repository when it lies inside it (so a report
 * reads the same on every clone), otherwise the absolute path.
 */
export function repoRelative(path: string): string {
  const rel = relative(repoRoot(), resolve(path));
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
}

/** Resolves a user-supplied path against the working directory. */
export function userPath(path: string): string {
  return resolve(process.cwd(), path);
}

/** Opens a data file for reading; a `.gz` name is gunzipped on the fly (the shipped review data is compressed). */
export function openDataFile(path: string, highWaterMark = 256 * 1024): Readable {
  const raw = createReadStream(path, { highWaterMark });
  if (!isGzipName(path)) return raw;
  const gunzip = createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

/** `reviews.jsonl.gz` -> true: the name says the bytes are gzip. */
export function isGzipName(path: string): boolean {
  return path.toLowerCase().endsWith('.gz');
}

/**
 * The 35,436 real reviews shipped with the repository (data/reviews/, sources and terms in data/README.md). Tests,
 * benchmarks, the demo and the default model's training read them from here: nothing reads outside the repository.
 */
export const SHIPPED_REVIEWS = 'data/reviews/reviews-dev-large.jsonl.gz';

/** The sources of the smaller "dev" set (the five Amazon 2018 5-core categories, 4,876 reviews). */
export const AMAZON_2018_SOURCE_PREFIX = 'amazon2018-5core/';

/**
 * The shipped reviews as JSONL lines (no blank lines), in file order; with `sourcePrefix`, only the reviews whose
 * `source` starts with it (e.g. AMAZON_2018_SOURCE_PREFIX gives the 4,876-review dev set).
 */
export function readShippedReviewLines(sourcePrefix?: string): string[] {
  const lines = gunzipSync(readFileSync(repoPath(SHIPPED_REVIEWS))).toString('utf8').split('\n').filter((line) => line.trim() !== '');
  if (sourcePrefix === undefined) return lines;
  return lines.filter((line) => {
    const source: unknown = (JSON.parse(line) as { source?: unknown }).source;
    return typeof source === 'string' && source.startsWith(sourcePrefix);
  });
}
