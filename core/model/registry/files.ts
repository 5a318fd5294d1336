/**
 * File primitives the registry's writers and readers share: a file is replaced only by rename(2) of a
 * fully written, fsynced copy, so a reader sees the old or the new content, never half of one.
 */
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DriftlineError } from '../../errors.js';

/** The errno code of a failed file-system call (ENOENT, EEXIST, …), when it has one. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** write temp + fsync + rename + fsync(dir): after a crash the file is the old or the new content. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(join(path, '..'));
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some file systems refuse fsync on directories, which is harmless here.
  const handle = await open(dir, fsConstants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/** The parsed JSON at `path`, undefined when there is no such file; MODEL_LOAD_FAILED when it is not JSON. */
export async function readJsonIfPresent(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new DriftlineError('MODEL_LOAD_FAILED', `${path} is not valid JSON`, { cause: err });
  }
}
