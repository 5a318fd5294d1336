/**
 * A version directory's lineage files: the record a registered version carries inside its directory
 * (registry-record.json), and what a shipped model directory tells about itself when it is seeded.
 */
import { join } from 'node:path';
import { RECORD_FILE, type ModelVersionRecord, type RegisterInput } from './types.js';

export function portableRecord(record: ModelVersionRecord): Record<string, unknown> {
  const { name, version, created_at, created_at_ms, metrics, data_fingerprint, params, featurizer, timings, baseline_path } = record;
  return { name, version, created_at, created_at_ms, metrics, data_fingerprint, params, featurizer, timings, baseline_path, ...parentOf(record) };
}

/** A version's parent (warm start), null for both when it has none or its record predates lineage. */
export function parentOf(record: ModelVersionRecord): { parent_model: string | null; parent_version: number | null } {
  return { parent_model: record.parent_model ?? null, parent_version: record.parent_version ?? null };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Lineage of a shipped model directory. A directory exported from the registry carries its own
 * record as registry-record.json; otherwise metrics.json / featurizer.json / training.json are used
 * when present.
 */
export async function shippedMetadata(
  source: string,
  readJson: (path: string) => Promise<unknown>,
): Promise<Pick<RegisterInput, 'metrics' | 'featurizer' | 'dataFingerprint' | 'params' | 'timings'>> {
  const record = asRecord(await readJson(join(source, RECORD_FILE)));
  const training = asRecord(await readJson(join(source, 'training.json')));
  const metrics = asRecord(record['metrics'] ?? (await readJson(join(source, 'metrics.json'))) ?? training['metrics']);
  const featurizer = record['featurizer'] ?? (await readJson(join(source, 'featurizer.json'))) ?? training['featurizer'] ?? null;
  const fingerprint = record['data_fingerprint'] ?? training['dataFingerprint'] ?? training['data_fingerprint'];
  const timings = asRecord(record['timings'] ?? training['timings']);
  return {
    metrics,
    featurizer,
    dataFingerprint: typeof fingerprint === 'string' ? fingerprint : 'unknown',
    params: asRecord(record['params'] ?? training['params']),
    timings: Object.fromEntries(Object.entries(timings).filter((entry): entry is [string, number] => typeof entry[1] === 'number')),
  };
}
