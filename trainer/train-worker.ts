/**
 * Worker-thread entry of an API training job (started by trainer/job-runner.ts). Training is CPU-bound for
 * minutes; on its own thread it cannot stall the event loop that answers predictions. The worker
 * runs trainer/pipeline.ts exactly as `driftline train` does and registers the version in the shared
 * registry directory (the registry is safe for concurrent writers); the main thread publishes events.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toDriftlineError } from '../core/errors.js';
import { openRegistry } from '../core/model/registry/index.js';
import type { BaseModelRequest, ResolvedBase } from './base-model.js';
import type { LabeledReview } from './data.js';
import { runTrainingJob } from './pipeline.js';
import type { TrainParams } from './train.js';

export interface TrainWorkerInput {
  registryRoot: string;
  modelName: string;
  files?: string[];
  rows?: LabeledReview[];
  params: Partial<TrainParams>;
  base?: BaseModelRequest;
  actor: string;
}

export type TrainWorkerMessage =
  | { type: 'phase'; phase: string; fraction: number }
  | { type: 'log'; line: string }
  | { type: 'done'; version: number; stage: string; metrics: Record<string, unknown>; base: ResolvedBase; runId: string | null; runError: string | null }
  | { type: 'failed'; code: string; message: string };

async function run(input: TrainWorkerInput): Promise<TrainWorkerMessage> {
  const report = await runTrainingJob({
    registry: openRegistry(input.registryRoot),
    name: input.modelName,
    ...(input.files ? { files: input.files } : {}),
    ...(input.rows ? { rows: input.rows } : {}),
    params: input.params,
    ...(input.base ? { base: input.base } : {}),
    // Promotion (and its event) is the main thread's: it holds the Kafka publisher.
    promote: false,
    // The TF-IDF comparison is a report for humans; it would only lengthen API jobs.
    compareBaseline: false,
    actor: input.actor,
    progress: (line) => parentPort?.postMessage({ type: 'log', line } satisfies TrainWorkerMessage),
    onPhase: (phase, fraction) => parentPort?.postMessage({ type: 'phase', phase, fraction } satisfies TrainWorkerMessage),
  });
  return {
    type: 'done',
    version: report.version,
    stage: report.stage,
    base: report.base,
    runId: report.runId,
    runError: report.runError,
    metrics: {
      accuracy: report.heldOut.sentiment.accuracy,
      macroF1: report.heldOut.sentiment.macroF1,
      heldOutRows: report.data.heldOutRows,
      trainRows: report.data.trainRows,
      outlierAuroc: report.outliers.auroc,
    },
  };
}

if (parentPort) {
  const port = parentPort;
  run(workerData as TrainWorkerInput).then(
    (message) => port.postMessage(message),
    (err: unknown) => {
      const error = toDriftlineError(err, 'TRAINING_FAILED');
      port.postMessage({ type: 'failed', code: error.code, message: error.message } satisfies TrainWorkerMessage);
    },
  );
}
