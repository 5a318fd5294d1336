/** core/cli.ts: the named-command runner behind each component's main.ts, and the entries themselves. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { runNamedCommand, type CliCommand } from '../../core/cli.js';
import { repoPath } from '../../core/paths.js';

const command = (name: string, code: number): CliCommand => ({ name, summary: name, usage: `usage: ${name}`, run: vi.fn(async () => code) });

describe('runNamedCommand', () => {
  it('runs the named command with the rest of the arguments and returns its exit code', async () => {
    const train = command('train', 0);
    const evaluate = command('evaluate', 3);
    expect(await runNamedCommand([train, evaluate], 'evaluate', ['--data', 'x.jsonl'])).toBe(3);
    expect(evaluate.run).toHaveBeenCalledWith(['--data', 'x.jsonl']);
    expect(train.run).not.toHaveBeenCalled();
  });

  it('an unknown name lists the commands on stderr and exits 2', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runNamedCommand([command('train', 0), command('runs', 0)], 'nope', [])).toBe(2);
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('one of: train, runs'));
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('component entries (main.ts) run their CLI commands', () => {
  const run = (entry: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', repoPath(entry), ...args], { cwd: repoPath(), encoding: 'utf8', timeout: 60_000 });

  it('ingest/main.ts is `driftline ingest` (bad arguments: usage, exit 2)', () => {
    const result = run('ingest/main.ts', ['--bogus']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: driftline ingest');
  });

  it('trainer/main.ts runs the trainer command it is given and refuses an unknown one', () => {
    expect(run('trainer/main.ts', ['nope']).stderr).toContain('one of: train, evaluate, infer, models, runs, retrain-policy');
    expect(run('trainer/main.ts', ['nope']).status).toBe(2);
    expect(run('trainer/main.ts', ['train', '--bogus']).status).toBe(2);
  });
});
