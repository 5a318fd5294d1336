/**
 * The one call each evaluation path makes (`driftline evaluate`, POST /v1/evaluate, `driftline infer`): everything a run needs
 * beyond the predictions — the version's category list and reference baseline, the data fingerprint — is
 * looked up here, so the callers stay about evaluating.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../core/model/artifacts.js';
import type { ModelRegistry } from '../../core/model/registry/index.js';
import type { Prediction } from '../../core/model/types.js';
import type { LabeledReview } from '../data.js';
import { evaluatePredictions } from '../evaluate.js';
import { recordEvaluationRun, recordSafely } from './record.js';
import type { RunStore } from './store.js';
import type { RunRecord } from './types.js';

export interface EvaluationToRecord {
  /** 'eval' (default): an evaluation; 'infer': a batch inference job, measured the same way. */
  kind?: 'eval' | 'infer';
  registry: ModelRegistry;
  name: string;
  version: number;
  rows: readonly LabeledReview[];
  predictions: readonly Prediction[];
  /** Files read (empty for inline rows) and their fingerprint; inline rows are fingerprinted here. */
  data?: { files: readonly string[]; fingerprint: string };
  params?: Record<string, unknown>;
  /** Further numbers of the job. */
  metrics?: Record<string, unknown>;
  /** Where a failure to record is reported (the evaluation itself stands). */
  warn: (message: string) => void;
}

async function categoriesOf(registry: ModelRegistry, name: string, version: number): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(await registry.localVersionDir(name, version), MANIFEST_FILE), 'utf8')) as { categories?: unknown };
  return Array.isArray(manifest.categories) ? manifest.categories.filter((c): c is string => typeof c === 'string') : [];
}

/** Inline rows have no file: the sha256 of their JSON, as the trainer fingerprints inline training rows. */
export function fingerprintRows(rows: readonly LabeledReview[]): string {
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex');
}

/**
 * The version's parent: the registry's record of it (parent_version, kept since warm starts), else as its training
 * run recorded it (null for a seeded version or one trained elsewhere).
 */
async function parentOfVersion(store: RunStore, registry: ModelRegistry, name: string, version: number): Promise<number | null> {
  const recorded = (await registry.get(name, version)).parent_version;
  if (typeof recorded === 'number') return recorded;
  const { runs } = await store.list({ kind: 'train' });
  return runs.find((run) => run.model.name === name && run.model.version === version)?.model.parentVersion ?? null;
}

export async function recordEvaluation(store: RunStore, input: EvaluationToRecord): Promise<RunRecord | null> {
  const run = await recordSafely(async () => {
    const { registry, name, version } = input;
    const report = evaluatePredictions(input.rows, input.predictions, await categoriesOf(registry, name, version));
    return recordEvaluationRun(store, {
      kind: input.kind ?? 'eval',
      model: { name, version, parentVersion: await parentOfVersion(store, registry, name, version) },
      ...(input.metrics ? { metrics: input.metrics } : {}),
      params: input.params ?? {},
      data: input.data ?? { files: [], fingerprint: fingerprintRows(input.rows) },
      evaluated: { rows: input.rows, predictions: input.predictions, report },
      baseline: await registry.baseline(name, version),
    });
  }, input.warn);
  // A note is something missing from the run (a PNG the renderer could not make): said where the job logs too.
  for (const note of run?.notes ?? []) input.warn(`run ${run!.id}: ${note}`);
  return run;
}
