/**
 * A ModelRuntime whose scoring runs on a small pool of worker threads, so the calling thread's event
 * loop (Kafka I/O, Avro, HTTP) keeps running while a batch is scored. Each worker loads the same
 * version with `loadModelRuntime` (core/model/runtime-worker.ts); predictions are bit-for-bit those of
 * the main-thread runtime, since it is the same code on the same backend.
 *
 * - score() goes to the least busy worker (round robin among equally busy ones); check() runs the smoke
 *   check on every worker, as each holds its own copy of the model.
 * - An error thrown in a worker comes back as the same DriftlineError (code, message, field, details).
 * - A worker that dies (crash, out of memory, terminated) rejects its in-flight calls with MODEL_NOT_READY,
 *   which is retriable: the scorer redelivers the batch instead of dead-lettering it, and the API answers
 *   503. A worker that had loaded is replaced at once; the replacement loads the version again. If a
 *   replacement fails to load, its slot stays empty and is tried again only when no worker is left.
 * - dispose() refuses new calls at once and lets every worker finish its in-flight calls, then tells it
 *   to dispose its model and exit.
 */
import type { Worker } from 'node:worker_threads';
import { startWorkerEntry } from '../worker-thread.js';
import { DriftlineError, type ErrorCode } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { RuntimeLoader } from './types.js';
import type { ModelRuntime, Prediction, ScoreOptions } from './types.js';
import type { ReviewInput } from '../review.js';
import { requestTransferList, type ReviewBatchOptions, type ReviewBatchRequest, type ReviewBatchResult } from './review-batch.js';

/** What a worker is started with (its `workerData`). */
export interface RuntimeWorkerData {
  versionDir: string;
  meta: { name: string; version: number };
}

/** A DriftlineError as it crosses the thread boundary (its toJSON fields). */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  field?: string;
  details?: Record<string, unknown>;
}

export type WorkerRequest =
  | { type: 'score'; id: number; reviews: readonly ReviewInput[]; options: ScoreOptions }
  | { type: 'check'; id: number }
  /** A whole batch (core/model/review-batch.ts); with `dedupe` the worker first answers 'batch-ids' and waits for 'batch-skip'. */
  | { type: 'batch'; id: number; request: ReviewBatchRequest; dedupe: boolean }
  | { type: 'batch-skip'; id: number; skip: string[] }
  | { type: 'dispose' };

export type WorkerReply =
  | { type: 'loaded'; backend: string }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'scored'; id: number; predictions: Prediction[] }
  | { type: 'checked'; id: number }
  | { type: 'batch-ids'; id: number; ids: string[] }
  | { type: 'batch-done'; id: number; result: ReviewBatchResult }
  | { type: 'failed'; id: number; error: SerializedError };

export function serializeError(err: DriftlineError): SerializedError {
  const details = plainDetails(err.details);
  return { code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }), ...(details === undefined ? {} : { details }) };
}

