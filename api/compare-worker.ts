/**
 * Worker-thread entry of POST /v1/drift/compare (started by api/compare-runner.ts). Featurizing two
 * datasets of up to DRIFTLINE_API_MAX_COMPARE_ROWS reviews takes a CPU for a second or more; on the
 * event loop it would hold up every prediction in the process meanwhile. One worker serves the
 * comparisons one at a time, so a burst of them costs one core, never the API's event loop.
 */
import { parentPort } from 'node:worker_threads';
import type { DriftThresholds } from '../core/drift/config.js';
import { toDriftlineError } from '../core/errors.js';
import { compareInline, type CompareBody } from './drift-compare.js';

export interface CompareWorkerRequest {
  id: number;
  body: CompareBody;
  thresholds: DriftThresholds;
}

export type CompareWorkerReply = { id: number; report: Record<string, unknown> } | { id: number; failure: { code: string; message: string } };

if (parentPort) {
  const port = parentPort;
  port.on('message', ({ id, body, thresholds }: CompareWorkerRequest) => {
    try {
      port.postMessage({ id, report: compareInline(body, thresholds) } satisfies CompareWorkerReply);
    } catch (err) {
      const error = toDriftlineError(err);
      port.postMessage({ id, failure: { code: error.code, message: error.message } } satisfies CompareWorkerReply);
    }
  });
}
