/** The in-process job runner: one job at a time in order, progress, results, failures, forgetting, shutdown. */
import { describe, expect, it } from 'vitest';
import { createJobRunner, type JobProgress, type TrainOutcome, type TrainRequest } from '../../api/jobs.js';
import { DriftlineError } from '../../core/errors.js';

interface Gate {
  request: TrainRequest;
  report: (progress: JobProgress) => void;
  signal: AbortSignal;
  finish(outcome: TrainOutcome): void;
  fail(err: unknown): void;
}

/** An executor whose runs the test finishes by hand, so nothing depends on timing. */
function manualExecutor(): { execute: (request: TrainRequest, report: (p: JobProgress) => void, signal: AbortSignal) => Promise<TrainOutcome>; started: Gate[]; next(): Promise<Gate> } {
  const started: Gate[] = [];
  const waiters: Array<(gate: Gate) => void> = [];
  return {
    started,
    execute: (request, report, signal) =>
      new Promise<TrainOutcome>((resolve, reject) => {
        const gate: Gate = { request, report, signal, finish: resolve, fail: reject };
        started.push(gate);
        waiters.shift()?.(gate);
      }),
    next: () => new Promise<Gate>((resolve) => waiters.push(resolve)),
  };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

describe('job runner', () => {
  it('runs jobs one at a time, in order, with progress and the resulting version', async () => {
    const executor = manualExecutor();
    const runner = createJobRunner({ execute: executor.execute, kept: 10 });
    const firstStarted = executor.next();
    const a = runner.submit({ datasetPath: 'a.jsonl', actor: 't' });
    const b = runner.submit({ reviews: [{ review_id: 'x' }], baseVersion: 2, actor: 't' });
    expect(a.status).toBe('queued');
    expect(b.request).toEqual({ dataset_path: null, reviews: 1, base_version: 2, base_model: null, rebuild_vocabulary: false, params: null, promote: false });

    const first = await firstStarted;
    expect(first.request.datasetPath).toBe('a.jsonl');
    expect(runner.get(a.id).status).toBe('running');
    expect(runner.get(b.id).status).toBe('queued');
    first.report({ phase: 'training', fraction: 0.4, message: 'epoch 2/5' });
    first.report({ phase: 'training', fraction: 0.2 });
    expect(runner.get(a.id).progress.fraction).toBe(0.4);

    const secondStarted = executor.next();
    first.finish({ version: 7, stage: 'staging', metrics: { macroF1: 0.6 } });
    const second = await secondStarted;
    const done = runner.get(a.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { version: 7, stage: 'staging' }, progress: { phase: 'done', fraction: 1 }, error: null });
    expect(done.finished_at).not.toBeNull();
    expect(runner.get(b.id).status).toBe('running');

    second.fail(new Error('only 3 rows'));
    await until(() => runner.get(b.id).status !== 'running');
    expect(runner.get(b.id)).toMatchObject({ status: 'failed', error: { code: 'TRAINING_FAILED', message: 'only 3 rows' }, result: null });
    await runner.close();
  });

  it('keeps typed errors and forgets the oldest finished jobs beyond the limit', async () => {
    const executor = manualExecutor();
    const runner = createJobRunner({ execute: executor.execute, kept: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = executor.next();
      ids.push(runner.submit({ datasetPath: `${i}.jsonl`, actor: 't' }).id);
      const gate = await started;
      gate.fail(new DriftlineError('MODEL_NOT_FOUND', `no base version ${i}`));
      await until(() => runner.get(ids[i]!).status === 'failed');
    }
    expect(() => runner.get(ids[0]!)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(runner.get(ids[2]!).error).toEqual({ code: 'MODEL_NOT_FOUND', message: 'no base version 2' });
    expect(runner.list().map((job) => job.id)).toEqual(ids.slice(1));
    await runner.close();
  });

  it('on close: cancels queued jobs, aborts the running one and refuses new ones', async () => {
    const executor = manualExecutor();
    const runner = createJobRunner({ execute: executor.execute, kept: 10 });
    const started = executor.next();
    const running = runner.submit({ datasetPath: 'a', actor: 't' });
    const queued = runner.submit({ datasetPath: 'b', actor: 't' });
    const gate = await started;
    gate.signal.addEventListener('abort', () => gate.fail(new Error('aborted')));
    await runner.close(5_000);
    expect(runner.get(running.id).status).toBe('cancelled');
    expect(runner.get(queued.id)).toMatchObject({ status: 'cancelled', error: { code: 'SHUTTING_DOWN' } });
    expect(() => runner.submit({ datasetPath: 'c', actor: 't' })).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect(executor.started).toHaveLength(1);
  });
});
