/**
 * The registry writer lock is not taken over from a live holder: the holder refreshes it (heartbeat)
 * for as long as it holds it, even past DRIFTLINE_REGISTRY_LOCK_STALE_MS. A holder that lost the lock
 * anyway (paused longer than that) finds out before writing, and never removes the new holder's lock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../core/model/registry/index.js';

const dir = mkdtempSync(join(tmpdir(), 'driftline-registry-lock-'));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const STALE_MS = 200;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry writer lock', () => {
  it('stays with a holder that works longer than the stale age', async () => {
    const path = join(dir, 'long.lock');
    const holder = await acquireLock(path, 1_000, STALE_MS);
    // Another writer keeps trying while the holder works for 5 stale ages.
    const contender = acquireLock(path, 5 * STALE_MS, STALE_MS).then(
      async (lock) => {
        await lock.release();
        return 'taken over';
      },
      (err: { code?: string }) => err.code,
    );
    await sleep(5 * STALE_MS);
    await expect(holder.assertHeld()).resolves.toBeUndefined();
    expect(await contender).toBe('REGISTRY_CONFLICT');
    await holder.release();
    // Released: the next writer gets it at once.
    const next = await acquireLock(path, 100, STALE_MS);
    await next.release();
  });

  it('is taken over when abandoned (no heartbeat), and a holder that lost it refuses to write and leaves the new lock', async () => {
    const path = join(dir, 'lost.lock');
    // An abandoned lock: another process's owner record, not refreshed for longer than the stale age.
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'elsewhere', token: 'gone', acquired_at_ms: 0 }));
    const past = new Date(Date.now() - 10 * STALE_MS);
    await utimes(path, past, past);
    const paused = await acquireLock(path, 1_000, STALE_MS);
    // Its holder is paused (SIGSTOP, a stalled VM) past the stale age: a breaker removes the lock and another writer takes it.
    rmSync(path);
    const newHolder = await acquireLock(path, 100, STALE_MS);
    await expect(paused.assertHeld()).rejects.toMatchObject({ code: 'REGISTRY_CONFLICT', retriable: true });
    await paused.release();
    await expect(newHolder.assertHeld()).resolves.toBeUndefined();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid });
    await newHolder.release();
  });
});
