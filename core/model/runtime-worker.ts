/**
 * Entry of one model worker thread (started by core/model/worker-runtime.ts): loads one model version
 * with the main-thread loader and answers score/check/dispose requests until told to dispose.
 * Requests are answered as they come; scoring is synchronous, so one runs at a time.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { toDriftlineError, type ErrorCode } from '../errors.js';
import { decodeReviewBatch, resultTransferList, scoreReviewBatch, type DecodedReviewBatch, type ReviewBatchResult } from './review-batch.js';
import { loadModelRuntime } from './runtime.js';
import type { ModelRuntime } from './types.js';
import { serializeError, type RuntimeWorkerData, type WorkerReply, type WorkerRequest } from './worker-runtime.js';

if (!parentPort) throw new Error('core/model/runtime-worker runs as a worker thread only');
const port: MessagePort = parentPort;
const { versionDir, meta } = workerData as RuntimeWorkerData;
const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
/** Batches decoded and waiting for the main thread's dedupe answer ('batch-skip'), by call id. */
const awaitingSkip = new Map<number, DecodedReviewBatch>();

function done(id: number, result: ReviewBatchResult): void {
  reply({ type: 'batch-done', id, result }, resultTransferList(result));
}
const failure = (err: unknown, fallback: ErrorCode) => serializeError(toDriftlineError(err, fallback));

// Listening before the model is loaded: requests that arrive meanwhile wait for it.
const loading: Promise<ModelRuntime | undefined> = loadModelRuntime(versionDir, meta).then(
  (runtime) => {
    reply({ type: 'loaded', backend: runtime.backend });
    return runtime;
  },
  (err: unknown) => {
    reply({ type: 'load-failed', error: failure(err, 'MODEL_LOAD_FAILED') });
    return undefined;
  },
);

async function answer(request: WorkerRequest): Promise<void> {
  const runtime = await loading;
  if (!runtime) return; // load-failed was sent; the pool terminates this worker
  switch (request.type) {
    case 'score':
      try {
        reply({ type: 'scored', id: request.id, predictions: await runtime.score(request.reviews, request.options) });
      } catch (err) {
        reply({ type: 'failed', id: request.id, error: failure(err, 'MODEL_SCORING_FAILED') });
      }
      return;
    case 'batch':
      try {
        const decoded = decodeReviewBatch(request.request);
        if (request.dedupe) {
          awaitingSkip.set(request.id, decoded);
          reply({ type: 'batch-ids', id: request.id, ids: decoded.ids });
        } else {
          done(request.id, await scoreReviewBatch(decoded, runtime, null));
        }
      } catch (err) {
        reply({ type: 'failed', id: request.id, error: failure(err, 'MODEL_SCORING_FAILED') });
      }
      return;
    case 'batch-skip': {
      const decoded = awaitingSkip.get(request.id);
      if (!decoded) return;
      awaitingSkip.delete(request.id);
      try {
        done(request.id, await scoreReviewBatch(decoded, runtime, new Set(request.skip)));
      } catch (err) {
        reply({ type: 'failed', id: request.id, error: failure(err, 'MODEL_SCORING_FAILED') });
      }
      return;
    }
    case 'check':
      try {
        await runtime.check();
        reply({ type: 'checked', id: request.id });
      } catch (err) {
        reply({ type: 'failed', id: request.id, error: failure(err, 'MODEL_CHECK_FAILED') });
      }
      return;
    case 'dispose':
      runtime.dispose();
      process.exit(0); // in a worker this ends the thread only, whatever handles the model code left open
      return;
  }
}

port.on('message', (request: WorkerRequest) => void answer(request));
