/** Infrastructure failure: with no broker, `driftline ingest` exits non-zero with a clear message instead of hanging or dropping data silently. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';

describe('driftline ingest with Kafka down', () => {
  it('exits 1 naming KAFKA_UNAVAILABLE and the brokers it tried', async () => {
    // Port 1 on loopback: connection refused at once; kafkajs retries with back-off, then gives up.
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath('tests', 'ingest', 'run-cli.ts'), 'ingest', '--file', repoPath('data', 'broken', 'broken-reviews.csv'), '--quiet'], {
      env: { ...process.env, DRIFTLINE_KAFKA_BROKERS: '127.0.0.1:1', DRIFTLINE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('driftline ingest: KAFKA_UNAVAILABLE (brokers: 127.0.0.1:1)');
    expect(stderr).toContain('ECONNREFUSED');
  });
});
