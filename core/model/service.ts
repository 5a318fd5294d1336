/**
 * The serving model of one name, hot-swapped without dropping a request (see ModelService in types.ts).
 *
 * - A swap loads and checks the new version while the old one keeps serving, then replaces it in one
 *   assignment: every `current()` call sees either the old or the new runtime, never a half-loaded one.
 * - Swaps are serialized through one queue; when several are waiting, only the newest is carried out
 *   (last one wins) and the overruled requests settle with its result.
 * - A version that fails to load or check is refused: the error is logged and counted, the caller's
 *   promise rejects with the typed error, and the old runtime keeps serving.
 * - Disposal of the old runtime: reference counting plus a short grace period. `current()` hands out a
 *   view whose score()/check() count themselves in and out, so a call in progress is never cut off
 *   (exact, not timed). The grace period covers callers that took `current()` and only call score()
 *   after an await; a call that still arrives after disposal gets MODEL_NOT_READY (retriable) rather
 *   than a crash inside tfjs, and the caller takes `current()` again.
 */
import type { ModelPromotion } from '../../schemas/types.js';
import { defineSettings, setting } from '../config.js';
import { DriftlineError, toDriftlineError, type ErrorCode } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { modelSettings } from './config.js';
import type { PromotionFollower } from './promotions.js';
import type { ModelRegistry } from './registry.js';
import type { ModelRuntime, ModelService, Prediction, ReviewInput, ScoreOptions } from './types.js';
import { workerRuntimeLoader } from './worker-runtime.js';

export const modelServiceSettings = defineSettings('model-service', {
  disposeGraceMs: setting({ env: 'DRIFTLINE_MODEL_DISPOSE_GRACE_MS', kind: 'int', default: 2_000, min: 0, description: 'After a hot swap, how long the old model version stays loaded for callers still holding it (in-flight calls are always awaited).' }),
  reconcileMs: setting({ env: 'DRIFTLINE_MODEL_RECONCILE_MS', kind: 'int', default: 30_000, min: 0, description: "How often a serving process re-reads the registry's production version, in case a promotion event was missed (0 = only on events)." }),
  modelThreads: setting({
    env: 'DRIFTLINE_MODEL_THREADS',
    kind: 'int',
    default: 0,
    min: 0,
    max: 32,
    description: 'Worker threads that score with each loaded model version, so scoring does not block the event loop (Kafka, HTTP); 0 = score on the calling thread. Unset: the scorer uses 1, the API 0.',
  }),
});

/** DRIFTLINE_MODEL_THREADS when it is set, else the calling component's own default. */
export function modelThreadsOr(componentDefault: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[modelServiceSettings.spec.modelThreads.env];
  return raw === undefined || raw === '' ? componentDefault : modelServiceSettings.load(env).modelThreads;
}

export type RuntimeLoader = (versionDir: string, meta: { name: string; version: number }) => Promise<ModelRuntime>;

export interface ModelServiceOptions {
  registry: ModelRegistry;
  modelName: string;
  /** Default: each version is loaded on the calling thread, or on a pool of `modelThreads` workers when > 0. */
  loadRuntime?: RuntimeLoader;
  /** Worker threads per loaded version when no loadRuntime is given; default DRIFTLINE_MODEL_THREADS. */
  modelThreads?: number;
  logger?: Logger;
  disposeGraceMs?: number;
  reconcileIntervalMs?: number;
}

export interface ModelServiceStats {
  version: number | null;
  swaps: number;
  swapFailures: number;
  /** Old runtimes still loaded because calls were in flight or the grace period has not passed. */
  retiredLoaded: number;
  lastSwapAtMs: number | null;
}

export type SwapFailureListener = (error: DriftlineError, version: number) => void;

export interface ManagedModelService extends ModelService {
  /** Swaps on every event of this model whose to_stage is production (promote, rollback, seed). */
  attachPromotions(follower: PromotionFollower): () => void;
  /** What one promotion event means for this service; resolves undefined when it is not about it. */
  handlePromotion(event: ModelPromotion): Promise<ModelRuntime | undefined>;
  /** Swaps to the registry's production version if it differs from the serving one. */
  reconcile(): Promise<ModelRuntime | undefined>;
  onSwapFailed(listener: SwapFailureListener): void;
  stats(): ModelServiceStats;
}

interface Entry {
  runtime: ModelRuntime;
  view: ModelRuntime;
  inflight: number;
  retired: boolean;
  graceElapsed: boolean;
  disposed: boolean;
}

const SUPERSEDED = Symbol('superseded');
type StepResult = ModelRuntime | typeof SUPERSEDED;

const defaultLoader: RuntimeLoader = async (versionDir, meta) => (await import('./runtime.js')).loadModelRuntime(versionDir, meta);

