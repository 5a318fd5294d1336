/**
 * A model's index file, `<dir>/<name>/index.json`: every version of the model with its stage, metrics,
 * lineage and stage history. Readers never lock (the file is only ever replaced atomically, files.ts);
 * writers change it under the writer lock (lock.ts).
 */
import { readFile } from 'node:fs/promises';
import { DriftlineError } from '../../errors.js';
import { errnoCode } from './files.js';
import type { ModelVersionRecord } from './types.js';

export const REGISTRY_FORMAT_VERSION = 1;

export interface RegistryIndex {
  format_version: number;
  name: string;
  /** Highest version number ever handed out: numbers are never reused, even after a crash. */
  last_version: number;
  /** Earlier production versions, most recent last: what `rollback` restores. */
  production_history: number[];
  versions: ModelVersionRecord[];
  updated_at_ms: number;
}

export function emptyIndex(name: string): RegistryIndex {
  return { format_version: REGISTRY_FORMAT_VERSION, name, last_version: 0, production_history: [], versions: [], updated_at_ms: Date.now() };
}

/** Parses an index file's text; `path` names where it came from (a file or an artifact-store key) in errors. */
export function parseIndex(raw: string, path: string): RegistryIndex {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `registry index ${path} is not valid JSON`, { cause: err });
  }
  const index = value as RegistryIndex;
  if (typeof index !== 'object' || index === null || !Array.isArray(index.versions) || !Array.isArray(index.production_history)) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `registry index ${path} has an unknown layout`);
  }
  return index;
}

/** The index at `path`, undefined when the model has none yet; MODEL_LOAD_FAILED when it is unreadable. */
export async function readIndexFile(path: string): Promise<RegistryIndex | undefined> {
  try {
    return parseIndex(await readFile(path, 'utf8'), path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The record of `version`; MODEL_NOT_FOUND when the index has none. */
export function findRecord(index: RegistryIndex, name: string, version: number): ModelVersionRecord {
  const record = index.versions.find((v) => v.version === version);
  if (!record) throw new DriftlineError('MODEL_NOT_FOUND', `model ${name} has no version ${version}`, { details: { name, version } });
  return record;
}

export const productionOf = (index: RegistryIndex): ModelVersionRecord | undefined => index.versions.find((v) => v.stage === 'production');
