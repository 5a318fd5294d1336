/**
 * Adaptive micro-batching of model calls. Scoring one review costs about as much fixed overhead
 * (tensor set-up, kernel dispatch) as scoring dozens, so requests that arrive together are scored in
 * one runtime call: every request queued during one turn of the event loop is flushed together on the
 * next `setImmediate`. An idle server adds no wait (the flush runs right after the current I/O);
 * a busy one batches exactly as much as is already waiting, which is what keeps tail latency flat
 * at high request rates.
 *
 * All requests of one flush use the same runtime (taken from the ModelService at flush time, so a
 * hot swap never splits a request across versions). If a combined call fails, each request is
 * scored on its own, so one request's bad input cannot fail the others.
 */
import type { ModelRuntime, ModelService, Prediction, ScoreOptions } from '../core/model/types.js';
import type { ReviewInput } from '../core/review.js';

export interface CoalescedResult {
  runtime: ModelRuntime;
  predictions: Prediction[];
}

export interface ScoreCoalescer {
  score(inputs: ReviewInput[], sentences: boolean): Promise<CoalescedResult>;
}

interface Pending {
  inputs: ReviewInput[];
  sentences: boolean;
  resolve(result: CoalescedResult): void;
  reject(err: unknown): void;
}

export interface CoalescerOptions {
  /** Most reviews in one runtime call; a request larger than this is scored alone, in slices of this size. */
  maxRows: number;
}

const WITH_SENTENCES = Object.freeze({ sentences: true });
const WITHOUT_SENTENCES = Object.freeze({ sentences: false });
const scoreOptions = (sentences: boolean): ScoreOptions => (sentences ? WITH_SENTENCES : WITHOUT_SENTENCES);

export function createScoreCoalescer(modelService: ModelService, options: CoalescerOptions): ScoreCoalescer {
  let queue: Pending[] = [];
  let scheduled = false;

  /**
   * One request on its own. A request above maxRows is scored in slices with a turn of the event loop
   * between them, so small requests are not held up behind one big batch (same runtime throughout).
   */
  async function scoreAlone(job: Pending, runtime: ModelRuntime): Promise<void> {
    try {
      // The common case, one call: the request's own array goes to the runtime and its answer back (no copies).
      if (job.inputs.length <= options.maxRows) {
        job.resolve({ runtime, predictions: await runtime.score(job.inputs, scoreOptions(job.sentences)) });
        return;
      }
      const predictions: Prediction[] = [];
      for (let start = 0; start < job.inputs.length; start += options.maxRows) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        predictions.push(...(await runtime.score(job.inputs.slice(start, start + options.maxRows), scoreOptions(job.sentences))));
      }
      job.resolve({ runtime, predictions });
    } catch (err) {
      job.reject(err);
    }
  }

  async function scoreGroup(group: Pending[]): Promise<void> {
    let runtime: ModelRuntime;
    try {
      runtime = modelService.current();
    } catch (err) {
      for (const job of group) job.reject(err);
      return;
    }
    const [first] = group;
    if (!first) return;
    if (group.length === 1) return scoreAlone(first, runtime);
    let predictions: Prediction[];
    try {
      predictions = await runtime.score(
        group.flatMap((job) => job.inputs),
        scoreOptions(first.sentences),
      );
    } catch {
      // Isolate: each request on its own, with its own outcome.
      for (const job of group) await scoreAlone(job, runtime);
      return;
    }
    let offset = 0;
    for (const job of group) {
      job.resolve({ runtime, predictions: predictions.slice(offset, offset + job.inputs.length) });
      offset += job.inputs.length;
    }
  }

  /** Groups of the same `sentences` flag, each at most maxRows reviews (an oversized request alone). */
  function groups(jobs: Pending[]): Pending[][] {
    const out: Pending[][] = [];
    for (const sentences of [false, true]) {
      let current: Pending[] = [];
      let rows = 0;
      for (const job of jobs) {
        if (job.sentences !== sentences) continue;
        if (current.length > 0 && rows + job.inputs.length > options.maxRows) {
          out.push(current);
          current = [];
          rows = 0;
        }
        current.push(job);
        rows += job.inputs.length;
      }
      if (current.length > 0) out.push(current);
    }
    return out;
  }

  function flush(): void {
    scheduled = false;
    const jobs = queue;
    queue = [];
    for (const group of groups(jobs)) void scoreGroup(group);
  }

  return {
    score(inputs, sentences) {
      return new Promise<CoalescedResult>((resolve, reject) => {
        queue.push({ inputs, sentences, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
