import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';

interface ChildRun {
  code: number | null;
  stdout: string;
}

/** Runs the fixture service in MODE, sends `signals` (one per 'started'-relative step), returns its exit. */
function runChild(mode: string, signals: NodeJS.Signals[]): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', repoPath('tests/core/fixtures/service-runner-child.ts')], {
    cwd: repoPath('.'),
    env: { ...process.env, MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const first = !stdout.includes('started');
    stdout += chunk.toString();
    if (first && stdout.includes('started')) {
      signals.forEach((signal, i) => setTimeout(() => child.kill(signal), 50 + 300 * i));
    }
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout })));
}

describe('runService (one life cycle for scorer, aggregator, API)', () => {
  it('SIGTERM: stops gracefully and exits 0', async () => {
    const run = await runChild('ok', ['SIGTERM']);
    expect(run).toEqual({ code: 0, stdout: 'started\nstopped\n' });
  });

  it('SIGINT does the same', async () => {
    expect((await runChild('ok', ['SIGINT'])).code).toBe(0);
  });

  it('a second signal during a slow stop exits 130 at once, without finishing the stop', async () => {
    const run = await runChild('slow-stop', ['SIGTERM', 'SIGTERM']);
    expect(run).toEqual({ code: 130, stdout: 'started\n' });
  });

  it('a fatal error stops the service gracefully and exits 1', async () => {
    expect(await runChild('fatal', [])).toEqual({ code: 1, stdout: 'started\nstopped\n' });
  });

  it('a run that finishes by itself (a CLI consumer gone idle) stops gracefully and exits 0', async () => {
    expect(await runChild('finishes', [])).toEqual({ code: 0, stdout: 'started\nstopped\n' });
  });

  it('a failed start exits 1', async () => {
    expect(await runChild('bad-start', [])).toEqual({ code: 1, stdout: '' });
  });

  it('a failed stop exits 1', async () => {
    expect((await runChild('bad-stop', ['SIGTERM'])).code).toBe(1);
  });
});
