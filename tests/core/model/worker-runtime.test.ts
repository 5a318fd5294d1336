/**
 * The worker-thread runtime (core/model/worker-runtime.ts): the shared ModelRuntime conformance suite on a
 * pool of 2 workers, then what only a pool has: errors crossing the thread boundary intact, a killed
 * worker, disposal that waits for calls in flight.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../../core/avro.js';
import { DriftlineError, isRetriable } from '../../../core/errors.js';
import { packReviewBatch, processReviews } from '../../../core/model/review-batch.js';
import { writeModelArtifacts } from '../../../core/model/artifacts.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import type { ModelRuntime } from '../../../core/model/types.js';
import { loadWorkerRuntime, type WorkerPoolRuntime } from '../../../core/model/worker-runtime.js';
import type { TrainResult } from '../../../trainer/train.js';
import { trainTiny } from '../../trainer/fixtures.js';
import { corruptCopy, describeRuntimeConformance, expectCode, extraCategory, probe } from './runtime-conformance.js';

const silent = pino({ level: 'silent' });
const meta = { name: 'tiny', version: 1 };
let trained: TrainResult;
let dir: string;
let mainThread: ModelRuntime;

beforeAll(async () => {
  trained = await trainTiny();
  dir = await mkdtemp(join(tmpdir(), 'driftline-worker-model-'));
  await writeModelArtifacts(trained.bundle, dir);
  mainThread = await loadModelRuntime(dir, meta);
}, 120_000);

afterAll(async () => {
  mainThread?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describeRuntimeConformance('worker pool of 2 threads', (versionDir, versionMeta) => loadWorkerRuntime(versionDir, versionMeta, { threads: 2, logger: silent }), () => ({ trained, dir }));

/** The error a promise rejects with, as the API and dead letters would show it. */
async function rejection(promise: Promise<unknown>): Promise<ReturnType<DriftlineError['toJSON']>> {
  const err = await promise.then(
    () => expect.unreachable('expected a rejection'),
    (reason: unknown) => reason,
  );
  expect(err).toBeInstanceOf(DriftlineError);
  return (err as DriftlineError).toJSON();
}

describe('errors cross the thread boundary intact', () => {
  it('a load error is the main-thread loader error: same code, message, retriable flag', async () => {
    const missing = join(dir, 'missing');
    const expected = await rejection(loadModelRuntime(missing, meta));
    expect(await rejection(loadWorkerRuntime(missing, meta, { threads: 1, logger: silent }))).toEqual(expected);
    expect(expected.code).toBe('MODEL_LOAD_FAILED');
  });

  it('a smoke-check error is the main-thread error', async () => {
    const copy = await corruptCopy(trained, extraCategory);
    const onMain = await loadModelRuntime(copy, meta);
    const onWorker = await loadWorkerRuntime(copy, meta, { threads: 1, logger: silent });
    expect(await rejection(onWorker.check())).toEqual(await rejection(onMain.check()));
    onMain.dispose();
    onWorker.dispose();
    await rm(copy, { recursive: true, force: true });
  });
});

describe('a worker that dies', () => {
  let pool: WorkerPoolRuntime;
  beforeAll(async () => {
    pool = await loadWorkerRuntime(dir, meta, { threads: 1, logger: silent });
  }, 120_000);
  afterAll(() => pool?.dispose());

  it('fails its call in flight with a retriable MODEL_NOT_READY, and is replaced by a worker that scores', async () => {
    const [victim] = pool.workers;
    const call = pool.score(probe);
    await victim!.terminate();
    const err = await expectCode(call, 'MODEL_NOT_READY');
    expect(isRetriable(err)).toBe(true); // the scorer redelivers the batch instead of dead-lettering it

    expect(pool.workers).toHaveLength(1);
    expect(pool.workers[0]).not.toBe(victim);
    expect(await pool.score(probe.slice(0, 10))).toEqual(await mainThread.score(probe.slice(0, 10)));
    await expect(pool.check()).resolves.toBeUndefined();
  });
});

