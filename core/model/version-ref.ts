/**
 * How callers name a model version: a number, `latest` (the highest version number registered, whatever its
 * stage) or `production`. Training (its base model), evaluation and prediction all resolve names this way.
 */
import { DriftlineError } from '../errors.js';
import type { ModelRegistry } from './registry/index.js';

export type VersionRef = number | 'latest' | 'production';

export const VERSION_REF_WORDS = ['latest', 'production'] as const;

/** A version reference from text (CLI flags): a positive integer, `latest` or `production`; REQUEST_INVALID naming `field` otherwise. */
export function parseVersionRef(raw: string, field: string): VersionRef {
  if ((VERSION_REF_WORDS as readonly string[]).includes(raw)) return raw as VersionRef;
  const version = Number(raw);
  if (/^\d+$/.test(raw) && Number.isSafeInteger(version) && version >= 1) return version;
  throw new DriftlineError('REQUEST_INVALID', `${field} must be a positive integer, latest or production, got ${JSON.stringify(raw)}`, { field });
}

/** The version number `ref` names now; MODEL_NOT_FOUND (404) when there is none. */
export async function resolveVersionRef(registry: ModelRegistry, name: string, ref: VersionRef, field = 'version'): Promise<number> {
  if (typeof ref === 'number') return (await registry.get(name, ref)).version;
  if (ref === 'production') {
    const production = await registry.productionVersion(name);
    if (production === null) throw new DriftlineError('MODEL_NOT_FOUND', `model ${name} has no production version`, { field, details: { name, version: ref } });
    return production;
  }
  const versions = await registry.list(name);
  if (versions.length === 0) throw new DriftlineError('MODEL_NOT_FOUND', `no model named ${name} in the registry`, { field, details: { name, version: ref } });
  return Math.max(...versions.map((v) => v.version));
}
