/**
 * Where reference baselines come from: the model registry in production (one baseline per model
 * version, written by the trainer), an in-memory map in tests. The catalog caches the sketches built
 * from each baseline; a missing baseline is retried after a while (the trainer may register it later).
 */
import type { ReferenceBaseline } from '../core/drift/baseline.js';
import { DriftlineError } from '../core/errors.js';
import { openRegistry } from '../core/model/registry/index.js';
import { VersionSketches } from './increments.js';

export interface BaselineProvider {
  /** The version's baseline, or null when it has none (yet). */
  baseline(modelName: string, version: number): Promise<ReferenceBaseline | null>;
}

export class InMemoryBaselineProvider implements BaselineProvider {
  private readonly baselines = new Map<string, ReferenceBaseline>();

  constructor(baselines: Iterable<ReferenceBaseline> = []) {
    for (const baseline of baselines) this.add(baseline);
  }

  add(baseline: ReferenceBaseline): this {
    this.baselines.set(`${baseline.modelName}|${baseline.modelVersion}`, baseline);
    return this;
  }

  async baseline(modelName: string, version: number): Promise<ReferenceBaseline | null> {
    return this.baselines.get(`${modelName}|${version}`) ?? null;
  }
}

/** Baselines from the registry (`openRegistry(dir).baseline(name, version)`); unknown versions are null. */
export function registryBaselineProvider(registryDir: string): BaselineProvider {
  const registry = openRegistry(registryDir);
  return {
    async baseline(modelName, version) {
      try {
        return await registry.baseline(modelName, version);
      } catch (err) {
        if (err instanceof DriftlineError && (err.code === 'MODEL_NOT_FOUND' || err.code === 'REQUEST_INVALID')) return null;
        throw err;
      }
    },
  };
}

const MISSING_RETRY_MS = 30_000;

/** Sketches per model version, built once from its baseline. */
export class SketchCatalog {
  private readonly entries = new Map<string, { sketches: VersionSketches; loadedAt: number }>();

  constructor(
    private readonly provider: BaselineProvider,
    private readonly maxSegments: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads (or re-tries a missing) baseline for every version given. */
  async ensure(versions: Iterable<{ modelName: string; version: number }>): Promise<void> {
    for (const { modelName, version } of versions) {
      const key = `${modelName}|${version}`;
      const entry = this.entries.get(key);
      if (entry && (entry.sketches.baseline || this.now() - entry.loadedAt < MISSING_RETRY_MS)) continue;
      const baseline = await this.provider.baseline(modelName, version);
      this.entries.set(key, { sketches: new VersionSketches(baseline, this.maxSegments), loadedAt: this.now() });
    }
  }

  /** The sketches of a version loaded by `ensure` (a version never ensured has no baseline). */
  get(modelName: string, version: number): VersionSketches {
    const key = `${modelName}|${version}`;
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { sketches: new VersionSketches(null, this.maxSegments), loadedAt: this.now() }));
    return entry.sketches;
  }

  async load(modelName: string, version: number): Promise<VersionSketches> {
    await this.ensure([{ modelName, version }]);
    return this.get(modelName, version);
  }
}
