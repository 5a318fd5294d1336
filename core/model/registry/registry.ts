/**
 * The model registry: a plain directory (DRIFTLINE_REGISTRY_DIR) that several processes share.
 *
 *   <dir>/<name>/index.json           every version of the model: stage, metrics, lineage, stage history (index-file.ts)
 *   <dir>/<name>/versions/<n>/        one version's artifacts (model files, featurizer, baseline.json)
 *   <dir>/<name>/runs.jsonl           training/evaluation runs, one JSON object a line
 *   <dir>/<name>/.lock                exclusive writer lock (pid, host, time); its mtime is a heartbeat while held (lock.ts)
 *
 * Readers never lock: index.json is only ever replaced by rename(2) of a fully written, fsynced file
 * (files.ts), so a reader sees the old or the new index, never half of one. Writers take the lock, re-read
 * the index under it, change it (the stage rules are in stages.ts) and write it back, so two trainers
 * registering at once get distinct version numbers. Artifacts are written into a temporary directory next
 * to versions/ and renamed into place under the lock: a version directory is either complete or absent.
 *
 * With an artifact store (DRIFTLINE_ARTIFACT_STORE, e.g. s3://bucket/prefix) each new version is uploaded
 * to `<name>/versions/<n>/` before the index names it, and every index write is copied to `<name>/index.json`
 * there; the store's index is the one readers trust. Serving hosts then need no shared directory: they read
 * the index from the store and download a version into their local directory when they first load it
 * (localVersionDir). Writers (trainer, API admin) still serialise on the local lock: one writer host.
 *
 * One file on purpose (~380 lines): openRegistry's closure holds what every operation uses (the root, the lock
 * timing, the artifact store, the verifier); the lock, the index file, the stage rules and the lineage files are
 * the modules beside it.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ReferenceBaseline } from '../../../schemas/baseline.js';
import { coreSettings, defineSettings, setting } from '../../config.js';
import { DriftlineError } from '../../errors.js';
import { withRetry } from '../../retry.js';
import { downloadDirectory, openArtifactStore, uploadDirectory, type ArtifactStore } from '../../artifact-store/index.js';
import { errnoCode, readJsonIfPresent, writeFileAtomic } from './files.js';
import { emptyIndex, findRecord, parseIndex, productionOf, readIndexFile, type RegistryIndex } from './index-file.js';
import { acquireLock, type RegistryLock } from './lock.js';
import { portableRecord, shippedMetadata } from './lineage.js';
import { archiveInIndex, changeOf, moveStage, promoteInIndex, rollBackInIndex } from './stages.js';
import {
  BASELINE_FILE,
  RECORD_FILE,
  type ArtifactVerifier,
  type ModelRegistry,
  type ModelVersionRecord,
  type RegisterInput,
  type RegisterResult,
  type RegistryOptions,
  type StoredRun,
} from './types.js';

export const registrySettings = defineSettings('registry', {
  lockWaitMs: setting({ env: 'DRIFTLINE_REGISTRY_LOCK_WAIT_MS', kind: 'int', default: 5_000, min: 1, description: 'How long one attempt waits for the registry writer lock before REGISTRY_CONFLICT (retried 3 times with back-off).' }),
  minClassF1: setting({
    env: 'DRIFTLINE_PROMOTION_MIN_CLASS_F1',
    kind: 'number',
    default: 0.3,
    min: 0,
    max: 1,
    description: "Promotion gate: a candidate with a sentiment or category class under this held-out F1 is refused, unless production's same class was under it too and the candidate is no worse there (as is one that loses sentiment or category macro-F1).",
  }),
  lockStaleMs: setting({ env: 'DRIFTLINE_REGISTRY_LOCK_STALE_MS', kind: 'int', default: 30_000, min: 100, description: 'Age after which a registry lock is considered abandoned and taken over (a dead holder on the same host is taken over at once).' }),
});

/**
 * The default ArtifactVerifier: the version loads with the runtime every serving process uses, and passes
 * its model check (smoke batch: shapes, finite scores). Throws MODEL_LOAD_FAILED or MODEL_CHECK_FAILED.
 * The runtime is imported when first needed, so reading the registry never loads tfjs.
 */
