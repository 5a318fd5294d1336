/**
 * The model registry: a plain directory (DRIFTLINE_REGISTRY_DIR) that several processes share.
 *
 *   <dir>/<name>/index.json           every version of the model: stage, metrics, lineage, stage history
 *   <dir>/<name>/versions/<n>/        one version's artifacts (model files, featurizer, baseline.json)
 *   <dir>/<name>/runs.jsonl           training/evaluation runs, one JSON object a line
 *   <dir>/<name>/.lock                exclusive writer lock (pid, host, time); its mtime is a heartbeat while held
 *
 * Readers never lock: index.json is only ever replaced by rename(2) of a fully written, fsynced file,
 * so a reader sees the old or the new index, never half of one. Writers take the lock (created with
 * O_EXCL), re-read the index under it, change it and write it back, so two trainers registering at
 * once get distinct version numbers. Artifacts are written into a temporary directory next to
 * versions/ and renamed into place under the lock: a version directory is either complete or absent.
 */
import { qualityRefusal } from './promotion-gate.js';
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { appendFile, cp, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ReferenceBaseline } from '../../schemas/baseline.js';
import type { ModelPromotion, PromotionAction, Stage } from '../../schemas/types.js';
import { coreSettings, defineSettings, setting } from '../config.js';
import { DriftlineError } from '../errors.js';
import { withRetry } from '../retry.js';

export const REGISTRY_FORMAT_VERSION = 1;
export const BASELINE_FILE = 'baseline.json';
/** The immutable part of a version's record, kept inside its directory so a copied version carries its lineage. */
export const RECORD_FILE = 'registry-record.json';

export const registrySettings = defineSettings('registry', {
  lockWaitMs: setting({ env: 'DRIFTLINE_REGISTRY_LOCK_WAIT_MS', kind: 'int', default: 5_000, min: 1, description: 'How long one attempt waits for the registry writer lock before REGISTRY_CONFLICT (retried 3 times with back-off).' }),
  minClassF1: setting({
    env: 'DRIFTLINE_PROMOTION_MIN_CLASS_F1',
    kind: 'number',
    default: 0.3,
    min: 0,
    max: 1,
    description: 'Promotion gate: a candidate with any sentiment or category class under this held-out F1 is refused (as is one that loses sentiment or category macro-F1).',
  }),
  lockStaleMs: setting({ env: 'DRIFTLINE_REGISTRY_LOCK_STALE_MS', kind: 'int', default: 30_000, min: 100, description: 'Age after which a registry lock is considered abandoned and taken over (a dead holder on the same host is taken over at once).' }),
});

/** One stage transition, as stored in a version's history (and published as a ModelPromotion). */
export interface StageHistoryEntry {
  action: PromotionAction;
  from_stage: Stage | null;
  to_stage: Stage;
  at_ms: number;
  actor: string;
  reason: string | null;
  previous_production_version: number | null;
}

export interface ModelVersionRecord {
  name: string;
  version: number;
  stage: Stage;
  created_at: string;
  created_at_ms: number;
  metrics: Record<string, unknown>;
  data_fingerprint: string;
  params: Record<string, unknown>;
  featurizer: unknown;
  timings: Record<string, number>;
  /** Relative to the version directory. */
  baseline_path: string;
  /** Relative to the registry root. */
  artifacts_path: string;
  /** The version that was production when this one was last promoted (or rolled back to). */
  previous_production: number | null;
  /**
   * The version this one was trained from (warm start), and its model name; null for a run from scratch, a
   * seeded model, or a record written before lineage was kept (absent there: read it with parentOf).
   */
  parent_model?: string | null;
  parent_version?: number | null;
  stage_history: StageHistoryEntry[];
}

interface RegistryIndex {
  format_version: number;
  name: string;
  /** Highest version number ever handed out: numbers are never reused, even after a crash. */
  last_version: number;
  /** Earlier production versions, most recent last: what `rollback` restores. */
  production_history: number[];
  versions: ModelVersionRecord[];
  updated_at_ms: number;
}

/** A stage change that happened; maps one-to-one onto a ModelPromotion event (core/model/promotions.ts). */
/** A stage change as the registry records it: the promotion event's fields without its event id. */
export type StageChange = Omit<ModelPromotion, 'event_id'>;

export interface RegisterInput {
  name: string;
  /** Writes the version's artifacts into `dir` (an empty temporary directory renamed into place afterwards). */
  writeArtifacts: (dir: string) => Promise<void>;
  metrics: Record<string, unknown>;
  baseline: ReferenceBaseline;
  featurizer: unknown;
  dataFingerprint: string;
  params: Record<string, unknown>;
  timings: Record<string, number>;
  /** The registered version it was trained from (warm start); null or absent: from scratch. */
  parent?: { model: string; version: number } | null;
  actor?: string;
  reason?: string;
}

