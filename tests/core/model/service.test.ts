/**
 * ModelService swap semantics with small in-process runtimes (the real tfjs model is exercised in
 * service.real.test.ts): the runtimes here let the test hold a load or a score() call open at will.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ModelPromotion } from '../../../schemas/types.js';
import { DriftlineError } from '../../../core/errors.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { createModelService, modelThreadsOr, type ManagedModelService } from '../../../core/model/service.js';
import type { ModelRuntime, Prediction } from '../../../core/model/types.js';
import type { ReviewInput } from '../../../core/review.js';

interface Gate {
  promise: Promise<void>;
  open: () => void;
}
function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolveGate) => (open = resolveGate));
  return { promise, open };
}

interface Behaviour {
  failLoad?: boolean;
  failCheck?: boolean;
}

/** A runtime that predicts "positive" with confidence = version / 10 and records its disposal. */
class FakeRuntime implements ModelRuntime {
  readonly name: string;
  readonly backend = 'fake';
  disposed = false;
  scoreGate: Gate | undefined;
  constructor(
    name: string,
    readonly version: number,
    private readonly behaviour: Behaviour,
  ) {
    this.name = name;
  }
  async score(reviews: readonly ReviewInput[]): Promise<Prediction[]> {
    if (this.disposed) throw new Error('scored after dispose');
    await this.scoreGate?.promise;
    if (this.disposed) throw new Error('disposed while scoring');
    return reviews.map((r) => ({
      review_id: r.review_id,
      sentiment: 'positive',
      probabilities: { negative: 0, neutral: 0, positive: 1 },
      confidence: this.version / 10,
      category: null,
      categoryConfidence: null,
      outlierScore: 0,
      outlierFlag: false,
      shiftScore: 0,
      ratingTextDisagreement: false,
      features: {},
    }));
  }
  async check(): Promise<void> {
    if (this.behaviour.failCheck) throw new DriftlineError('MODEL_CHECK_FAILED', `v${this.version} produced NaN`);
  }
  dispose(): void {
    this.disposed = true;
  }
}

let dir: string;
let registry: ModelRegistry;
let service: ManagedModelService;
const created: FakeRuntime[] = [];
const loadCalls: number[] = [];
const loadGates = new Map<number, Gate>();
/** Version → how many more loads of it fail the way a worker or a registry read can fail once. */
const transientFailures = new Map<number, number>();
/** Fast back-off for tests; the defaults (DRIFTLINE_MODEL_LOAD_RETRIES) only change the waits. */
const FAST_RETRY = { retries: 3, initialDelayMs: 1, maxDelayMs: 5 };
let loading = 0;
let maxConcurrentLoads = 0;
const silent = pino({ level: 'silent' });

async function loadFake(versionDir: string, meta: { name: string; version: number }): Promise<ModelRuntime> {
  loadCalls.push(meta.version);
  loading += 1;
  maxConcurrentLoads = Math.max(maxConcurrentLoads, loading);
  try {
    await loadGates.get(meta.version)?.promise;
    const failuresLeft = transientFailures.get(meta.version) ?? 0;
    if (failuresLeft > 0) {
      transientFailures.set(meta.version, failuresLeft - 1);
      throw new DriftlineError('MODEL_LOAD_FAILED', `the model worker stopped while loading v${meta.version}`);
    }
    const behaviour = JSON.parse(await readFile(join(versionDir, 'fake.json'), 'utf8')) as Behaviour;
    if (behaviour.failLoad) throw new DriftlineError('MODEL_LOAD_FAILED', `v${meta.version}: weights truncated`);
    const runtime = new FakeRuntime(meta.name, meta.version, behaviour);
    created.push(runtime);
    return runtime;
  } finally {
    loading -= 1;
  }
}

async function registerFake(behaviour: Behaviour = {}): Promise<number> {
  const result = await registry.register({
    name: 'sentiment',
    writeArtifacts: (d) => writeFile(join(d, 'fake.json'), JSON.stringify(behaviour)),
    metrics: { macroF1: 0.5 },
    baseline: { formatVersion: 1, modelName: 'sentiment', modelVersion: 0, createdAtMs: 0, rows: 0, features: {}, reference: { accuracy: 0, macroF1: 0, meanConfidence: 0, outlierRate: 0 } },
    featurizer: null,
    dataFingerprint: 'x',
    params: {},
    timings: {},
  });
  return result.version;
}

