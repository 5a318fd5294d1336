/**
 * The model a training run starts from (issue #14): a registered version by name and version (`latest`,
 * `production` — the default — or a number), or `none` for a run from scratch. The chosen version's weights are
 * the warm start (trainer/train.ts WarmStart) and its training parameters the defaults of the new run; the new
 * version records it as its parent.
 */
import { DriftlineError } from '../core/errors.js';
import { readModelBundle } from '../core/model/artifacts.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import type { ModelBundle } from '../core/model/text-model.js';
import type { Tf } from '../core/model/tf.js';
import { parseVersionRef, resolveVersionRef, type VersionRef } from '../core/model/version-ref.js';
import { ARCHITECTURE_PARAMS, DEFAULT_TRAIN_PARAMS, type TrainParams, architectureOf } from './train.js';

export type BaseVersion = VersionRef | 'none';

/** What a training request asks for; every field optional (default: the trained name's production version). */
export interface BaseModelRequest {
  /** Model name of the parent (default: the name being trained). */
  model?: string;
  version?: BaseVersion;
  /** Refit numeric scaling, category classes and the wide idf on the new rows (the hashing space stays). */
  rebuildVocabulary?: boolean;
}

/** What the run started from, as reports, job results and the registry show it. */
export interface ResolvedBase {
  model: string;
  /** The version asked for (`production` when nothing was asked). */
  requested: BaseVersion;
  /** The parent's version number; null when trained from scratch. */
  parentVersion: number | null;
  rebuildVocabulary: boolean;
  /** Why a run that did not ask for scratch still started from scratch (no production version yet). */
  note: string | null;
}

/** A base version from text (CLI): a positive integer, latest, production or none. */
export function parseBaseVersion(raw: string, field: string): BaseVersion {
  return raw === 'none' ? 'none' : parseVersionRef(raw, field);
}

/**
 * Resolves the request against the registry. An unknown version (or `latest` of an unknown model) is
 * MODEL_NOT_FOUND; only the default (nothing asked) falls back to scratch when there is no production version.
 */
export async function resolveBaseModel(registry: ModelRegistry, trainedName: string, request: BaseModelRequest = {}): Promise<ResolvedBase> {
  const model = request.model ?? trainedName;
  const requested = request.version ?? 'production';
  const rebuildVocabulary = request.rebuildVocabulary === true;
  if (requested === 'none') return { model, requested, parentVersion: null, rebuildVocabulary, note: null };
  if (request.version === undefined && (await registry.productionVersion(model)) === null) {
    return { model, requested, parentVersion: null, rebuildVocabulary, note: `${model} has no production version yet: trained from scratch` };
  }
  const parentVersion = await resolveVersionRef(registry, model, requested, 'base_version');
  return { model, requested, parentVersion, rebuildVocabulary, note: null };
}

/**
 * The same refusal as warmStartParams, from the parent's registry record alone (no model load): lets the API
 * refuse a request before it becomes a job.
 */
export async function checkWarmStartRequest(registry: ModelRegistry, base: ResolvedBase, requested: Record<string, unknown>): Promise<void> {
  if (base.parentVersion === null) return;
  const recorded = trainParamsFrom((await registry.get(base.model, base.parentVersion)).params);
  for (const key of ARCHITECTURE_PARAMS) {
    const asked = requested[key];
    const parentValue = recorded[key];
    if (typeof asked === 'number' && parentValue !== undefined && asked !== parentValue) throw architectureRefusal(key, asked, parentValue);
  }
}

function architectureRefusal(key: string, asked: number, parentValue: number): DriftlineError {
  return new DriftlineError('REQUEST_INVALID', `params.${key}: ${asked} differs from the base model's ${parentValue}; a warm start keeps the parent's architecture (base_version none trains from scratch)`, {
    field: `params.${key}`,
    details: { errors: [{ field: `params.${key}`, reason: `a warm start keeps the base model's ${key} (${parentValue})`, code: 'REQUEST_INVALID' }] },
  });
}

export interface LoadedParent {
  bundle: ModelBundle;
  /** The parent's recorded training parameters (only TrainParams keys). */
  params: Partial<TrainParams>;
}

export async function loadParent(tf: Tf, registry: ModelRegistry, base: ResolvedBase): Promise<LoadedParent | undefined> {
  if (base.parentVersion === null) return undefined;
  const record = await registry.get(base.model, base.parentVersion);
  const bundle = await readModelBundle(tf, await registry.localVersionDir(base.model, base.parentVersion));
  return { bundle, params: trainParamsFrom(record.params) };
}

function trainParamsFrom(source: Record<string, unknown>): Partial<TrainParams> {
  const out: Partial<TrainParams> = {};
  for (const name of Object.keys(DEFAULT_TRAIN_PARAMS) as Array<keyof TrainParams>) {
    const value = source[name];
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
  }
  return out;
}

/**
 * The run's parameters: defaults < `fallbacks` (e.g. the CLI's settings) < the parent's < the request's, with the
 * parent's architecture on top. A request that sets an architecture parameter other than the parent's is refused:
 * weights of another shape cannot be continued (train from `none` for that).
 */
export function warmStartParams(requested: Partial<TrainParams>, fallbacks: Partial<TrainParams>, parent: LoadedParent | undefined): TrainParams {
  if (!parent) return { ...DEFAULT_TRAIN_PARAMS, ...fallbacks, ...requested };
  const shape = architectureOf(parent.bundle);
  for (const key of ARCHITECTURE_PARAMS) {
    const asked = requested[key];
    if (asked !== undefined && asked !== shape[key]) throw architectureRefusal(key, asked, shape[key]);
  }
  return { ...DEFAULT_TRAIN_PARAMS, ...fallbacks, ...parent.params, ...requested, ...shape };
}
