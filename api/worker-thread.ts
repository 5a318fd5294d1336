/**
 * Starts one of the API's worker-thread entries (api/<name>.ts from source, api/<name>.js when built).
 * Node 20 does not apply an inherited `--import tsx` to a worker's entry module, so from the TypeScript
 * sources (tsx, vitest) the worker registers tsx's loader itself before importing its entry.
 */
import { Worker } from 'node:worker_threads';

export function startApiWorker(name: string, workerData?: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  if (!fromSource) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
