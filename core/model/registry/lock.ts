/**
 * The registry's writer lock: `<dir>/<name>/.lock`, created with O_EXCL and holding its owner (pid, host,
 * token, time); its mtime is a heartbeat while held. An abandoned lock (too old, or its holder dead on
 * this host) is taken over; a holder asks assertHeld() before each write, so one that was taken over
 * never writes over the new holder's work.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { DriftlineError } from '../../errors.js';
import { errnoCode } from './files.js';

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  acquired_at_ms: number;
}

interface LockSnapshot {
  owner: LockOwner | undefined;
  ino: number;
  mtimeMs: number;
}

async function readLock(path: string): Promise<LockSnapshot | undefined> {
  try {
    const info = await stat(path);
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    } catch {
      owner = undefined; // just created, not written yet (or vanished): judged by its age alone
    }
    return { owner, ino: info.ino, mtimeMs: info.mtimeMs };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

function isStale(lock: LockSnapshot, staleMs: number): boolean {
  if (Date.now() - lock.mtimeMs > staleMs) return true;
  const owner = lock.owner;
  return owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !processIsAlive(owner.pid);
}

/**
 * Removes an abandoned lock. Breakers serialize on a second O_EXCL file and re-check that the lock is
 * still the same stale one (inode + token) before unlinking, so a fresh lock taken in between survives.
 */
async function breakStaleLock(path: string, seen: LockSnapshot, staleMs: number): Promise<void> {
  const breakerPath = `${path}.break`;
  let breaker;
  try {
    breaker = await open(breakerPath, 'wx');
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const other = await readLock(breakerPath);
    // A breaker holds its file for microseconds; an old one means it crashed mid-way.
    if (other && Date.now() - other.mtimeMs > staleMs) await unlink(breakerPath).catch(() => undefined);
    return;
  }
  try {
    const now = await readLock(path);
    // Same file, same owner and not touched since: a heartbeat in between means the holder is alive.
    if (now && now.ino === seen.ino && now.owner?.token === seen.owner?.token && now.mtimeMs === seen.mtimeMs) await unlink(path).catch(() => undefined);
  } finally {
    await breaker.close();
    await unlink(breakerPath).catch(() => undefined);
  }
}

/** A held registry writer lock. */
export interface RegistryLock {
  /** Throws REGISTRY_CONFLICT (retriable) when the lock is no longer ours (taken over as stale). */
  assertHeld(): Promise<void>;
  /** Stops the heartbeat and removes the lock file if it is still ours. */
  release(): Promise<void>;
}

/**
 * Holds `path` while the holder works: its mtime is refreshed every staleMs/3, so a writer that is
 * slow (a large index, a loaded disk) but alive is never judged abandoned. A holder that was paused
 * for longer than staleMs (SIGSTOP, a stalled VM) can still be taken over: before each write it asks
 * assertHeld(), which re-reads the owner token, so it never writes over the new holder's work.
 */
function heldLock(path: string, token: string, staleMs: number): RegistryLock {
  const owns = async (): Promise<boolean> => (await readLock(path).catch(() => undefined))?.owner?.token === token;
  let beat: Promise<void> = Promise.resolve();
  const heartbeat = setInterval(() => {
    beat = (async () => {
      if (!(await owns())) return;
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
    })();
  }, Math.max(10, Math.floor(staleMs / 3)));
  heartbeat.unref();
  return {
    async assertHeld() {
      if (await owns()) return;
      throw new DriftlineError('REGISTRY_CONFLICT', `registry lock ${path} was taken over by another writer while this one held it; nothing more was written`, {
        details: { lock: path },
      });
    },
    async release() {
      clearInterval(heartbeat);
      await beat;
      // Only remove our own lock: if we were taken over as stale, the file is someone else's now.
      if (await owns()) await unlink(path).catch(() => undefined);
    },
  };
}

export async function acquireLock(path: string, waitMs: number, staleMs: number): Promise<RegistryLock> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomUUID(), acquired_at_ms: Date.now() };
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner), 'utf8');
      } finally {
        await handle.close();
      }
      return heldLock(path, owner.token, staleMs);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const held = await readLock(path);
    if (held && isStale(held, staleMs)) {
      await breakStaleLock(path, held, staleMs);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DriftlineError('REGISTRY_CONFLICT', `registry lock ${path} is held by ${held?.owner ? `pid ${held.owner.pid} on ${held.owner.host}` : 'another writer'}`, {
        details: { lock: path, holder: held?.owner ?? null },
      });
    }
    await sleep(5 + Math.random() * 20);
  }
}