export interface RegisterResult {
  version: number;
  dir: string;
  record: ModelVersionRecord;
  changes: StageChange[];
}

export interface StageChangeOptions {
  actor: string;
  reason?: string;
  force?: boolean;
}

export interface StageChangeResult {
  record: ModelVersionRecord;
  /** The primary change (the one to publish). */
  change: StageChange;
}

/** What a trainer or evaluator reports about one run; free-form beyond `kind`. */
export interface RunInput {
  kind: string;
  version?: number | null;
  [key: string]: unknown;
}

export interface StoredRun extends RunInput {
  run_id: string;
  recorded_at_ms: number;
}

export interface RegistryOptions {
  lockWaitMs?: number;
  lockStaleMs?: number;
  /** Retries of a whole locked operation after REGISTRY_CONFLICT. */
  conflictRetries?: number;
  /**
   * What promote() asks of a version before it moves it to production; throws when the version cannot serve.
   * Default: load it with the serving runtime and run its model check (loadAndCheckArtifacts).
   */
  verifyArtifacts?: ArtifactVerifier;
}

export type ArtifactVerifier = (versionDir: string, meta: { name: string; version: number }) => Promise<void>;

/**
 * The default ArtifactVerifier: the version loads with the runtime every serving process uses, and passes
 * its model check (smoke batch: shapes, finite scores). Throws MODEL_LOAD_FAILED or MODEL_CHECK_FAILED.
 * The runtime is imported when first needed, so reading the registry never loads tfjs.
 */
export const loadAndCheckArtifacts: ArtifactVerifier = async (versionDir, meta) => {
  const { loadModelRuntime } = await import('./runtime.js');
  const runtime = await loadModelRuntime(versionDir, meta);
  try {
    await runtime.check();
  } finally {
    runtime.dispose();
  }
};

export interface ModelRegistry {
  readonly root: string;
  register(input: RegisterInput): Promise<RegisterResult>;
  /** Every version of `name` (or of every model), by name then version. */
  list(name?: string): Promise<ModelVersionRecord[]>;
  names(): Promise<string[]>;
  /** Throws MODEL_NOT_FOUND. */
  get(name: string, version: number): Promise<ModelVersionRecord>;
  productionVersion(name: string): Promise<number | null>;
  versionDir(name: string, version: number): string;
  baseline(name: string, version: number): Promise<ReferenceBaseline>;
  promote(name: string, version: number, options: StageChangeOptions): Promise<StageChangeResult>;
  rollback(name: string, options: StageChangeOptions): Promise<StageChangeResult>;
  archive(name: string, version: number, options: StageChangeOptions): Promise<StageChangeResult>;
  recordRun(name: string, run: RunInput): Promise<StoredRun>;
  runs(name: string): Promise<StoredRun[]>;
  /** Registers `srcDir` as version 1 in production when `name` has no version yet; null when it has. */
  seedFromDirectory(name: string, srcDir: string, options?: { actor?: string }): Promise<RegisterResult | null>;
}

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

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

// ---------------------------------------------------------------------------------------------
// Atomic files and the writer lock

/** write temp + fsync + rename + fsync(dir): after a crash the file is the old or the new content. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(join(path, '..'));
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some file systems refuse fsync on directories, which is harmless here.
  const handle = await open(dir, fsConstants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  acquired_at_ms: number;
}

interface LockSnapshot {
  owner: LockOwner | undefined;
  ino: number;
  mtimeMs: number;
}

async function readLock(path: string): Promise<LockSnapshot | undefined> {
  try {
    const info = await stat(path);
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    } catch {
      owner = undefined; // just created, not written yet (or vanished): judged by its age alone
    }
    return { owner, ino: info.ino, mtimeMs: info.mtimeMs };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

function isStale(lock: LockSnapshot, staleMs: number): boolean {
  if (Date.now() - lock.mtimeMs > staleMs) return true;
  const owner = lock.owner;
  return owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !processIsAlive(owner.pid);
}

/**
 * Removes an abandoned lock. Breakers serialize on a second O_EXCL file and re-check that the lock is
 * still the same stale one (inode + token) before unlinking, so a fresh lock taken in between survives.
 */
