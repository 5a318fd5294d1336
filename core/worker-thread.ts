/**
 * Starts a worker-thread entry module that sits next to the caller: `<name>.js` in the built code,
 * `<name>.ts` from the TypeScript sources (vitest, tsx). Node 20 does not apply an inherited `--import tsx`
 * to a worker's entry module, so from the sources the worker registers tsx's loader itself before
 * importing its entry. The one copy of this start-up, used by the model runtime's pool, the trainer's job
 * runner and the API's compare runner.
 */
import { Worker } from 'node:worker_threads';

/** `callerUrl` is the caller's `import.meta.url`; the entry is resolved next to it. */
export function startWorkerEntry(callerUrl: string, name: string, workerData?: unknown): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(entry, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