export const loadAndCheckArtifacts: ArtifactVerifier = async (versionDir, meta) => {
  const { loadModelRuntime } = await import('../runtime.js');
  const runtime = await loadModelRuntime(versionDir, meta);
  try {
    await runtime.check();
  } finally {
    runtime.dispose();
  }
};

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new DriftlineError('REQUEST_INVALID', `invalid model name ${JSON.stringify(name)} (letters, digits, '.', '_', '-'; at most 64)`, { field: 'name' });
  }
  return name;
}

function checkVersion(version: number): number {
  if (!Number.isInteger(version) || version < 1) {
    throw new DriftlineError('REQUEST_INVALID', `invalid model version ${String(version)} (a positive integer)`, { field: 'version' });
  }
  return version;
}

function defaultActor(): string {
  return `${process.env['USER'] ?? 'driftline'}@${hostname()}`;
}


export function openRegistry(dir: string = coreSettings.load().registryDir, options: RegistryOptions = {}): ModelRegistry {
  const settings = registrySettings.load();
  const root = resolve(dir);
  const lockWaitMs = options.lockWaitMs ?? settings.lockWaitMs;
  const lockStaleMs = options.lockStaleMs ?? settings.lockStaleMs;
  const conflictRetries = options.conflictRetries ?? 3;
  const verifyArtifacts = options.verifyArtifacts ?? loadAndCheckArtifacts;

  const modelDir = (name: string): string => join(root, checkName(name));
  const indexPath = (name: string): string => join(modelDir(name), 'index.json');
  const versionDir = (name: string, version: number): string => join(modelDir(name), 'versions', String(checkVersion(version)));

  let storeOpening: Promise<ArtifactStore | null> | undefined;
  const artifactStore = (): Promise<ArtifactStore | null> =>
    (storeOpening ??= options.artifactStore !== undefined ? Promise.resolve(options.artifactStore) : openArtifactStore());
  const storeIndexKey = (name: string): string => `${checkName(name)}/index.json`;
  const storeVersionPrefix = (name: string, version: number): string => `${checkName(name)}/versions/${checkVersion(version)}`;

  /** The store's index when there is a store holding one (it is authoritative), else the local file. */
  async function readIndex(name: string): Promise<RegistryIndex | undefined> {
    const store = await artifactStore();
    const stored = store ? await store.get(storeIndexKey(name)) : null;
    if (store && stored) return parseIndex(Buffer.from(stored).toString('utf8'), `${store.uri}${storeIndexKey(name)}`);
    return readIndexFile(indexPath(name));
  }

  async function hasLocalArtifacts(name: string, version: number): Promise<boolean> {
    return stat(versionDir(name, version)).then(() => true, () => false);
  }

  async function localVersionDir(name: string, version: number): Promise<string> {
    const dir = versionDir(name, version);
    if (await hasLocalArtifacts(name, version)) return dir;
    const store = await artifactStore();
    if (store && (await downloadDirectory(store, storeVersionPrefix(name, version), dir)) > 0) return dir;
    throw new DriftlineError('MODEL_NOT_FOUND', `${name} v${version} has no artifacts at ${dir}${store ? ` nor in ${store.uri}` : ''}`, { details: { name, version } });
  }

  async function isServable(name: string, version: number): Promise<boolean> {
    if (await hasLocalArtifacts(name, version)) return true;
    const store = await artifactStore();
    return store !== null && (await store.list(`${storeVersionPrefix(name, version)}/`)).length > 0;
  }

  /**
   * Refuses (PROMOTION_REFUSED, even with force) a version that would not serve: every serving process would
   * refuse it too, and one started after the promotion would have nothing else to load.
   */
  async function verifyForProduction(name: string, version: number, dir: string): Promise<void> {
    try {
      await verifyArtifacts(dir, { name, version });
    } catch (err) {
      const cause = err instanceof DriftlineError ? err : new DriftlineError('MODEL_LOAD_FAILED', String((err as Error)?.message ?? err), { cause: err });
      throw new DriftlineError('PROMOTION_REFUSED', `${name} v${version} cannot be promoted: it does not pass the load and model check (${cause.code}: ${cause.message})`, {
        cause,
        details: { name, version, check: cause.code },
      });
    }
  }

  /** Runs `change` on the freshest index under the writer lock and writes the result back atomically. */
  async function mutate<T>(name: string, change: (index: RegistryIndex, lock: RegistryLock) => Promise<T>): Promise<T> {
    await mkdir(modelDir(name), { recursive: true });
    return withRetry(
      async () => {
        const lock = await acquireLock(join(modelDir(name), '.lock'), lockWaitMs, lockStaleMs);
        try {
          const index = (await readIndex(name)) ?? emptyIndex(name);
          const result = await change(index, lock);
          index.updated_at_ms = Date.now();
          await lock.assertHeld();
          const text = `${JSON.stringify(index, null, 2)}\n`;
          await writeFileAtomic(indexPath(name), text);
          await (await artifactStore())?.put(storeIndexKey(name), Buffer.from(text, 'utf8'));
          return result;
        } finally {
          await lock.release();
        }
      },
      { retries: conflictRetries, initialDelayMs: 50, maxDelayMs: 1_000 },
    );
  }

  async function existingVersionDirs(name: string): Promise<number[]> {
    const entries = await readdir(join(modelDir(name), 'versions')).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return [] as string[];
      throw err;
    });
    return entries.filter((entry) => /^\d+$/.test(entry)).map(Number);
  }

  /**
   * Shared by register and seed: artifacts go to a temp dir first (no lock held while a model is
   * serialized), then the version number is taken and the directory renamed in under the lock.
   */
  async function addVersion(input: RegisterInput, mode: 'register' | 'seed'): Promise<RegisterResult | null> {
    const name = checkName(input.name);
    const actor = input.actor ?? defaultActor();
    const tmp = join(modelDir(name), `.incoming-${randomUUID()}`);
    await mkdir(tmp, { recursive: true });
    try {
      await input.writeArtifacts(tmp);
      return await mutate(name, async (index, lock) => {
        if (mode === 'seed' && index.versions.length > 0) return null;
        const taken = [index.last_version, ...index.versions.map((v) => v.version), ...(await existingVersionDirs(name))];
        const version = Math.max(0, ...taken) + 1;
        const baseline: ReferenceBaseline = { ...input.baseline, modelName: name, modelVersion: version };
        await writeFileAtomic(join(tmp, BASELINE_FILE), `${JSON.stringify(baseline)}\n`);
        await mkdir(join(modelDir(name), 'versions'), { recursive: true });
        const dir = versionDir(name, version);
        await lock.assertHeld();
        await rename(tmp, dir);
        const now = Date.now();
        const record: ModelVersionRecord = {
          name,
          version,
          stage: 'staging',
          created_at: new Date(now).toISOString(),
          created_at_ms: now,
          metrics: input.metrics,
          data_fingerprint: input.dataFingerprint,
          params: input.params,
          featurizer: input.featurizer,
          timings: input.timings,
          baseline_path: BASELINE_FILE,
          artifacts_path: join(name, 'versions', String(version)),
          previous_production: null,
          parent_model: input.parent?.model ?? null,
          parent_version: input.parent?.version ?? null,
          stage_history: [{ action: 'register', from_stage: null, to_stage: 'staging', at_ms: now, actor, reason: input.reason ?? null, previous_production_version: null }],
        };
        const changes = [changeOf(record, record.stage_history[0]!)];
        if (mode === 'seed') {
          changes.push(moveStage(record, 'production', { action: 'promote', at_ms: now, actor, reason: 'seeded from the shipped default model', previous_production_version: null }));
        }
        await writeFileAtomic(join(dir, RECORD_FILE), `${JSON.stringify(portableRecord(record), null, 2)}\n`);
        // Uploaded before the index names the version: a reader of the store's index always finds its files.
        const store = await artifactStore();
        if (store) await uploadDirectory(store, dir, storeVersionPrefix(name, version));
        index.versions.push(record);
        index.last_version = version;
        return { version, dir, record, changes };
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  const registry: ModelRegistry = {
    root,

    async register(input) {
      const result = await addVersion(input, 'register');
      if (!result) throw new DriftlineError('INTERNAL', 'register produced no version');
      return result;
    },

    async list(name) {
      const names = name === undefined ? await registry.names() : [checkName(name)];
      const out: ModelVersionRecord[] = [];
      for (const each of names) out.push(...((await readIndex(each))?.versions ?? []));
      return out.sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
    },

    async names() {
      const entries = await readdir(root, { withFileTypes: true }).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return [];
        throw err;
      });
      const names = new Set<string>();
      for (const entry of entries) {
        if (!entry.isDirectory() || !NAME_PATTERN.test(entry.name)) continue;
        if (await stat(join(root, entry.name, 'index.json')).then(() => true, () => false)) names.add(entry.name);
      }
      // One listing of the store's top level and one small read per model, not a listing of every version's files.
      const store = await artifactStore();
      if (store) {
        for (const name of await store.children('')) {
          if (!names.has(name) && NAME_PATTERN.test(name) && (await store.get(`${name}/index.json`)) !== null) names.add(name);
        }
      }
      return [...names].sort();
    },

    async get(name, version) {
      const index = await readIndex(name);
      if (!index) throw new DriftlineError('MODEL_NOT_FOUND', `no model named ${name} in the registry`, { details: { name } });
      return findRecord(index, name, checkVersion(version));
    },

    async productionVersion(name) {
      const index = await readIndex(name);
      return (index && productionOf(index)?.version) ?? null;
    },

    versionDir,
    localVersionDir,

    async baseline(name, version) {
      const record = await registry.get(name, version);
      const path = join(await localVersionDir(name, version), record.baseline_path);
      const baseline = await readJsonIfPresent(path);
      if (baseline === undefined) throw new DriftlineError('MODEL_NOT_FOUND', `model ${name} v${version} has no baseline at ${path}`);
      return baseline as ReferenceBaseline;
    },

    async promote(name, version, options) {
      checkVersion(version);
      const dir = versionDir(name, version);
      const hasArtifacts = (): Promise<boolean> => isServable(name, version);
      // Verified outside the lock (loading takes seconds); a version that is not there is refused under it.
      const known = (await readIndex(name))?.versions.some((v) => v.version === version) ?? false;
      const verified = known && (await hasArtifacts());
      if (verified) await verifyForProduction(name, version, await localVersionDir(name, version));
      return mutate(name, async (index) => {
        const candidate = findRecord(index, name, version);
        if (candidate.stage === 'production') {
          throw new DriftlineError('PROMOTION_REFUSED', `${name} v${version} is already in production`, { details: { name, version } });
        }
        if (!(await hasArtifacts())) {
          throw new DriftlineError('MODEL_NOT_FOUND', `${name} v${version} has no artifacts at ${dir}`);
        }
        if (!verified) throw new DriftlineError('REGISTRY_CONFLICT', `${name} v${version} was registered while it was being promoted; try again`);
        return promoteInIndex(index, candidate, options, () => registrySettings.load().minClassF1);
      });
    },

    async rollback(name, options) {
      return mutate(name, (index) => rollBackInIndex(index, name, options, (record: ModelVersionRecord) => isServable(name, record.version)));
    },

    async archive(name, version, options) {
      checkVersion(version);
      return mutate(name, async (index) => archiveInIndex(index, findRecord(index, name, version), options));
    },

    async recordRun(name, run) {
      const stored: StoredRun = { ...run, run_id: randomUUID(), recorded_at_ms: Date.now() };
      const line = `${JSON.stringify(stored)}\n`;
      // Under the lock so lines from concurrent writers never interleave.
      await mutate(name, async (_index, lock) => {
        await lock.assertHeld();
        await appendFile(join(modelDir(name), 'runs.jsonl'), line, 'utf8');
      });
      return stored;
    },

    async runs(name) {
      let raw: string;
      try {
        raw = await readFile(join(modelDir(name), 'runs.jsonl'), 'utf8');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return [];
        throw err;
      }
      const runs: StoredRun[] = [];
      for (const line of raw.split('\n')) {
        if (line.trim() === '') continue;
        try {
          runs.push(JSON.parse(line) as StoredRun);
        } catch {
          // A torn last line after a crash: skipped, the rest of the log stays readable.
        }
      }
      return runs;
    },

    async seedFromDirectory(name, srcDir, options = {}) {
      const existing = await readIndex(name);
      if (existing && existing.versions.length > 0) return null;
      const source = resolve(srcDir);
      const baseline = await readJsonIfPresent(join(source, BASELINE_FILE));
      if (baseline === undefined) throw new DriftlineError('MODEL_NOT_FOUND', `${source} has no ${BASELINE_FILE}: not a model version directory`);
      const shipped = await shippedMetadata(source, readJsonIfPresent);
      return addVersion(
        {
          name,
          writeArtifacts: (dir) => cp(source, dir, { recursive: true }),
          baseline: baseline as ReferenceBaseline,
          ...shipped,
          actor: options.actor ?? 'seed',
          reason: `seeded from ${source}`,
        },
        'seed',
      );
    },
  };
  return registry;
}
