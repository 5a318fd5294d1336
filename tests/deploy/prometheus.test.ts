/**
 * deploy/prometheus: the alerting rules and the compose stack's config, checked by the real promtool
 * (`scripts/services.sh up` installs it), and the rules' metric names checked against what the
 * components really register.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';
import { createApiMetrics } from '../../api/metrics.js';
import { AggregatorMetrics } from '../../drift-aggregator/telemetry.js';
import { createScorerMetrics } from '../../scorer/metrics.js';
import { createRetrainPolicyMetrics } from '../../trainer/retrain-policy-metrics.js';

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string> }
interface RuleFile { groups: Array<{ name: string; rules: Rule[] }> }
interface RuleTest { alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }
interface RuleTestFile { rule_files: string[]; tests: RuleTest[] }

const PROMETHEUS_DIR = repoPath('deploy/prometheus');
const RULE_FILES = readdirSync(repoPath('deploy/prometheus/rules')).filter((f) => f.endsWith('.yml')).map((f) => `rules/${f}`);
const TEST_FILES = readdirSync(repoPath('deploy/prometheus/tests')).filter((f) => f.endsWith('.yml')).map((f) => `tests/${f}`);

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`promtool could not run (${result.error.message}); scripts/services.sh up installs it`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function alerts(): Rule[] {
  return RULE_FILES.flatMap((file) => (parse(readFileSync(repoPath('deploy/prometheus', file), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules)).filter((r) => r.alert);
}

describe('promtool', () => {
  it('check rules passes on every rule file', () => {
    expect(RULE_FILES.length).toBeGreaterThan(0);
    const { status, output } = promtool('check', 'rules', ...RULE_FILES);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('test rules passes on every unit-test file', () => {
    expect(TEST_FILES.length).toBeGreaterThan(0);
    const { status, output } = promtool('test', 'rules', ...TEST_FILES);
    expect(status, output).toBe(0);
  });

  it('check config passes on the compose stack config, and it loads the rules', () => {
    const { status, output } = promtool('check', 'config', 'prometheus.yml');
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: 1 rule files found/);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });
});

describe('rule coverage', () => {
  it('has the alerts the operators asked for', () => {
    expect(alerts().map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'DriftlineDriftRed',
        'DriftlineMacroF1Drop',
        'DriftlineOutlierRateHigh',
        'DriftlineScorerConsumerLag',
        'DriftlineApiLatencyP99High',
        'DriftlineApiErrorRateHigh',
        'DriftlineScorerDown',
        'DriftlineAggregatorDown',
      ]),
    );
  });

  it('every alert has a unit test where it fires and one where it stays quiet', () => {
    const cases = TEST_FILES.flatMap((file) => (parse(readFileSync(repoPath('deploy/prometheus', file), 'utf8')) as RuleTestFile).tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const rule of alerts()) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(own.some((c) => c.exp_alerts.length > 0), `${rule.alert} never fires in a test`).toBe(true);
      expect(own.some((c) => c.exp_alerts.length === 0), `${rule.alert} is never shown quiet in a test`).toBe(true);
    }
  });

  it('every alert has a severity', () => {
    for (const rule of alerts()) expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
  });

  it('every driftline_* metric a rule reads is registered by the scorer, the aggregator, the API or the retrain policy', async () => {
    const registry = new Registry();
    new AggregatorMetrics(registry);
    createScorerMetrics(registry);
    createApiMetrics(registry);
    createRetrainPolicyMetrics(registry);
    // From the exposition's TYPE lines, so metrics without samples yet count too.
    const exported = new Set(
      [...(await registry.metrics()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
    const used = new Set(alerts().flatMap((rule) => rule.expr.match(/\bdriftline_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exported, `${name} is not exported by any component`).toContain(name);
  });

  it('the rules use the job names both scrape configs give the components', () => {
    const config = parse(readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string }> };
    const jobs = new Set(config.scrape_configs.map((c) => c.job_name));
    const script = readFileSync(repoPath('scripts/services.sh'), 'utf8');
    for (const rule of alerts()) {
      for (const [, job] of rule.expr.matchAll(/job="([^"]+)"/g)) {
        expect(jobs, `${rule.alert}: job ${job} is not scraped by prometheus.yml`).toContain(job);
        expect(script, `${rule.alert}: job ${job} is not in services.sh's default targets`).toContain(`${job}=`);
      }
    }
  });

  it('the compose stack mounts the rules where prometheus.yml looks for them', () => {
    const compose = parse(readFileSync(repoPath('docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { volumes?: string[] }> };
    expect(compose.services.prometheus?.volumes).toContain('./deploy/prometheus/rules:/etc/prometheus/rules:ro');
  });
});
