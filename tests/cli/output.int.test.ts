/**
 * Human output: a human-facing CLI command prints its report on stdout and no JSON log line on stdout
 * or stderr; `--log-level` chooses what is logged, as human lines on stderr, or as JSON lines in
 * DRIFTLINE_LOG_FILE. Runs `driftline ingest` as a real child process against the real Kafka.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';

const SAMPLE = repoPath('data', 'sample', 'reviews-sample.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'driftline-cli-output-'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `driftline ingest <args>` from source, with no log settings inherited from the test's environment. */
function ingest(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^DRIFTLINE_LOG_/.test(key)));
  const topic = `t-cli-output-${randomUUID()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', repoPath('tests', 'ingest', 'run-cli.ts'), 'ingest', '--file', SAMPLE, '--topic', `${topic}.reviews`, '--dead-letter-topic', `${topic}.dl`, '--quiet', ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Lines that are pino/kafkajs JSON log records. */
function jsonLogLines(text: string): string[] {
  return text.split('\n').filter((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return typeof value === 'object' && value !== null && ('level' in value || 'msg' in value);
    } catch {
      return false;
    }
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('driftline ingest output', () => {
  it('prints the human summary on stdout and no JSON log line on stdout or stderr by default', async () => {
    const run = await ingest([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ingest done: /m);
    expect(run.stdout).toMatch(/published\s+\d+/);
    expect(jsonLogLines(run.stdout)).toEqual([]);
    expect(jsonLogLines(run.stderr)).toEqual([]);
  }, 120_000);

  it('--log-level debug logs human lines on stderr, still nothing on stdout', async () => {
    const run = await ingest(['--log-level', 'debug']);
    expect(run.code).toBe(0);
    expect(jsonLogLines(run.stdout)).toEqual([]);
    expect(jsonLogLines(run.stderr)).toEqual([]);
    expect(run.stderr).toMatch(/^driftline debug \[kafka\.ingest\] /m);
    expect(run.stdout).not.toMatch(/driftline debug/);
  }, 120_000);

  it('DRIFTLINE_LOG_FILE receives the JSON lines; the terminal gets only the report', async () => {
    const file = join(dir, 'logs', 'ingest.jsonl');
    const run = await ingest(['--log-level=debug'], { DRIFTLINE_LOG_FILE: file });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ingest done: /m);
    expect(jsonLogLines(run.stdout)).toEqual([]);
    expect(run.stderr.trim()).toBe('');
    const logged = readFileSync(file, 'utf8').trim().split('\n');
    expect(jsonLogLines(logged.join('\n'))).toEqual(logged);
    expect(logged.some((line) => (JSON.parse(line) as { component?: string }).component === 'kafka.ingest')).toBe(true);
  }, 120_000);

  it('refuses an unknown --log-level with exit code 2', async () => {
    const run = await ingest(['--log-level', 'loud']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--log-level must be one of/);
  }, 60_000);
});
