/**
 * What a version directory records of its training (registry-record.json): its name, number and params,
 * among them the hold-out split (holdout, holdoutSalt). Tools that add parts to a trained version (the
 * accurate head, the sentence model, per-segment references) find the version's own held-out rows again with it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RECORD_FILE } from '../core/model/registry/index.js';
import { HOLDOUT_SALT } from './pipeline.js';

export interface VersionRecord {
  name?: string;
  version?: number;
  params: Record<string, unknown>;
}

/** The directory's record; null when it has none or it cannot be read (a bare bundle). */
export async function readVersionRecord(versionDir: string): Promise<VersionRecord | null> {
  try {
    const record = JSON.parse(await readFile(join(versionDir, RECORD_FILE), 'utf8')) as Partial<VersionRecord>;
    return { ...record, params: record.params ?? {} };
  } catch {
    return null;
  }
}

const finiteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The hold-out split the version was trained with, null when its record does not say. */
export function recordedHoldout(record: VersionRecord | null): { holdout: number; holdoutSalt: number } | null {
  const { holdout, holdoutSalt } = record?.params ?? {};
  return finiteNumber(holdout) && finiteNumber(holdoutSalt) ? { holdout, holdoutSalt } : null;
}

/** The version's own splits: held out by (holdout, holdoutSalt), validation by (validationFraction, seed ^ 0x7a11). */
export interface VersionSplit {
  holdout: number;
  holdoutSalt: number;
  validationFraction: number;
  seed: number;
}

/** The version's training split params from its registry record, else the fallbacks. */
export async function versionSplit(versionDir: string, fallback: Omit<VersionSplit, 'holdoutSalt'>): Promise<VersionSplit> {
  const params = (await readVersionRecord(versionDir))?.params ?? {};
  const pick = (v: unknown, d: number): number => (finiteNumber(v) ? v : d);
  return {
    holdout: pick(params['holdout'], fallback.holdout),
    holdoutSalt: pick(params['holdoutSalt'], HOLDOUT_SALT),
    validationFraction: pick(params['validationFraction'], fallback.validationFraction),
    seed: pick(params['seed'], fallback.seed),
  };
}
