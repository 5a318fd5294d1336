/**
 * `driftline retrain-policy` as a process of its own: its checks are counted on DRIFTLINE_RETRAIN_METRICS_PORT
 * (GET /metrics, /health), and SIGTERM stops it with exit code 0. On an empty registry (own directory) and its
 * own embedded chdb path, so every check ends in 'none' (no production version).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../support/env.js';
import { freePort } from '../../core/net.js';
import { repoPath } from '../../core/paths.js';
import { sleep, waitUntil } from '../scorer/helpers.js';

const SCRIPT = "const { main } = await import('./cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
const root = mkdtempSync(join(tmpdir(), 'driftline-retrain-cli-'));

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('driftline retrain-policy', () => {
  it('serves its metrics on DRIFTLINE_RETRAIN_METRICS_PORT and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, 'retrain-policy', '--name', 'standalone'], {
      cwd: repoPath(),
      env: {
        ...process.env,
        DRIFTLINE_RETRAIN_POLICY: 'true',
        DRIFTLINE_RETRAIN_METRICS_PORT: String(port),
        DRIFTLINE_RETRAIN_INTERVAL_MS: '200',
        DRIFTLINE_REGISTRY_DIR: join(root, 'registry'),
        DRIFTLINE_CLICKHOUSE_URL: '',
        DRIFTLINE_CLICKHOUSE_PATH: join(root, 'chdb'),
        DRIFTLINE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const checks = async (): Promise<number> => {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null);
        const body = response?.status === 200 ? await response.text() : '';
        return Number(/^driftline_retrain_policy_checks_total\{outcome="none",component="retrain-policy"\} (\d+)$/m.exec(body)?.[1] ?? 0);
      };
      await waitUntil(`the policy's checks on :${port}/metrics`, async () => (await checks()) >= 2, 60_000);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      child.kill('SIGTERM');
      expect(await Promise.race([exited, sleep(30_000).then(() => 'timeout')]), output).toBe(0);
      expect(output).not.toContain('retrain policy check failed');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