describe('dispose', () => {
  it('lets the calls in flight finish, then the workers exit', async () => {
    const pool = await loadWorkerRuntime(dir, meta, { threads: 2, logger: silent });
    const workers = [...pool.workers];
    const exited = workers.map((worker) => once(worker, 'exit'));
    const inFlight = [pool.score(probe.slice(0, 60)), pool.score(probe.slice(60))] as const;
    pool.dispose();
    await expectCode(pool.score(probe.slice(0, 1)), 'MODEL_SCORING_FAILED');
    const [first, second] = await Promise.all(inFlight);
    expect([...first, ...second].map((p) => p.review_id)).toEqual(probe.map((r) => r.review_id));
    expect((await Promise.all(exited)).map(([code]) => code)).toEqual([0, 0]);
  });
});

describe('whole batches on the worker (processReviews)', () => {
  let pool: WorkerPoolRuntime;
  beforeAll(async () => {
    pool = await loadWorkerRuntime(dir, meta, { threads: 1, logger: silent });
  }, 120_000);
  afterAll(() => pool?.dispose());

  const nowMs = 1_800_000_000_000;
  /** The probe as Kafka values (one id twice, one value not Avro, one null), offsets with a gap. */
  function batch(): Array<{ value: Buffer | null; offset: string }> {
    const codec = codecFor('ReviewEvent');
    const event = (i: number, id: string) => ({ ...probe[i]!, review_id: id, title: probe[i]!.title ?? null, product_id: probe[i]!.product_id ?? null, category: probe[i]!.category ?? null, rating: probe[i]!.rating ?? null, event_time_ms: null, helpful_votes: null, verified: null, source: 'test', ingest_time_ms: nowMs - 1_000 });
    const values: Array<Buffer | null> = probe.slice(0, 40).map((_, i) => codec.encode(event(i, `r${i}`)));
    values.push(codec.encode(event(3, 'r3')), Buffer.from('not avro'), null);
    return values.map((value, i) => ({ value, offset: String(100 + i * 2) }));
  }
  const source = { topic: 'reviews', partition: 1 };

  it('gives byte for byte what the calling thread computes, dead letters included', async () => {
    const onWorker = await processReviews(pool, packReviewBatch(batch(), source, nowMs));
    const onMain = await processReviews(mainThread, packReviewBatch(batch(), source, nowMs));
    expect(onWorker).toEqual(onMain);
    expect(onWorker.scoredIds).toHaveLength(41);
    expect(onWorker.deadCodes).toEqual(['AVRO_BAD_HEADER', 'AVRO_BAD_HEADER']);
    const first = codecFor('ScoredReview').decode(Buffer.from(onWorker.scoredValues.buffer, onWorker.scoredValues.byteOffset, onWorker.scoredLengths[0]!));
    expect(first).toMatchObject({ review_id: 'r0', input_partition: 1, input_offset: 100, scored_time_ms: nowMs, model_version: 1 });
  });

  it('with a dedupe, asks once for the distinct ids and leaves out what it answers', async () => {
    const asked: string[][] = [];
    const scoredBefore = async (ids: readonly string[]): Promise<ReadonlySet<string>> => {
      asked.push([...ids]);
      return new Set(['r1', 'r2']);
    };
    const onWorker = await processReviews(pool, packReviewBatch(batch(), source, nowMs), { scoredBefore });
    const onMain = await processReviews(mainThread, packReviewBatch(batch(), source, nowMs), { scoredBefore });
    expect(onWorker).toEqual(onMain);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`));
    expect(onWorker.scoredIds).toEqual(asked[0]!.filter((id) => id !== 'r1' && id !== 'r2'));
    expect(onWorker.duplicates).toBe(3);
  });

  it('a dedupe that fails scores everything rather than failing the batch', async () => {
    const result = await processReviews(pool, packReviewBatch(batch(), source, nowMs), { scoredBefore: () => Promise.reject(new Error('redis down')) });
    expect(result.scoredIds).toHaveLength(40);
  });
});
