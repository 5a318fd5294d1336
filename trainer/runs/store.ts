/**
 * The run store: a plain directory, one folder per run.
 *
 *   <dir>/<run id>/run.json            the run (RunRecord)
 *   <dir>/<run id>/artifacts/<name>    its pictures and reports
 *
 * A run is written whole into a temporary folder next to the others and renamed into place, so readers see
 * a complete run or none; rename(2) of a folder onto an existing one fails, which is also how two runs
 * started in the same millisecond get distinct ids (the later one moves on to the next millisecond).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DriftlineError } from '../../core/errors.js';
import { runsSettings } from '../config.js';
import { ARTIFACT_NAME, RUN_ID, contentTypeOf, type ArtifactContent, type RunInput, type RunKind, type RunRecord } from './types.js';

export const RUN_FILE = 'run.json';
export const ARTIFACTS_DIR = 'artifacts';
/** Inside the registry directory; a leading underscore can never be a model name there. */
export const DEFAULT_RUNS_SUBDIR = '_runs';

export interface RunListOptions {
  kind?: RunKind;
  /** Runs skipped (newest first). */
  offset?: number;
  limit?: number;
}

export interface RunPage {
  runs: RunRecord[];
  /** Runs matching the filter, over all pages. */
  total: number;
}

export interface RunStore {
  readonly dir: string;
  create(input: RunInput, artifacts: readonly ArtifactContent[], now?: Date): Promise<RunRecord>;
  /** Newest first. */
  list(options?: RunListOptions): Promise<RunPage>;
  /** Throws NOT_FOUND (also for a malformed id). */
  get(id: string): Promise<RunRecord>;
  /** The artifact's bytes and content type; only names the run lists are served. Throws NOT_FOUND. */
  artifact(id: string, name: string): Promise<{ content: Buffer; contentType: string }>;
}

/** DRIFTLINE_RUNS_DIR, else `_runs` inside the registry directory. */
export function runsDirFor(registryDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = runsSettings.load(env).dir;
  return configured === '' ? join(resolve(registryDir), DEFAULT_RUNS_SUBDIR) : resolve(configured);
}

/** 2026-12-06T20:17:36.123Z -> 20261206T201736123Z (sorts as the time does). */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function runId(kind: RunKind, date: Date): string {
  return `${kind}_${compactTimestamp(date)}`;
}

function notFound(what: string): DriftlineError {
  return new DriftlineError('NOT_FOUND', what);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

async function writeDurably(path: string, content: string | Buffer): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const MAX_ID_ATTEMPTS = 1000;

export function openRunStore(dir: string): RunStore {
  const root = resolve(dir);

  async function readRun(id: string): Promise<RunRecord> {
    if (!RUN_ID.test(id)) throw notFound(`No run ${JSON.stringify(id)} (a run id looks like train_20261206T201736123Z)`);
    try {
      return JSON.parse(await readFile(join(root, id, RUN_FILE), 'utf8')) as RunRecord;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(`No run ${id} in ${root}`);
      throw err;
    }
  }

  return {
    dir: root,

    async create(input, artifacts, now = new Date()) {
      for (const artifact of artifacts) {
        if (!ARTIFACT_NAME.test(artifact.name)) throw new DriftlineError('INTERNAL', `artifact name ${JSON.stringify(artifact.name)} is not a plain file name`);
      }
      await mkdir(root, { recursive: true });
      const staging = join(root, `.tmp-${randomUUID()}`);
      await mkdir(join(staging, ARTIFACTS_DIR), { recursive: true });
      try {
        for (const artifact of artifacts) await writeDurably(join(staging, ARTIFACTS_DIR, artifact.name), artifact.content);
        const listed = artifacts.map((a) => ({ name: a.name, contentType: contentTypeOf(a.name), bytes: Buffer.byteLength(a.content), description: a.description }));
        for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
          const at = new Date(now.getTime() + attempt);
          const record: RunRecord = { id: runId(input.kind, at), kind: input.kind, createdAt: at.toISOString(), model: input.model, params: input.params, data: input.data, metrics: input.metrics, artifacts: listed, notes: input.notes };
          await writeDurably(join(staging, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
          try {
            await rename(staging, join(root, record.id));
            return record;
          } catch (err) {
            const code = errnoCode(err);
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          }
        }
        throw new DriftlineError('INTERNAL', `no free run id for ${input.kind} after ${MAX_ID_ATTEMPTS} attempts in ${root}`);
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
    },

    async list(options = {}) {
      const entries = await readdir(root).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return [] as string[];
        throw err;
      });
      const ids = entries
        .map((name) => ({ name, match: RUN_ID.exec(name) }))
        .filter((entry) => entry.match !== null && (options.kind === undefined || entry.match[1] === options.kind))
        // Newest first across kinds: by the timestamp, then by id.
        .sort((a, b) => b.match![2]!.localeCompare(a.match![2]!) || b.name.localeCompare(a.name))
        .map((entry) => entry.name);
      const offset = options.offset ?? 0;
      const page = ids.slice(offset, offset + (options.limit ?? ids.length));
      return { runs: await Promise.all(page.map(readRun)), total: ids.length };
    },

    get: readRun,

    async artifact(id, name) {
      const run = await readRun(id);
      const listed = ARTIFACT_NAME.test(name) ? run.artifacts.find((a) => a.name === name) : undefined;
      if (!listed) throw notFound(`Run ${id} has no artifact ${JSON.stringify(name)} (it has ${run.artifacts.map((a) => a.name).join(', ') || 'none'})`);
      return { content: await readFile(join(root, id, ARTIFACTS_DIR, listed.name)), contentType: listed.contentType };
    },
  };
}