async function breakStaleLock(path: string, seen: LockSnapshot, staleMs: number): Promise<void> {
  const breakerPath = `${path}.break`;
  let breaker;
  try {
    breaker = await open(breakerPath, 'wx');
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const other = await readLock(breakerPath);
    // A breaker holds its file for microseconds; an old one means it crashed mid-way.
    if (other && Date.now() - other.mtimeMs > staleMs) await unlink(breakerPath).catch(() => undefined);
    return;
  }
  try {
    const now = await readLock(path);
    // Same file, same owner and not touched since: a heartbeat in between means the holder is alive.
    if (now && now.ino === seen.ino && now.owner?.token === seen.owner?.token && now.mtimeMs === seen.mtimeMs) await unlink(path).catch(() => undefined);
  } finally {
    await breaker.close();
    await unlink(breakerPath).catch(() => undefined);
  }
}

/** A held registry writer lock. */
export interface RegistryLock {
  /** Throws REGISTRY_CONFLICT (retriable) when the lock is no longer ours (taken over as stale). */
  assertHeld(): Promise<void>;
  /** Stops the heartbeat and removes the lock file if it is still ours. */
  release(): Promise<void>;
}

/**
 * Holds `path` while the holder works: its mtime is refreshed every staleMs/3, so a writer that is
 * slow (a large index, a loaded disk) but alive is never judged abandoned. A holder that was paused
 * for longer than staleMs (SIGSTOP, a stalled VM) can still be taken over: before each write it asks
 * assertHeld(), which re-reads the owner token, so it never writes over the new holder's work.
 */
function heldLock(path: string, token: string, staleMs: number): RegistryLock {
  const owns = async (): Promise<boolean> => (await readLock(path).catch(() => undefined))?.owner?.token === token;
  let beat: Promise<void> = Promise.resolve();
  const heartbeat = setInterval(() => {
    beat = (async () => {
      if (!(await owns())) return;
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
    })();
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();
  return {
    async assertHeld() {
      if (await owns()) return;
      throw new DriftlineError('REGISTRY_CONFLICT', `registry lock ${path} was taken over by another writer while this one held it; nothing more was written`, {
        details: { lock: path },
      });
    },
    async release() {
      clearInterval(heartbeat);
      await beat;
      // Only remove our own lock: if we were taken over as stale, the file is someone else's now.
      if (await owns()) await unlink(path).catch(() => undefined);
    },
  };
}

export async function acquireLock(path: string, waitMs: number, staleMs: number): Promise<RegistryLock> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomUUID(), acquired_at_ms: Date.now() };
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner), 'utf8');
      } finally {
        await handle.close();
      }
      return heldLock(path, owner.token, staleMs);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const held = await readLock(path);
    if (held && isStale(held, staleMs)) {
      await breakStaleLock(path, held, staleMs);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DriftlineError('REGISTRY_CONFLICT', `registry lock ${path} is held by ${held?.owner ? `pid ${held.owner.pid} on ${held.owner.host}` : 'another writer'}`, {
        details: { lock: path, holder: held?.owner ?? null },
      });
    }
    await sleep(5 + Math.random() * 20);
  }
}

// ---------------------------------------------------------------------------------------------
// Index reading and record helpers

function emptyIndex(name: string): RegistryIndex {
  return { format_version: REGISTRY_FORMAT_VERSION, name, last_version: 0, production_history: [], versions: [], updated_at_ms: Date.now() };
}

