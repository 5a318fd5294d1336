/**
 * The stage rules: how promote, rollback and archive change a model's index (which version moves to
 * which stage, what the history records, what is refused). Pure functions on an index the caller holds
 * under the writer lock; the registry (registry.ts) does the reading, locking, checking and writing.
 */
import type { Stage } from '../../../schemas/types.js';
import { DriftlineError } from '../../errors.js';
import { qualityRefusal } from '../promotion-gate.js';
import { productionOf, type RegistryIndex } from './index-file.js';
import type { ModelVersionRecord, StageChange, StageChangeOptions, StageChangeResult, StageHistoryEntry } from './types.js';

/** The held-out macro-F1 a promotion is judged by, when the version reported one. */
export function heldOutMacroF1(record: ModelVersionRecord): number | undefined {
  const value = record.metrics['macroF1'];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The stage change one history entry of a version describes (what promotion events carry). */
export function changeOf(record: ModelVersionRecord, entry: StageHistoryEntry): StageChange {
  return {
    action: entry.action,
    model_name: record.name,
    version: record.version,
    from_stage: entry.from_stage,
    to_stage: entry.to_stage,
    previous_production_version: entry.previous_production_version,
    reason: entry.reason,
    actor: entry.actor,
    time_ms: entry.at_ms,
  };
}

export function moveStage(record: ModelVersionRecord, to: Stage, entry: Omit<StageHistoryEntry, 'from_stage' | 'to_stage'>): StageChange {
  const full: StageHistoryEntry = { ...entry, from_stage: record.stage, to_stage: to };
  record.stage = to;
  record.stage_history.push(full);
  return changeOf(record, full);
}

/**
 * Moves `candidate` to production and archives the current production version (remembered for rollback).
 * Without `force`, refuses a candidate that is worse than production (macro-F1, then the quality gate with
 * its per-class floor `minClassF1`).
 */
export function promoteInIndex(index: RegistryIndex, candidate: ModelVersionRecord, options: StageChangeOptions, minClassF1: () => number): StageChangeResult {
  const production = productionOf(index);
  if (production && !options.force) refuseIfWorse(candidate, production, minClassF1);
  const now = Date.now();
  const previous = production?.version ?? null;
  const reason = options.reason ?? null;
  if (production) {
    moveStage(production, 'archived', { action: 'archive', at_ms: now, actor: options.actor, reason: `superseded by v${candidate.version}`, previous_production_version: null });
    index.production_history.push(production.version);
  }
  candidate.previous_production = previous;
  const change = moveStage(candidate, 'production', { action: 'promote', at_ms: now, actor: options.actor, reason, previous_production_version: previous });
  return { record: candidate, change };
}

/**
 * Restores the most recent earlier production version that still `isServable` (its artifacts are there),
 * archiving the current one; PROMOTION_REFUSED when there is none.
 */
export async function rollBackInIndex(
  index: RegistryIndex,
  name: string,
  options: StageChangeOptions,
  isServable: (record: ModelVersionRecord) => Promise<boolean>,
): Promise<StageChangeResult> {
  const production = productionOf(index);
  let target: ModelVersionRecord | undefined;
  while (!target && index.production_history.length > 0) {
    const wanted = index.production_history.pop();
    const candidate = index.versions.find((v) => v.version === wanted);
    if (candidate && candidate !== production && (await isServable(candidate))) target = candidate;
  }
  if (!target) {
    throw new DriftlineError('PROMOTION_REFUSED', `${name} has no earlier production version to roll back to`, { details: { name } });
  }
  const now = Date.now();
  const previous = production?.version ?? null;
  const reason = options.reason ?? null;
  if (production) {
    moveStage(production, 'archived', { action: 'rollback', at_ms: now, actor: options.actor, reason: reason ?? `rolled back to v${target.version}`, previous_production_version: null });
  }
  target.previous_production = previous;
  const change = moveStage(target, 'production', { action: 'rollback', at_ms: now, actor: options.actor, reason, previous_production_version: previous });
  return { record: target, change };
}

/** Archives `record`; a production version only with `force` (and it stays restorable by rollback). */
export function archiveInIndex(index: RegistryIndex, record: ModelVersionRecord, options: StageChangeOptions): StageChangeResult {
  const { name, version } = record;
  if (record.stage === 'archived') {
    throw new DriftlineError('PROMOTION_REFUSED', `${name} v${version} is already archived`, { details: { name, version } });
  }
  if (record.stage === 'production') {
    if (!options.force) {
      throw new DriftlineError('PROMOTION_REFUSED', `${name} v${version} is in production: promote another version or roll back (or --force to leave no production version)`, {
        details: { name, version },
      });
    }
    index.production_history.push(record.version); // still restorable by rollback
  }
  const change = moveStage(record, 'archived', { action: 'archive', at_ms: Date.now(), actor: options.actor, reason: options.reason ?? null, previous_production_version: null });
  return { record, change };
}

function refuseIfWorse(candidate: ModelVersionRecord, production: ModelVersionRecord, minClassF1: () => number): void {
  const candidateF1 = heldOutMacroF1(candidate);
  const productionF1 = heldOutMacroF1(production);
  if (productionF1 === undefined) return;
  const details = { name: candidate.name, candidate: candidate.version, candidateMacroF1: candidateF1 ?? null, production: production.version, productionMacroF1: productionF1 };
  if (candidateF1 === undefined) {
    throw new DriftlineError('PROMOTION_REFUSED', `${candidate.name} v${candidate.version} has no held-out macroF1 to compare with production v${production.version} (use --force)`, { details });
  }
  if (candidateF1 < productionF1) {
    throw new DriftlineError(
      'PROMOTION_REFUSED',
      `${candidate.name} v${candidate.version} has held-out macro-F1 ${candidateF1.toFixed(4)} < production v${production.version}'s ${productionF1.toFixed(4)} (use --force)`,
      { details },
    );
  }
  const refusal = qualityRefusal(candidate.metrics, production.metrics, minClassF1());
  if (refusal) {
    throw new DriftlineError('PROMOTION_REFUSED', `${candidate.name} v${candidate.version} has held-out ${refusal.reason} (production v${production.version}; use --force)`, {
      details: { ...details, ...refusal.details },
    });
  }
}
