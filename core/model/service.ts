/**
 * The serving model of one name, hot-swapped without dropping a request (see ModelService in types.ts).
 *
 * - A swap loads and checks the new version while the old one keeps serving, then replaces it in one
 *   assignment: every `current()` call sees either the old or the new runtime, never a half-loaded one.
 * - Swaps are serialized through one queue; when several are waiting, only the newest is carried out
 *   (last one wins) and the overruled requests settle with its result.
 * - A load that fails is tried again with back-off (withRetry, DRIFTLINE_MODEL_LOAD_RETRIES): a registry
 *   read or a model worker can fail once. Only a failed model check (MODEL_CHECK_FAILED) is final at once;
 *   such a version is not tried again until it is asked for by a new swap (reconcile skips it).
 * - A version that still fails is refused: the error is logged and counted, the caller's promise rejects
 *   with the typed error, and the old runtime keeps serving. When there is no old runtime, liveness()
 *   says so (the API's /health fails, so the process is restarted rather than left not-ready for good).
 * - Disposal of the old runtime: reference counting plus a short grace period. `current()` hands out a
 *   view whose score()/check() count themselves in and out, so a call in progress is never cut off
 *   (exact, not timed). The grace period covers callers that took `current()` and only call score()
 *   after an await; a call that still arrives after disposal gets MODEL_NOT_READY (retriable) rather
 *   than a crash inside tfjs, and the caller takes `current()` again.
 *
 * One file on purpose (~430 lines): one closure holds the serving entry, the swap queue and its tickets,
 * the reference counts and the reconcile timer; every function here reads or changes that state, so a
 * split would pass it around or make it public. Its settings and the worker start-up are elsewhere.
 */
import type { ModelPromotion } from '../../schemas/types.js';
import { defineSettings, setting } from '../config.js';
import { DriftlineError, toDriftlineError, type ErrorCode } from '../errors.js';
import { withRetry } from '../retry.js';
import { createLogger, type Logger } from '../logger.js';
import { modelSettings } from './config.js';
import type { PromotionFollower } from './promotions.js';
import type { ModelRegistry } from './registry/index.js';
import type { ModelRuntime, ModelService, Prediction, RuntimeLoader, ScoreOptions } from './types.js';
import type { ReviewInput } from '../review.js';
import { workerRuntimeLoader } from './worker-runtime.js';
import { hasBatchProcessing, type ReviewBatchOptions, type ReviewBatchRequest } from './review-batch.js';

export const modelServiceSettings = defineSettings('model-service', {
  loadRetries: setting({ env: 'DRIFTLINE_MODEL_LOAD_RETRIES', kind: 'int', default: 6, min: 0, max: 100, description: 'How often loading a model version is tried again (exponential back-off with jitter from 500 ms) before the swap is refused; a failed model check is never retried.' }),
  loadRetryMaxMs: setting({ env: 'DRIFTLINE_MODEL_LOAD_RETRY_MAX_MS', kind: 'int', default: 30_000, min: 1, description: 'Longest wait between two tries of loading a model version.' }),
  disposeGraceMs: setting({ env: 'DRIFTLINE_MODEL_DISPOSE_GRACE_MS', kind: 'int', default: 2_000, min: 0, description: 'After a hot swap, how long the old model version stays loaded for callers still holding it (in-flight calls are always awaited).' }),
  reconcileMs: setting({ env: 'DRIFTLINE_MODEL_RECONCILE_MS', kind: 'int', default: 30_000, min: 0, description: "How often a serving process re-reads the registry's production version, in case a promotion event was missed (0 = only on events)." }),
  modelThreads: setting({
    env: 'DRIFTLINE_MODEL_THREADS',
    kind: 'int',
    default: 0,
    min: 0,
    max: 32,
    description: 'Worker threads that score with each loaded model version, so scoring does not block the event loop (Kafka, HTTP); 0 = score on the calling thread. Unset: the scorer uses 2 (1 on a single core; a shadow candidate 1), the API 0.',
  }),
});

/** DRIFTLINE_MODEL_THREADS when it is set, else the calling component's own default. */
export function modelThreadsOr(componentDefault: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[modelServiceSettings.spec.modelThreads.env];
  return raw === undefined || raw === '' ? componentDefault : modelServiceSettings.load(env).modelThreads;
}

export type { RuntimeLoader };

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
  /** Back-off of a failing load; default DRIFTLINE_MODEL_LOAD_RETRIES, 500 ms, DRIFTLINE_MODEL_LOAD_RETRY_MAX_MS. */
  loadRetry?: LoadRetry;
}

export interface LoadRetry {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** How many earlier production versions loadProduction tries when the production version cannot be loaded. */
const MAX_FALLBACKS = 3;

/** The one failure that another try cannot fix: the model loaded and is wrong. */
const PERMANENT_LOAD_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['MODEL_CHECK_FAILED']);

export interface ModelServiceStats {
  version: number | null;
  swaps: number;
  swapFailures: number;
  /** Loads tried again after a failure (each counts once). */
  loadRetries: number;
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
  const loadRetry: LoadRetry = options.loadRetry ?? { retries: settings.loadRetries, initialDelayMs: 500, maxDelayMs: settings.loadRetryMaxMs };

