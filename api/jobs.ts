/**
 * In-process training jobs behind POST /v1/train and GET /v1/jobs/{id}.
 *
 * Jobs run one at a time, first come first served: training is CPU-bound and this process also
 * answers predictions, so two trainings at once would only both be slower. Progress is whatever the
 * executor reports; finished jobs are remembered (up to a limit) so clients can poll for the result.
 * Jobs are not persisted: a restart forgets them (a registered version is in the registry regardless).
 */
import { randomUUID } from 'node:crypto';
import { DriftlineError, toDriftlineError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BaseVersion, JobProgress, TrainExecutor, TrainOutcome, TrainRequest } from '../trainer/index.js';

export type { JobProgress, TrainExecutor, TrainOutcome, TrainRequest };

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobView {
  id: string;
  status: JobStatus;
  progress: JobProgress;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: TrainOutcome | null;
  error: { code: ErrorCode; message: string } | null;
  request: {
    dataset_path: string | null;
    reviews: number | null;
    base_version: BaseVersion | null;
    base_model: string | null;
    rebuild_vocabulary: boolean;
    params: Record<string, unknown> | null;
    promote: boolean;
  };
}

export interface JobRunner {
  submit(request: TrainRequest): JobView;
  /** Throws NOT_FOUND for an unknown (or forgotten) id. */
  get(id: string): JobView;
  list(): JobView[];
  /** Cancels queued jobs, aborts the running one and waits (up to `waitMs`) for it to stop. */
  close(waitMs?: number): Promise<void>;
}

export interface JobRunnerOptions {
  execute: TrainExecutor;
  /** Finished jobs remembered. */
  kept: number;
  logger?: Logger;
  onFinished?: (job: JobView) => void;
}

interface Job {
  view: JobView;
  request: TrainRequest;
}

function describeRequest(request: TrainRequest): JobView['request'] {
  return {
    dataset_path: request.datasetPath ?? null,
    reviews: request.reviews?.length ?? null,
    base_version: request.baseVersion ?? null,
    base_model: request.baseModel ?? null,
    rebuild_vocabulary: request.rebuildVocabulary === true,
    params: request.params ?? null,
    promote: request.promote === true,
  };
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const jobs = new Map<string, Job>();
  const queue: Job[] = [];
  let running: { job: Job; abort: AbortController; done: Promise<void> } | undefined;
  let closed = false;

  const snapshot = (job: Job): JobView => ({ ...job.view, progress: { ...job.view.progress } });

  function forgetOldFinished(): void {
    const finished = [...jobs.values()].filter((job) => job.view.finished_at !== null);
    for (const job of finished.slice(0, Math.max(0, finished.length - options.kept))) jobs.delete(job.view.id);
  }

  function finish(job: Job, status: JobStatus, fields: Partial<JobView>): void {
    Object.assign(job.view, fields, { status, finished_at: new Date().toISOString() });
    options.onFinished?.(snapshot(job));
    forgetOldFinished();
  }

  async function runOne(job: Job, abort: AbortController): Promise<void> {
    job.view.status = 'running';
    job.view.started_at = new Date().toISOString();
    const report = (progress: JobProgress): void => {
      // Progress only moves forward; executors report phases with their own fractions.
      job.view.progress = { ...progress, fraction: Math.min(1, Math.max(job.view.progress.fraction, progress.fraction)) };
    };
    try {
      // A result that arrives despite an abort is a registered version: reported as such.
      const result = await options.execute(job.request, report, abort.signal);
      job.view.progress = { phase: 'done', fraction: 1 };
      finish(job, 'succeeded', { result });
      options.logger?.info({ job: job.view.id, version: result.version }, 'training job succeeded');
    } catch (err) {
      const error = toDriftlineError(err, 'TRAINING_FAILED');
      finish(job, abort.signal.aborted ? 'cancelled' : 'failed', { error: { code: error.code, message: error.message } });
      options.logger?.warn({ job: job.view.id, code: error.code, message: error.message }, 'training job failed');
    }
  }

  function pump(): void {
    if (running || closed) return;
    const job = queue.shift();
    if (!job) return;
    const abort = new AbortController();
    const done = runOne(job, abort).finally(() => {
      running = undefined;
      // Next job on a fresh tick, so request handlers get a turn between trainings.
      setImmediate(pump);
    });
    running = { job, abort, done };
  }

  return {
    submit(request) {
      if (closed) throw new DriftlineError('SHUTTING_DOWN', 'The API is shutting down; no new jobs are accepted.');
      const job: Job = {
        request,
        view: {
          id: randomUUID(),
          status: 'queued',
          progress: { phase: 'queued', fraction: 0 },
          created_at: new Date().toISOString(),
          started_at: null,
          finished_at: null,
          result: null,
          error: null,
          request: describeRequest(request),
        },
      };
      jobs.set(job.view.id, job);
      queue.push(job);
      const view = snapshot(job);
      // Started after the answer is built, so the 202 always says "queued".
      setImmediate(pump);
      return view;
    },
    get(id) {
      const job = jobs.get(id);
      if (!job) throw new DriftlineError('NOT_FOUND', `No job ${id} (unknown, or forgotten after a restart)`, { field: 'id' });
      return snapshot(job);
    },
    list() {
      return [...jobs.values()].map(snapshot);
    },
    async close(waitMs = 10_000) {
      closed = true;
      for (const job of queue.splice(0)) finish(job, 'cancelled', { error: { code: 'SHUTTING_DOWN', message: 'The API shut down before the job started.' } });
      if (!running) return;
      running.abort.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([running.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    },
  };
}
