/** Locates files shipped with the repository (schemas, sample data, shipped models) from source or dist. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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

/** Resolves a user-supplied path against the working directory. */
export function userPath(path: string): string {
  return resolve(process.cwd(), path);
}

/**
 * The read-only `shared/` folder that sits beside the repository (real review data for the demo,
 * training and tests). DRIFTLINE_SHARED_DIR overrides it; CI lays a copy beside its fresh clone.
 */
export function sharedPath(...parts: string[]): string {
  const base = process.env.DRIFTLINE_SHARED_DIR ?? join(repoRoot(), '..', 'shared');
  return join(base, ...parts);
}