  let active: Entry | undefined;
  const loaded = new Set<Entry>();
  const swapListeners: Array<(next: ModelRuntime, previous: ModelRuntime | undefined) => void> = [];
  const failureListeners: SwapFailureListener[] = [];
  /** Versions that failed their model check: the periodic reconcile does not retry them (artifacts never change). */
  const failedVersions = new Set<number>();
  /** Why the last swap gave up while nothing was serving (cleared by the next successful swap). */
  let gaveUp: DriftlineError | undefined;
  /** Aborts the back-off of the swap in progress when a newer swap overrules it or the service closes. */
  let inProgress: AbortController | undefined;
  let loadRetries = 0;
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
      // Whole batches on the runtime's worker, when it has one (core/model/review-batch.ts processReviews).
      ...(hasBatchProcessing(runtime) ? { processReviews: (request: ReviewBatchRequest, batchOptions?: ReviewBatchOptions) => counted(() => runtime.processReviews(request, batchOptions)) } : {}),
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
    gaveUp = undefined;
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

  function failure(error: DriftlineError, version: number): DriftlineError {
    swapFailures += 1;
    if (PERMANENT_LOAD_FAILURES.has(error.code)) failedVersions.add(version);
    if (!active) gaveUp = error;
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

  /** One try; throws a typed error (MODEL_NOT_FOUND, MODEL_LOAD_FAILED, MODEL_CHECK_FAILED). */
  async function loadAndCheckOnce(version: number): Promise<ModelRuntime> {
    try {
      await registry.get(modelName, version);
    } catch (err) {
      throw toDriftlineError(err, 'MODEL_NOT_FOUND');
    }
    let runtime: ModelRuntime;
    try {
      runtime = await loadRuntime(await registry.localVersionDir(modelName, version), { name: modelName, version });
    } catch (err) {
      throw toDriftlineError(err, 'MODEL_LOAD_FAILED');
    }
    try {
      await runtime.check();
    } catch (err) {
      runtime.dispose();
      throw toDriftlineError(err, 'MODEL_CHECK_FAILED');
    }
    return runtime;
  }

  function loadAndCheck(version: number, signal: AbortSignal): Promise<ModelRuntime> {
    return withRetry(() => loadAndCheckOnce(version), {
      ...loadRetry,
      signal,
      retryIf: (err) => !PERMANENT_LOAD_FAILURES.has(err.code),
      onRetry: (err, attempt, delayMs) => {
        loadRetries += 1;
        log.warn({ err: err.toJSON(), model: modelName, version, attempt, delayMs, serving: active?.runtime.version ?? null }, 'loading a model version failed; trying again');
      },
    });
  }

  async function step(version: number, ticket: number): Promise<StepResult> {
    if (closed) throw shuttingDown();
    if (superseded(ticket)) return SUPERSEDED;
    if (active?.runtime.version === version) return active.view;
    const controller = new AbortController();
    inProgress = controller;
    let runtime: ModelRuntime;
    try {
      runtime = await loadAndCheck(version, controller.signal);
    } catch (err) {
      if (superseded(ticket) && !closed) return SUPERSEDED;
      if (closed) throw shuttingDown();
      throw failure(toDriftlineError(err, 'MODEL_LOAD_FAILED'), version);
    } finally {
      if (inProgress === controller) inProgress = undefined;
    }
    if (closed || superseded(ticket)) {
      runtime.dispose();
      if (closed) throw shuttingDown();
      return SUPERSEDED;
    }
    return install(runtime);
  }

  /**
   * After the production version failed to load at start-up: loads the versions that were production before
   * it, newest first (at most MAX_FALLBACKS). The refused production version stays reported (stats, logs,
   * the onSwapFailed listeners) and reconcile keeps trying it when its failure was not a failed check.
   */
  async function servePreviousProduction(refused: number): Promise<ModelRuntime | undefined> {
    let version: number | null = refused;
    for (let step = 0; step < MAX_FALLBACKS; step++) {
      version = version === null ? null : ((await registry.get(modelName, version).catch(() => undefined))?.previous_production ?? null);
      if (version === null) return undefined;
      log.error({ model: modelName, refused, fallback: version }, 'the production version cannot be loaded; serving the previous production version');
      try {
        return await service.swapTo(version);
      } catch {
        // logged and counted by failure(); try the one before
      }
    }
    return undefined;
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
      inProgress?.abort(); // a swap still backing off is overruled by this one
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
      try {
        return await service.swapTo(version);
      } catch (err) {
        if (active || closed) throw err;
        // Nothing serves: rather than fail the start (and crash-loop), serve the version production had before.
        const fallback = await servePreviousProduction(version);
        if (!fallback) throw err;
        return fallback;
      }
    },

    onSwap(listener) {
      swapListeners.push(listener);
    },

    onSwapFailed(listener) {
      failureListeners.push(listener);
    },

    liveness: () => ({ alive: closed || active !== undefined || gaveUp === undefined, error: active || closed ? null : (gaveUp ?? null) }),

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
      loadRetries,
      retiredLoaded: [...loaded].filter((entry) => entry.retired).length,
      lastSwapAtMs,
    }),

    async close() {
      if (closed) return;
      closed = true;
      inProgress?.abort();
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