/** DRIFTLINE_MODEL_TIER=accurate adds the sentence encoder to every loaded version (imported only then: onnxruntime is large). */
function withModelTier(loader: RuntimeLoader): RuntimeLoader {
  if (modelSettings.load().tier !== 'accurate') return loader;
  return async (versionDir, meta) => (await import('./accurate-runtime.js')).tieredRuntimeLoader(loader)(versionDir, meta);
}

export function createModelService(options: ModelServiceOptions): ManagedModelService {
  const settings = modelServiceSettings.load();
  const { registry, modelName } = options;
  const log = options.logger ?? createLogger('model-service');
  const threads = options.modelThreads ?? settings.modelThreads;
  const streamLoader = options.loadRuntime ?? (threads > 0 ? workerRuntimeLoader(threads, log) : defaultLoader);
  const loadRuntime = withModelTier(streamLoader);
  const graceMs = options.disposeGraceMs ?? settings.disposeGraceMs;
  const reconcileMs = options.reconcileIntervalMs ?? settings.reconcileMs;

  let active: Entry | undefined;
  const loaded = new Set<Entry>();
  const swapListeners: Array<(next: ModelRuntime, previous: ModelRuntime | undefined) => void> = [];
  const failureListeners: SwapFailureListener[] = [];
  /** Versions whose artifacts failed: the periodic reconcile does not retry them (artifacts never change). */
  const failedVersions = new Set<number>();
  const detachers = new Set<() => void>();
  const idleWaiters = new Set<() => void>();
  let queue: Promise<void> = Promise.resolve();
  let tickets = 0;
  let latestOutcome: Promise<ModelRuntime> | undefined;
  let closed = false;
  let swaps = 0;
  let swapFailures = 0;
  let lastSwapAtMs: number | null = null;

  function makeEntry(runtime: ModelRuntime): Entry {
    const entry = { runtime, inflight: 0, retired: false, graceElapsed: false, disposed: false } as Entry;
    const counted = async <T>(call: () => Promise<T>): Promise<T> => {
      if (entry.disposed) {
        throw new DriftlineError('MODEL_NOT_READY', `${modelName} v${runtime.version} was swapped out; take current() again`, { details: { version: runtime.version } });
      }
      entry.inflight += 1;
      try {
        return await call();
      } finally {
        entry.inflight -= 1;
        maybeDispose(entry);
      }
    };
    entry.view = {
      name: runtime.name,
      version: runtime.version,
      backend: runtime.backend,
      score: (reviews: readonly ReviewInput[], scoreOptions?: ScoreOptions): Promise<Prediction[]> => counted(() => runtime.score(reviews, scoreOptions)),
      check: () => counted(() => runtime.check()),
      // The service owns the lifetime of what it hands out.
      dispose: () => undefined,
    };
    loaded.add(entry);
    return entry;
  }

  function maybeDispose(entry: Entry): void {
    if (!entry.retired || !entry.graceElapsed || entry.inflight > 0 || entry.disposed) return;
    entry.disposed = true;
    loaded.delete(entry);
    try {
      entry.runtime.dispose();
    } catch (err) {
      log.warn({ err: String(err), version: entry.runtime.version }, 'disposing an old model runtime failed');
    }
    log.info({ model: modelName, version: entry.runtime.version }, 'old model runtime disposed');
    if (loaded.size === 0) for (const wake of idleWaiters) wake();
  }

  function retire(entry: Entry, immediately = false): void {
    entry.retired = true;
    if (immediately || graceMs === 0) {
      entry.graceElapsed = true;
      maybeDispose(entry);
      return;
    }
    setTimeout(() => {
      entry.graceElapsed = true;
      maybeDispose(entry);
    }, graceMs).unref();
  }

  function install(runtime: ModelRuntime): ModelRuntime {
    const entry = makeEntry(runtime);
    const previous = active;
    active = entry;
    swaps += 1;
    lastSwapAtMs = Date.now();
    failedVersions.delete(runtime.version);
    log.info({ model: modelName, version: runtime.version, previous: previous?.runtime.version ?? null, backend: runtime.backend }, 'model version swapped in');
    for (const listener of swapListeners) {
      try {
        listener(entry.view, previous?.view);
      } catch (err) {
        log.error({ err: String(err) }, 'onSwap listener failed');
      }
    }
    if (previous) retire(previous);
    return entry.view;
  }

  function failure(err: unknown, fallback: ErrorCode, version: number): DriftlineError {
    const error = toDriftlineError(err, fallback);
    swapFailures += 1;
    failedVersions.add(version);
    log.error({ err: error.toJSON(), model: modelName, version, serving: active?.runtime.version ?? null }, 'model version refused; the serving version stays');
    for (const listener of failureListeners) {
      try {
        listener(error, version);
      } catch (listenerErr) {
        log.error({ err: String(listenerErr) }, 'onSwapFailed listener failed');
      }
    }
    return error;
  }

  const shuttingDown = (): DriftlineError => new DriftlineError('SHUTTING_DOWN', `model service ${modelName} is closed`);
  const superseded = (ticket: number): boolean => ticket !== tickets;

  async function loadAndCheck(version: number): Promise<ModelRuntime> {
    try {
      await registry.get(modelName, version);
    } catch (err) {
      throw failure(err, 'MODEL_NOT_FOUND', version);
    }
    let runtime: ModelRuntime;
    try {
      runtime = await loadRuntime(registry.versionDir(modelName, version), { name: modelName, version });
    } catch (err) {
      throw failure(err, 'MODEL_LOAD_FAILED', version);
    }
    try {
      await runtime.check();
    } catch (err) {
      runtime.dispose();
      throw failure(err, 'MODEL_CHECK_FAILED', version);
    }
    return runtime;
  }

  async function step(version: number, ticket: number): Promise<StepResult> {
    if (closed) throw shuttingDown();
    if (superseded(ticket)) return SUPERSEDED;
    if (active?.runtime.version === version) return active.view;
    let runtime: ModelRuntime;
    try {
      runtime = await loadAndCheck(version);
    } catch (err) {
      if (superseded(ticket) && !closed) return SUPERSEDED;
      throw err;
    }
    if (closed || superseded(ticket)) {
      runtime.dispose();
      if (closed) throw shuttingDown();
      return SUPERSEDED;
    }
    return install(runtime);
  }

  const service: ManagedModelService = {
    modelName,

    current() {
      if (closed) throw shuttingDown();
      if (!active) throw new DriftlineError('MODEL_NOT_READY', `no version of ${modelName} is loaded yet`);
      return active.view;
    },

    isReady: () => !closed && active !== undefined,

    swapTo(version) {
      if (closed) return Promise.reject(shuttingDown());
      if (!Number.isInteger(version) || version < 1) {
        return Promise.reject(new DriftlineError('REQUEST_INVALID', `invalid model version ${String(version)}`, { field: 'version' }));
      }
      const ticket = ++tickets;
      const result = queue.then(() => step(version, ticket));
      queue = result.then(
        () => undefined,
        () => undefined,
      );
      // An overruled request settles with the newest request's outcome (looked up when it settles).
      const outcome: Promise<ModelRuntime> = result.then((value) => (value === SUPERSEDED ? (latestOutcome as Promise<ModelRuntime>) : value));
      latestOutcome = outcome;
      return outcome;
    },

    async loadProduction() {
      const version = await registry.productionVersion(modelName);
      if (version === null) throw new DriftlineError('MODEL_NOT_FOUND', `model ${modelName} has no production version in ${registry.root}`, { details: { name: modelName } });
      return service.swapTo(version);
    },

    onSwap(listener) {
      swapListeners.push(listener);
    },

    onSwapFailed(listener) {
      failureListeners.push(listener);
    },

    async handlePromotion(event) {
      if (event.model_name !== modelName || event.to_stage !== 'production') return undefined;
      log.info({ model: modelName, version: event.version, action: event.action, actor: event.actor }, 'promotion event: swapping');
      return service.swapTo(event.version);
    },

    async reconcile() {
      if (closed) return undefined;
      const version = await registry.productionVersion(modelName);
      if (version === null || version === active?.runtime.version || failedVersions.has(version)) return undefined;
      log.info({ model: modelName, version, serving: active?.runtime.version ?? null }, 'registry production differs from the serving version: swapping');
      return service.swapTo(version);
    },

    attachPromotions(follower) {
      const quiet = (promise: Promise<unknown>): void => {
        promise.catch(() => undefined); // already logged and counted by failure()
      };
      const unsubscribe = follower.subscribe((event) => quiet(service.handlePromotion(event)));
      const unhook = follower.onRejoin(() => quiet(service.reconcile()));
      const timer = reconcileMs > 0 ? setInterval(() => quiet(service.reconcile()), reconcileMs).unref() : undefined;
      const detach = (): void => {
        unsubscribe();
        unhook();
        if (timer) clearInterval(timer);
        detachers.delete(detach);
      };
      detachers.add(detach);
      return detach;
    },

    stats: () => ({
      version: active?.runtime.version ?? null,
      swaps,
      swapFailures,
      retiredLoaded: [...loaded].filter((entry) => entry.retired).length,
      lastSwapAtMs,
    }),

    async close() {
      if (closed) return;
      closed = true;
      for (const detach of [...detachers]) detach();
      await queue;
      const last = active;
      active = undefined;
      if (last) retire(last, true);
      for (const entry of [...loaded]) {
        entry.graceElapsed = true;
        maybeDispose(entry);
      }
      // Wait for calls still in flight on any loaded runtime, then everything is disposed.
      if (loaded.size > 0) await new Promise<void>((resolveIdle) => idleWaiters.add(resolveIdle));
    },
  };
  return service;
}
