/**
 * Runs dataset comparisons (POST /v1/drift/compare) on one worker thread (api/compare-worker.ts),
 * in arrival order. At most `maxQueued` comparisons are running or waiting; one more is refused with
 * RATE_LIMITED at once rather than queued behind minutes of work while holding its body in memory.
 * The worker starts with the first comparison and is replaced after a crash.
 */
import type { Worker } from 'node:worker_threads';
import type { DriftThresholds } from '../core/drift/config.js';
import { DriftlineError, ERROR_CODES, type ErrorCode } from '../core/errors.js';
import type { CompareWorkerReply, CompareWorkerRequest } from './compare-worker.js';
import type { CompareBody } from './drift-compare.js';
import { startWorkerEntry } from '../core/worker-thread.js';

export interface CompareRunner {
  run(body: CompareBody, thresholds: DriftThresholds): Promise<Record<string, unknown>>;
  /** Comparisons running or waiting. */
  pending(): number;
  /** Stops the worker; comparisons still pending fail with SHUTTING_DOWN. */
  close(): Promise<void>;
}

interface Pending {
  resolve(report: Record<string, unknown>): void;
  reject(err: DriftlineError): void;
}

/** The part of a logger (pino, Fastify's) the runner uses. */
interface ErrorLog {
  error(details: object, message: string): void;
}

export function createCompareRunner(options: { maxQueued: number; logger: ErrorLog }): CompareRunner {
  const pending = new Map<number, Pending>();
  let worker: Worker | undefined;
  let nextId = 0;
  let closed = false;

  const failAll = (err: DriftlineError): void => {
    for (const job of pending.values()) job.reject(err);
    pending.clear();
  };

  const onReply = (reply: CompareWorkerReply): void => {
    const job = pending.get(reply.id);
    if (!job) return;
    pending.delete(reply.id);
    if ('report' in reply) return job.resolve(reply.report);
    const code = (reply.failure.code in ERROR_CODES ? reply.failure.code : 'INTERNAL') as ErrorCode;
    job.reject(new DriftlineError(code, reply.failure.message));
  };

  const ensureWorker = (): Worker => {
    if (worker) return worker;
    const started = startWorkerEntry(import.meta.url, 'compare-worker');
    started.on('message', onReply);
    started.on('error', (err) => options.logger.error({ err }, 'the comparison worker failed'));
    started.on('exit', (code) => {
      if (worker === started) worker = undefined;
      if (!closed) failAll(new DriftlineError('INTERNAL', `the comparison worker exited (code ${code})`));
    });
    worker = started;
    return started;
  };

  return {
    run(body, thresholds) {
      if (closed) return Promise.reject(new DriftlineError('SHUTTING_DOWN', 'The API is shutting down; retry on another instance.'));
      if (pending.size >= options.maxQueued) {
        return Promise.reject(
          new DriftlineError('RATE_LIMITED', `${pending.size} dataset comparisons are already running or waiting (DRIFTLINE_API_COMPARE_QUEUE); retry later.`),
        );
      }
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ensureWorker().postMessage({ id, body, thresholds } satisfies CompareWorkerRequest);
      });
    },
    pending: () => pending.size,
    async close() {
      closed = true;
      failAll(new DriftlineError('SHUTTING_DOWN', 'The dataset comparison was stopped because the API shut down.'));
      const stopping = worker;
      worker = undefined;
      await stopping?.terminate();
    },
  };
}