const runtimeOf = (version: number): FakeRuntime => created.find((r) => r.version === version)!;
const review: ReviewInput = { review_id: 'r1', text: 'great' };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-service-'));
  // The fake versions are promoted without the serving runtime's load check (they have no real model):
  // they stand for versions that passed it where they were promoted and fail here.
  registry = openRegistry(dir, { verifyArtifacts: async () => undefined });
  created.length = 0;
  loadCalls.length = 0;
  loadGates.clear();
  transientFailures.clear();
  maxConcurrentLoads = 0;
  service = createModelService({ registry, modelName: 'sentiment', loadRuntime: loadFake, logger: silent, disposeGraceMs: 0, reconcileIntervalMs: 0, loadRetry: FAST_RETRY });
});
afterEach(async () => {
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

async function errorCode(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (err: unknown) => (err instanceof DriftlineError ? err.code : `untyped: ${String(err)}`),
  );
}

describe('loading', () => {
  it('is not ready before a load and refuses a missing production version', async () => {
    expect(service.isReady()).toBe(false);
    expect(() => service.current()).toThrow(expect.objectContaining({ code: 'MODEL_NOT_READY' }));
    await registerFake();
    expect(await errorCode(service.loadProduction())).toBe('MODEL_NOT_FOUND');
  });

  it('loads the production version and scores with it', async () => {
    await registerFake();
    await registerFake();
    await registry.promote('sentiment', 2, { actor: 't' });
    const swaps: Array<[number, number | undefined]> = [];
    service.onSwap((next, previous) => swaps.push([next.version, previous?.version]));
    expect((await service.loadProduction()).version).toBe(2);
    expect(service.isReady()).toBe(true);
    expect((await service.current().score([review]))[0]!.confidence).toBeCloseTo(0.2);
    expect(swaps).toEqual([[2, undefined]]);
    expect(service.stats()).toMatchObject({ version: 2, swaps: 1, swapFailures: 0 });
  });
});

describe('swapping', () => {
  beforeEach(async () => {
    await registerFake();
    await registerFake();
    await registry.promote('sentiment', 1, { actor: 't' });
    await service.loadProduction();
  });

  it('swaps atomically and disposes the old runtime once nothing uses it', async () => {
    const swaps: Array<[number, number | undefined]> = [];
    service.onSwap((next, previous) => swaps.push([next.version, previous?.version]));
    const next = await service.swapTo(2);
    expect(next.version).toBe(2);
    expect(service.current().version).toBe(2);
    expect(swaps).toEqual([[2, 1]]);
    expect(runtimeOf(1).disposed).toBe(true);
    expect(runtimeOf(2).disposed).toBe(false);
  });

  it('keeps the old runtime alive until its in-flight score() finishes', async () => {
    const old = service.current();
    runtimeOf(1).scoreGate = gate();
    const inFlight = old.score([review]);
    await service.swapTo(2);
    expect(service.current().version).toBe(2);
    expect(runtimeOf(1).disposed).toBe(false);
    expect(service.stats().retiredLoaded).toBe(1);
    runtimeOf(1).scoreGate!.open();
    const predictions = await inFlight;
    expect(predictions[0]!.confidence).toBeCloseTo(0.1); // scored by v1, not cut off
    expect(runtimeOf(1).disposed).toBe(true);
    expect(service.stats().retiredLoaded).toBe(0);
    // A stale handle used after disposal gets a retriable error, not a crash inside the model.
    expect(await errorCode(old.score([review]))).toBe('MODEL_NOT_READY');
  });

  it('refuses a version that fails to load; the old one keeps serving', async () => {
    const broken = await registerFake({ failLoad: true });
    const failures: Array<[string, number]> = [];
    service.onSwapFailed((err, version) => failures.push([err.code, version]));
    expect(await errorCode(service.swapTo(broken))).toBe('MODEL_LOAD_FAILED');
    expect(service.current().version).toBe(1);
    expect((await service.current().score([review]))[0]!.confidence).toBeCloseTo(0.1);
    expect(failures).toEqual([['MODEL_LOAD_FAILED', broken]]);
    expect(service.stats()).toMatchObject({ version: 1, swaps: 1, swapFailures: 1 });
  });

  it('refuses a version that fails its check and disposes it', async () => {
    const broken = await registerFake({ failCheck: true });
    expect(await errorCode(service.swapTo(broken))).toBe('MODEL_CHECK_FAILED');
    expect(runtimeOf(broken).disposed).toBe(true);
    expect(service.current().version).toBe(1);
    expect(runtimeOf(1).disposed).toBe(false);
  });

  it('refuses an unknown version with MODEL_NOT_FOUND', async () => {
    expect(await errorCode(service.swapTo(42))).toBe('MODEL_NOT_FOUND');
    expect(service.current().version).toBe(1);
  });

  it('serializes swaps: one load at a time, and the newest request wins', async () => {
    const v3 = await registerFake();
    const v4 = await registerFake();
    loadGates.set(2, gate());
    const first = service.swapTo(2);
    while (!loadCalls.includes(2)) await new Promise((r) => setImmediate(r));
    const second = service.swapTo(v3);
    const third = service.swapTo(v4);
    loadGates.get(2)!.open();
    const settled = await Promise.all([first, second, third]);
    expect(settled.map((r) => r.version)).toEqual([v4, v4, v4]);
    expect(loadCalls).toEqual([1, 2, v4]); // v3 was overruled before it started loading
    expect(maxConcurrentLoads).toBe(1);
    expect(runtimeOf(2).disposed).toBe(true); // loaded but overruled: never served
    expect(service.current().version).toBe(v4);
    expect(service.stats().swaps).toBe(2);
  });

  it('answers a swap to the serving version without reloading', async () => {
    expect((await service.swapTo(1)).version).toBe(1);
    expect(loadCalls).toEqual([1]);
  });
});

describe('load failures', () => {
  beforeEach(async () => {
    await registerFake();
    await registry.promote('sentiment', 1, { actor: 't' });
  });

  it('tries a load that failed once again with back-off, and swaps the version in', async () => {
    transientFailures.set(1, 2);
    expect((await service.loadProduction()).version).toBe(1);
    expect(loadCalls).toEqual([1, 1, 1]);
    expect(service.stats()).toMatchObject({ version: 1, loadRetries: 2, swapFailures: 0 });
    expect(service.liveness()).toEqual({ alive: true, error: null });
  });

  it('gives up at once on a failed model check', async () => {
    await service.loadProduction();
    const broken = await registerFake({ failCheck: true });
    expect(await errorCode(service.swapTo(broken))).toBe('MODEL_CHECK_FAILED');
    expect(loadCalls.filter((v) => v === broken)).toHaveLength(1);
    expect(service.liveness().alive).toBe(true); // the old version serves
  });

  it('is not alive when nothing serves and the load gave up; alive again after a swap', async () => {
    transientFailures.set(1, FAST_RETRY.retries + 1);
    expect(await errorCode(service.loadProduction())).toBe('MODEL_LOAD_FAILED');
    expect(loadCalls).toEqual([1, 1, 1, 1]);
    expect(service.liveness()).toMatchObject({ alive: false, error: { code: 'MODEL_LOAD_FAILED' } });
    expect((await service.loadProduction()).version).toBe(1);
    expect(service.liveness()).toEqual({ alive: true, error: null });
  });

  it('serves the previous production version when the production version cannot be loaded at start-up', async () => {
    const broken = await registerFake({ failCheck: true });
    await registry.promote('sentiment', broken, { actor: 't', force: true });
    const refused: Array<[string, number]> = [];
    service.onSwapFailed((err, version) => refused.push([err.code, version]));
    expect((await service.loadProduction()).version).toBe(1);
    expect(refused).toEqual([['MODEL_CHECK_FAILED', broken]]);
    expect(service.stats()).toMatchObject({ version: 1, swapFailures: 1 });
    expect(service.liveness()).toEqual({ alive: true, error: null });
    expect(await service.reconcile()).toBeUndefined(); // a failed check is not tried again
  });

  it('lets a newer swap overrule one that is backing off', async () => {
    const slow = createModelService({ registry, modelName: 'sentiment', loadRuntime: loadFake, logger: silent, disposeGraceMs: 0, reconcileIntervalMs: 0, loadRetry: { retries: 5, initialDelayMs: 600_000, maxDelayMs: 600_000 } });
    try {
      const good = await registerFake();
      transientFailures.set(1, 10);
      const first = slow.swapTo(1);
      while (loadCalls.length === 0) await new Promise((r) => setImmediate(r));
      // Without the overrule this would wait out minutes of back-off (and the test would time out).
      expect((await slow.swapTo(good)).version).toBe(good);
      expect((await first).version).toBe(good); // overruled: settles with the newest outcome
      expect(loadCalls.filter((v) => v === 1).length).toBeLessThanOrEqual(2);
    } finally {
      await slow.close();
    }
  });
});

describe('grace period', () => {
  it('keeps an idle old runtime loaded until the grace period has passed', async () => {
    await registerFake();
    await registerFake();
    await registry.promote('sentiment', 1, { actor: 't' });
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const graceful = createModelService({ registry, modelName: 'sentiment', loadRuntime: loadFake, logger: silent, disposeGraceMs: 5_000, reconcileIntervalMs: 0 });
    try {
      await graceful.loadProduction();
      await graceful.swapTo(2);
      expect(runtimeOf(1).disposed).toBe(false);
      expect(graceful.stats().retiredLoaded).toBe(1);
      vi.advanceTimersByTime(5_000);
      expect(runtimeOf(1).disposed).toBe(true);
      expect(graceful.stats().retiredLoaded).toBe(0);
    } finally {
      vi.useRealTimers();
      await graceful.close();
    }
  });
});

describe('promotion events and reconcile', () => {
  const event = (overrides: Partial<ModelPromotion>): ModelPromotion => ({
    event_id: 'e',
    model_name: 'sentiment',
    version: 2,
    action: 'promote',
    from_stage: 'staging',
    to_stage: 'production',
    previous_production_version: 1,
    reason: null,
    actor: 't',
    time_ms: 0,
    ...overrides,
  });

  beforeEach(async () => {
    await registerFake();
    await registerFake();
    await registry.promote('sentiment', 1, { actor: 't' });
    await service.loadProduction();
  });

  it('swaps on production events of its model only', async () => {
    expect(await service.handlePromotion(event({ model_name: 'other' }))).toBeUndefined();
    expect(await service.handlePromotion(event({ action: 'register', to_stage: 'staging' }))).toBeUndefined();
    expect(service.current().version).toBe(1);
    expect((await service.handlePromotion(event({})))!.version).toBe(2);
    expect((await service.handlePromotion(event({ action: 'rollback', version: 1, previous_production_version: 2 })))!.version).toBe(1);
  });

  it('reconciles with the registry and does not retry a version that failed its check', async () => {
    expect(await service.reconcile()).toBeUndefined();
    await registry.promote('sentiment', 2, { actor: 't' });
    expect((await service.reconcile())!.version).toBe(2);
    const broken = await registerFake({ failCheck: true });
    await registry.promote('sentiment', broken, { actor: 't', force: true });
    expect(await errorCode(service.reconcile())).toBe('MODEL_CHECK_FAILED');
    expect(await service.reconcile()).toBeUndefined();
    expect(loadCalls.filter((v) => v === broken)).toHaveLength(1);
    expect(service.current().version).toBe(2);
  });

  it('tries a version whose load kept failing again on the next reconcile (it may have been a blip)', async () => {
    const flaky = await registerFake();
    await registry.promote('sentiment', flaky, { actor: 't', force: true });
    transientFailures.set(flaky, FAST_RETRY.retries + 1); // more than one swap's retries
    expect(await errorCode(service.reconcile())).toBe('MODEL_LOAD_FAILED');
    expect(service.current().version).toBe(1);
    expect((await service.reconcile())!.version).toBe(flaky);
  });
});

describe('close', () => {
  it('waits for in-flight calls, disposes everything and refuses further use', async () => {
    await registerFake();
    await registry.promote('sentiment', 1, { actor: 't' });
    await service.loadProduction();
    runtimeOf(1).scoreGate = gate();
    const inFlight = service.current().score([review]);
    let closed = false;
    const closing = service.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    runtimeOf(1).scoreGate!.open();
    await Promise.all([inFlight, closing]);
    expect(runtimeOf(1).disposed).toBe(true);
    expect(() => service.current()).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect(await errorCode(service.swapTo(1))).toBe('SHUTTING_DOWN');
  });
});

describe('DRIFTLINE_MODEL_THREADS', () => {
  it("is the component's default when unset, and validated when set", () => {
    expect(modelThreadsOr(1, {})).toBe(1);
    expect(modelThreadsOr(1, { DRIFTLINE_MODEL_THREADS: '' })).toBe(1);
    expect(modelThreadsOr(1, { DRIFTLINE_MODEL_THREADS: '0' })).toBe(0);
    expect(modelThreadsOr(0, { DRIFTLINE_MODEL_THREADS: '2' })).toBe(2);
    expect(() => modelThreadsOr(1, { DRIFTLINE_MODEL_THREADS: '-1' })).toThrow(/DRIFTLINE_MODEL_THREADS/);
  });
});