function parseIndex(raw: string, path: string): RegistryIndex {
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

/** A version's parent (warm start), null for both when it has none or its record predates lineage. */
export function parentOf(record: ModelVersionRecord): { parent_model: string | null; parent_version: number | null } {
  return { parent_model: record.parent_model ?? null, parent_version: record.parent_version ?? null };
}

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

function moveStage(record: ModelVersionRecord, to: Stage, entry: Omit<StageHistoryEntry, 'from_stage' | 'to_stage'>): StageChange {
  const full: StageHistoryEntry = { ...entry, from_stage: record.stage, to_stage: to };
  record.stage = to;
  record.stage_history.push(full);
  return changeOf(record, full);
}

function defaultActor(): string {
  return `${process.env['USER'] ?? 'driftline'}@${hostname()}`;
}

// ---------------------------------------------------------------------------------------------

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

  async function readIndex(name: string): Promise<RegistryIndex | undefined> {
    const path = indexPath(name);
    try {
      return parseIndex(await readFile(path, 'utf8'), path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
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
          await writeFileAtomic(indexPath(name), `${JSON.stringify(index, null, 2)}\n`);
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

  function findRecord(index: RegistryIndex, name: string, version: number): ModelVersionRecord {
    const record = index.versions.find((v) => v.version === version);
    if (!record) throw new DriftlineError('MODEL_NOT_FOUND', `model ${name} has no version ${version}`, { details: { name, version } });
    return record;
  }

  const productionOf = (index: RegistryIndex): ModelVersionRecord | undefined => index.versions.find((v) => v.stage === 'production');

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
        index.versions.push(record);
        index.last_version = version;
        return { version, dir, record, changes };
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async function readJsonIfPresent(path: string): Promise<unknown> {
    try {
      return JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw new DriftlineError('MODEL_LOAD_FAILED', `${path} is not valid JSON`, { cause: err });
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
      const names: string[] = [];
      for (const entry of entries) {
        if (!entry.isDirectory() || !NAME_PATTERN.test(entry.name)) continue;
        if (await stat(join(root, entry.name, 'index.json')).then(() => true, () => false)) names.push(entry.name);
      }
      return names.sort();
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

    async baseline(name, version) {
      const record = await registry.get(name, version);
      const path = join(versionDir(name, version), record.baseline_path);
      const baseline = await readJsonIfPresent(path);
      if (baseline === undefined) throw new DriftlineError('MODEL_NOT_FOUND', `model ${name} v${version} has no baseline at ${path}`);
      return baseline as ReferenceBaseline;
    },

    async promote(name, version, options) {
      checkVersion(version);
      const dir = versionDir(name, version);
      const hasArtifacts = (): Promise<boolean> => stat(dir).then(() => true, () => false);
      // Verified outside the lock (loading takes seconds); a version that is not there is refused under it.
      const known = (await readIndex(name))?.versions.some((v) => v.version === version) ?? false;
      const verified = known && (await hasArtifacts());
      if (verified) await verifyForProduction(name, version, dir);
      return mutate(name, async (index) => {
        const candidate = findRecord(index, name, version);
        if (candidate.stage === 'production') {
          throw new DriftlineError('PROMOTION_REFUSED', `${name} v${version} is already in production`, { details: { name, version } });
        }
        if (!(await hasArtifacts())) {
          throw new DriftlineError('MODEL_NOT_FOUND', `${name} v${version} has no artifacts at ${dir}`);
        }
        if (!verified) throw new DriftlineError('REGISTRY_CONFLICT', `${name} v${version} was registered while it was being promoted; try again`);
        const production = productionOf(index);
        if (production && !options.force) refuseIfWorse(candidate, production);
        const now = Date.now();
        const previous = production?.version ?? null;
        const reason = options.reason ?? null;
        if (production) {
          moveStage(production, 'archived', { action: 'archive', at_ms: now, actor: options.actor, reason: `superseded by v${version}`, previous_production_version: null });
          index.production_history.push(production.version);
        }
        candidate.previous_production = previous;
        const change = moveStage(candidate, 'production', { action: 'promote', at_ms: now, actor: options.actor, reason, previous_production_version: previous });
        return { record: candidate, change };
      });
    },

    async rollback(name, options) {
      return mutate(name, async (index) => {
        const production = productionOf(index);
        let target: ModelVersionRecord | undefined;
        while (!target && index.production_history.length > 0) {
          const wanted = index.production_history.pop();
          const candidate = index.versions.find((v) => v.version === wanted);
          if (candidate && candidate !== production && (await stat(versionDir(name, candidate.version)).then(() => true, () => false))) target = candidate;
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
      });
    },

    async archive(name, version, options) {
      checkVersion(version);
      return mutate(name, async (index) => {
        const record = findRecord(index, name, version);
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
      });
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

function refuseIfWorse(candidate: ModelVersionRecord, production: ModelVersionRecord): void {
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
  const refusal = qualityRefusal(candidate.metrics, production.metrics, registrySettings.load().minClassF1);
  if (refusal) {
    throw new DriftlineError('PROMOTION_REFUSED', `${candidate.name} v${candidate.version} has held-out ${refusal.reason} (production v${production.version}; use --force)`, {
      details: { ...details, ...refusal.details },
    });
  }
}

function portableRecord(record: ModelVersionRecord): Record<string, unknown> {
  const { name, version, created_at, created_at_ms, metrics, data_fingerprint, params, featurizer, timings, baseline_path } = record;
  return { name, version, created_at, created_at_ms, metrics, data_fingerprint, params, featurizer, timings, baseline_path, ...parentOf(record) };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * Lineage of a shipped model directory. A directory exported from the registry carries its own
 * record as registry-record.json; otherwise metrics.json / featurizer.json / training.json are used
 * when present.
 */
async function shippedMetadata(
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
