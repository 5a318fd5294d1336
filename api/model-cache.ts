/**
 * Versions other than the serving one, for POST /v1/predict's `model_version` (comparisons, canaries): a small
 * least-recently-used set of loaded runtimes (DRIFTLINE_API_MODEL_CACHE versions at most).
 *
 * The serving version is never loaded twice: a reference that names it (production, the default, or its number)
 * is answered by the hot-swapped ModelService. Another version is loaded once, checked (smoke batch) and kept;
 * concurrent requests for it share the one load. When a new version pushes the least recently used one out, that
 * one is disposed as soon as the calls scoring with it have finished (leases count them), never in the middle of one.
 */
import { DriftlineError } from '../core/errors.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import type { ModelRuntime, ModelService } from '../core/model/types.js';
import { resolveVersionRef, type VersionRef } from '../core/model/version-ref.js';

/** A runtime held for one call; release it when the call is done. */
export interface RuntimeLease {
  runtime: ModelRuntime;
  release(): void;
}

export interface ModelVersionCache {
  /** undefined: `ref` names the serving version (score with the ModelService); else a lease on that version. */
  acquire(ref: VersionRef | undefined): Promise<RuntimeLease | undefined>;
  /** Versions loaded now, most recently used first. */
  loaded(): number[];
  /** Disposes every cached runtime once its calls are done. */
  close(): void;
}

export interface ModelVersionCacheOptions {
  registry: ModelRegistry;
  modelService: ModelService;
  /** Versions kept loaded besides the serving one. */
  capacity: number;
  load: (versionDir: string, meta: { name: string; version: number }) => Promise<ModelRuntime>;
}

interface Entry {
  version: number;
  loading: Promise<ModelRuntime>;
  runtime: ModelRuntime | undefined;
  leases: number;
  evicted: boolean;
}

export function createModelVersionCache(options: ModelVersionCacheOptions): ModelVersionCache {
  const { registry, modelService } = options;
  const name = modelService.modelName;
  // Insertion order is recency order: a hit is deleted and re-inserted at the end.
  const entries = new Map<number, Entry>();

  const disposeIfIdle = (entry: Omit<Entry, 'loading'>): void => {
    if (entry.evicted && entry.leases === 0 && entry.runtime) {
      entry.runtime.dispose();
      entry.runtime = undefined;
    }
  };

  const evictBeyondCapacity = (): void => {
    for (const entry of entries.values()) {
      if (entries.size <= options.capacity) break;
      entries.delete(entry.version);
      entry.evicted = true;
      disposeIfIdle(entry);
    }
  };

  const loadEntry = (version: number): Entry => {
    const state: Omit<Entry, 'loading'> = { version, runtime: undefined, leases: 0, evicted: false };
    const entry: Entry = Object.assign(state, { loading: loadChecked(state) });
    // A failed load is not kept: the next request tries again.
    entry.loading.catch(() => {
      if (entries.get(version) === entry) entries.delete(version);
    });
    return entry;
  };

  async function loadChecked(entry: Omit<Entry, 'loading'>): Promise<ModelRuntime> {
    const { version } = entry;
    const runtime = await options.load(await registry.localVersionDir(name, version), { name, version });
    try {
      await runtime.check();
    } catch (err) {
      runtime.dispose();
      throw err;
    }
    entry.runtime = runtime;
    disposeIfIdle(entry); // evicted while it was loading
    return runtime;
  }

  return {
    async acquire(ref) {
      if (ref === undefined || ref === 'production') return undefined;
      const version = await resolveVersionRef(registry, name, ref, 'model_version');
      if (modelService.isReady() && modelService.current().version === version) return undefined;
      let entry = entries.get(version);
      if (entry) entries.delete(version);
      else entry = loadEntry(version);
      entries.set(version, entry);
      evictBeyondCapacity();
      entry.leases++;
      let runtime: ModelRuntime;
      try {
        runtime = await entry.loading;
      } catch (err) {
        entry.leases--;
        throw err;
      }
      const held = entry;
      let released = false;
      return {
        runtime,
        release() {
          if (released) return;
          released = true;
          held.leases--;
          disposeIfIdle(held);
        },
      };
    },
    loaded() {
      return [...entries.values()].filter((entry) => entry.runtime !== undefined).map((entry) => entry.version).reverse();
    },
    close() {
      for (const entry of entries.values()) {
        entry.evicted = true;
        disposeIfIdle(entry);
      }
      entries.clear();
    },
  };
}

/** The reference a request gave, checked (the schema admits exactly these). */
export function versionRefOf(value: unknown): VersionRef | undefined {
  if (value === undefined) return undefined;
  if (value === 'latest' || value === 'production' || (typeof value === 'number' && Number.isInteger(value) && value >= 1)) return value;
  throw new DriftlineError('REQUEST_INVALID', 'model_version must be a positive integer, latest or production', { field: 'model_version' });
}
