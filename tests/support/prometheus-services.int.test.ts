/**
 * `scripts/services.sh prometheus-up|prometheus-down` with its own port and directory: the generated
 * config scrapes the given targets and loads deploy/prometheus/rules, `up` twice keeps one process,
 * `down` stops exactly the process it started, and a malformed target list is refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib.js';
import { repoPath } from '../../core/paths.js';

let port: number;
let dir: string;

function services(command: string, env: Record<string, string> = {}): { status: number | null; output: string } {
  const result = spawnSync('bash', [repoPath('scripts/services.sh'), command], {
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      ...process.env,
      DRIFTLINE_PROMETHEUS_PORT: String(port),
      DRIFTLINE_PROMETHEUS_DIR: dir,
      DRIFTLINE_PROMETHEUS_TARGETS: 'driftline-scorer=127.0.0.1:9,driftline-aggregator=127.0.0.1:10',
      DRIFTLINE_PROMETHEUS_INTERVAL: '1s',
      ...env,
    },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'driftline-prometheus-services-'));
});

afterAll(() => {
  services('prometheus-down');
  rmSync(dir, { recursive: true, force: true });
});

describe('services.sh prometheus', () => {
  it('refuses a target that is not job=host:port', () => {
    const bad = services('prometheus-up', { DRIFTLINE_PROMETHEUS_TARGETS: '127.0.0.1:9464' });
    expect(bad.status).toBe(2);
    expect(bad.output).toContain("'127.0.0.1:9464' is not job=host:port");
    expect(existsSync(join(dir, 'prometheus.pid'))).toBe(false);
  });

  it('starts one Prometheus on the given port that scrapes the given targets with our rules; up again keeps it', async () => {
    const first = services('prometheus-up');
    expect(first.status, first.output).toBe(0);
    const pid = Number(readFileSync(join(dir, 'prometheus.pid'), 'utf8'));
    expect(pidAlive(pid)).toBe(true);
    const again = services('prometheus-up');
    expect(again.status, again.output).toBe(0);
    expect(again.output).toContain('already running');
    expect(Number(readFileSync(join(dir, 'prometheus.pid'), 'utf8'))).toBe(pid);

    const config = readFileSync(join(dir, 'prometheus.yml'), 'utf8');
    expect(config).toContain(`${repoPath('deploy/prometheus/rules')}/*.yml`);
    const rules = (await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string }> }> } };
    expect(rules.data.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(expect.arrayContaining(['DriftlineDriftRed', 'DriftlineScorerDown']));
    // Target discovery runs a moment after /-/ready.
    let active: Array<{ labels: Record<string, string>; scrapeUrl: string }> = [];
    for (let attempt = 0; attempt < 40 && active.length < 2; attempt++) {
      active = ((await (await fetch(`http://127.0.0.1:${port}/api/v1/targets`)).json()) as { data: { activeTargets: typeof active } }).data.activeTargets;
      if (active.length < 2) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(active.map((t) => [t.labels.job, t.scrapeUrl]).sort()).toEqual([
      ['driftline-aggregator', 'http://127.0.0.1:10/metrics'],
      ['driftline-scorer', 'http://127.0.0.1:9/metrics'],
    ]);
    expect(services('status').output).toContain(`prometheus: running (pid ${pid}, 127.0.0.1:${port})`);

    const down = services('prometheus-down');
    expect(down.status, down.output).toBe(0);
    expect(pidAlive(pid)).toBe(false);
    expect(existsSync(join(dir, 'prometheus.pid'))).toBe(false);
    expect(services('prometheus-down').status).toBe(0);
  });

});