/** Details as a log line would show them (through JSON), so they always clone; unserializable ones are dropped. */
function plainDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (details === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function deserializeError(error: SerializedError): DriftlineError {
  return new DriftlineError(error.code, error.message, { ...(error.field === undefined ? {} : { field: error.field }), ...(error.details === undefined ? {} : { details: error.details }) });
}

export interface WorkerRuntimeOptions {
  /** Worker threads in the pool (at least 1). */
  threads: number;
  logger?: Logger;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(err: DriftlineError): void;
  /** A batch call with dedupe: the worker's distinct review_ids, to answer with the ones to skip. */
  onIds?(ids: string[]): void;
}

interface Slot {
  worker: Worker;
  calls: Map<number, PendingCall>;
  /** Resolves with the worker's backend once its model is loaded. */
  ready: Promise<string>;
  resolveReady(backend: string): void;
  rejectReady(err: DriftlineError): void;
  loaded: boolean;
  /** dispose was sent: its exit is expected. */
  retiring: boolean;
  dead: boolean;
}

/** Starts the worker thread (runtime-worker.ts/.js next to this file). */
function startWorker(workerData: RuntimeWorkerData): Worker {
  return startWorkerEntry(import.meta.url, 'runtime-worker', workerData);
}

export class WorkerPoolRuntime implements ModelRuntime {
  readonly name: string;
  readonly version: number;
  private backendName = 'unknown';
  private readonly slots: Slot[] = [];
  private readonly log: Logger;
  private nextCallId = 0;
  private cursor = 0;
  private running = false;
  private disposed = false;

  constructor(
    private readonly versionDir: string,
    meta: { name: string; version: number },
    options: WorkerRuntimeOptions,
  ) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new DriftlineError('CONFIG_INVALID', `a worker pool needs at least 1 thread, got ${options.threads}`);
    this.name = meta.name;
    this.version = meta.version;
    this.log = options.logger ?? createLogger('model-worker');
    for (let i = 0; i < options.threads; i++) this.slots.push(this.spawn());
  }

  /** The backend the workers score on (e.g. 'wasm'), known once they have loaded. */
  get backend(): string {
    return this.backendName;
  }

  /** The live worker threads, for diagnostics (and the fault test that kills one). */
  get workers(): readonly Worker[] {
    return this.slots.filter((slot) => !slot.dead).map((slot) => slot.worker);
  }

  /** Resolves when every worker has loaded the model; rejects with the first load error. */
  async started(): Promise<void> {
    const backends = await Promise.all(this.slots.map((slot) => slot.ready));
    this.backendName = backends[0] ?? this.backendName;
    this.running = true;
  }

  async score(reviews: readonly ReviewInput[], options: ScoreOptions = {}): Promise<Prediction[]> {
    if (this.disposed) throw new DriftlineError('MODEL_SCORING_FAILED', `model ${this.name} v${this.version} is disposed`);
    if (reviews.length === 0) return [];
    return this.call<Prediction[]>(this.pick(), (id) => ({ type: 'score', id, reviews, options }));
  }

  /**
   * Decodes, validates, scores and encodes a whole batch on one worker (core/model/review-batch.ts): the
   * request's buffers are transferred (the caller must not use them afterwards), the result's come back
   * transferred. With a dedupe, the worker sends the batch's review_ids first and waits for the ones to skip.
   */
  async processReviews(request: ReviewBatchRequest, options: ReviewBatchOptions = {}): Promise<ReviewBatchResult> {
    if (this.disposed) throw new DriftlineError('MODEL_SCORING_FAILED', `model ${this.name} v${this.version} is disposed`);
    const slot = this.pick();
    const { scoredBefore } = options;
    const onIds = scoredBefore
      ? (id: number, ids: string[]): void => {
          const answer = (skip: string[]): void => {
            // A worker that died meanwhile has already failed this call.
            if (!slot.dead && slot.calls.has(id)) slot.worker.postMessage({ type: 'batch-skip', id, skip } satisfies WorkerRequest);
          };
          scoredBefore(ids).then(
            (before) => answer([...before]),
            () => answer([]), // the dedupe is best effort (scorer/dedupe.ts never rejects; a custom one may)
          );
        }
      : undefined;
    return this.call<ReviewBatchResult>(slot, (id) => ({ type: 'batch', id, request, dedupe: scoredBefore !== undefined }), requestTransferList(request), onIds);
  }

  async check(): Promise<void> {
    if (this.disposed) throw new DriftlineError('MODEL_CHECK_FAILED', `model ${this.name} v${this.version} is disposed`);
    const live = this.slots.filter((slot) => !slot.dead);
    await Promise.all((live.length > 0 ? live : [this.pick()]).map((slot) => this.call<void>(slot, (id) => ({ type: 'check', id }))));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const slot of this.slots) if (slot.calls.size === 0) this.retire(slot);
  }

  private spawn(): Slot {
    let resolveReady: Slot['resolveReady'] = () => undefined;
    let rejectReady: Slot['rejectReady'] = () => undefined;
    const ready = new Promise<string>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    ready.catch(() => undefined); // a replacement's readiness is awaited by nobody; failures are handled in onReply/onDeath
    const slot: Slot = {
      worker: startWorker({ versionDir: this.versionDir, meta: { name: this.name, version: this.version } }),
      calls: new Map(),
      ready,
      resolveReady,
      rejectReady,
      loaded: false,
      retiring: false,
      dead: false,
    };
    slot.worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    slot.worker.on('error', (err: Error) => this.onDeath(slot, err.message));
    slot.worker.on('exit', (code: number) => this.onDeath(slot, `exit code ${code}`));
    return slot;
  }

  /** The least busy live worker, round robin among ties; a worker still loading counts as busy with one call. */
  private pick(): Slot {
    if (this.slots.every((slot) => slot.dead)) this.slots.forEach((slot, i) => (this.slots[i] = this.spawn()));
    let best: Slot | undefined;
    let bestIndex = 0;
    const load = (slot: Slot): number => slot.calls.size + (slot.loaded ? 0 : 1);
    for (let k = 0; k < this.slots.length; k++) {
      const index = (this.cursor + k) % this.slots.length;
      const slot = this.slots[index]!;
      if (slot.dead || (best !== undefined && load(slot) >= load(best))) continue;
      best = slot;
      bestIndex = index;
    }
    this.cursor = (bestIndex + 1) % this.slots.length;
    return best!;
  }

  private call<T>(slot: Slot, request: (id: number) => WorkerRequest, transfer: ArrayBuffer[] = [], onIds?: (id: number, ids: string[]) => void): Promise<T> {
    const id = ++this.nextCallId;
    return new Promise<T>((resolve, reject) => {
      slot.calls.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(onIds ? { onIds: (ids: string[]) => onIds(id, ids) } : {}) });
      this.updateRef(slot);
      try {
        slot.worker.postMessage(request(id), transfer);
      } catch (err) {
        // e.g. a review field that cannot be cloned (a function): a bad input, not a dead worker.
        this.settle(slot, id, (pending) => pending.reject(new DriftlineError('MODEL_SCORING_FAILED', `cannot send the batch to the model worker: ${(err as Error).message}`, { cause: err })));
      }
    });
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    switch (reply.type) {
      case 'loaded':
        slot.loaded = true;
        this.backendName = reply.backend;
        slot.resolveReady(reply.backend);
        this.updateRef(slot);
        return;
      case 'load-failed': {
        const error = deserializeError(reply.error);
        slot.rejectReady(error);
        // A failed first load is the loader's error (ModelService logs the refusal); a failed replacement is logged here.
        if (this.running) this.log.error({ model: this.name, version: this.version, err: error.toJSON() }, 'a replacement model worker failed to load');
        this.bury(slot, new DriftlineError('MODEL_NOT_READY', `a model worker of ${this.name} v${this.version} failed to load: ${error.message}`, { cause: error }));
        void slot.worker.terminate();
        return;
      }
      case 'scored':
        this.settle(slot, reply.id, (pending) => pending.resolve(reply.predictions));
        return;
      case 'checked':
        this.settle(slot, reply.id, (pending) => pending.resolve(undefined));
        return;
      case 'batch-ids':
        slot.calls.get(reply.id)?.onIds?.(reply.ids);
        return;
      case 'batch-done':
        this.settle(slot, reply.id, (pending) => pending.resolve(reply.result));
        return;
      case 'failed':
        this.settle(slot, reply.id, (pending) => pending.reject(deserializeError(reply.error)));
        return;
    }
  }

  private settle(slot: Slot, id: number, outcome: (pending: PendingCall) => void): void {
    const pending = slot.calls.get(id);
    if (!pending) return;
    slot.calls.delete(id);
    outcome(pending);
    if (this.disposed && slot.calls.size === 0) this.retire(slot);
    else this.updateRef(slot);
  }

  private onDeath(slot: Slot, cause: string): void {
    if (slot.dead) return;
    const wasLoaded = slot.loaded;
    slot.rejectReady(new DriftlineError('MODEL_LOAD_FAILED', `the model worker stopped while loading ${this.versionDir} (${cause})`));
    if (slot.retiring) {
      slot.dead = true;
      return;
    }
    this.log.error({ model: this.name, version: this.version, cause, inflight: slot.calls.size, replaced: wasLoaded && !this.disposed }, 'model worker stopped');
    this.bury(slot, new DriftlineError('MODEL_NOT_READY', `the model worker scoring ${this.name} v${this.version} stopped (${cause}); try again`, { details: { model: this.name, version: this.version } }));
    if (wasLoaded && !this.disposed) this.slots[this.slots.indexOf(slot)] = this.spawn();
  }

  /** Marks a slot dead and fails its in-flight calls. */
  private bury(slot: Slot, error: DriftlineError): void {
    slot.dead = true;
    const calls = [...slot.calls.values()];
    slot.calls.clear();
    for (const pending of calls) pending.reject(error);
  }

  /** Asks an idle worker of a disposed pool to dispose its model and exit. */
  private retire(slot: Slot): void {
    if (slot.dead || slot.retiring) return;
    slot.retiring = true;
    if (slot.loaded) slot.worker.postMessage({ type: 'dispose' } satisfies WorkerRequest);
    else void slot.worker.terminate(); // still loading: nothing to dispose
  }

  /** A worker keeps the process alive only while it loads or has calls in flight. */
  private updateRef(slot: Slot): void {
    if (!slot.loaded || slot.calls.size > 0) slot.worker.ref();
    else slot.worker.unref();
  }
}

/** Loads one version on `threads` worker threads; rejects like loadModelRuntime (MODEL_LOAD_FAILED). */
export async function loadWorkerRuntime(versionDir: string, meta: { name: string; version: number }, options: WorkerRuntimeOptions): Promise<WorkerPoolRuntime> {
  const runtime = new WorkerPoolRuntime(versionDir, meta, options);
  try {
    await runtime.started();
  } catch (err) {
    runtime.dispose();
    throw err;
  }
  return runtime;
}

/** A RuntimeLoader (see service.ts) that serves each loaded version from its own pool of `threads` workers. */
export function workerRuntimeLoader(threads: number, logger?: Logger): RuntimeLoader {
  return (versionDir, meta) => loadWorkerRuntime(versionDir, meta, { threads, ...(logger ? { logger } : {}) });
}
