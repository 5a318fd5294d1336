/**
 * `driftline serve` as a user runs it: one child process (`driftline serve`) on real Kafka, Redis and
 * embedded chdb. Sample reviews are ingested, scored, aggregated into windows and answered by the API's
 * drift route (proof that the API reads the aggregator's embedded ClickHouse); the scorer child is
 * killed and comes back; SIGTERM stops everything with exit code 0. The retrain policy runs inside serve (with
 * a trigger it cannot reach: 1000 red windows) and its checks are counted on serve's /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../support/env.js';
import { freePort } from '../../bench/lib.js';
import { coreSettings } from '../../core/config.js';
import { repoPath } from '../../core/paths.js';
import { createPipeline, ingestLines, type Pipeline } from '../support/pipeline.js';
import { groupProgress, MODEL_NAME, sleep, waitUntil } from '../scorer/helpers.js';
import { createClickHouse } from '../../core/clickhouse.js';
import { EMPTY_WITHOUT_ALERTS, expandGrafanaSql, loadDashboard, PLOTTED_COLUMNS } from '../support/grafana.js';

const REVIEWS = 300;
const SCRIPT = "const { main } = await import('./cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";

interface LogLine {
  msg?: string;
  pid?: number;
}

describe('driftline serve', () => {
  let pipeline: Pipeline;
  let serve: ChildProcess;
  let exited: Promise<number | null>;
  let logFile: string;
  let apiPort: number;
  let readyPort: number;
  let startedAt: number;
  const logs = (): LogLine[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    startedAt = Date.now();
    pipeline = await createPipeline('serve', { windowMs: 3_000 });
    apiPort = await freePort();
    readyPort = await freePort();
    logFile = join(pipeline.logDir, 'serve.log');
    const log = createWriteStream(logFile);
    const env = { ...pipeline.env, DRIFTLINE_API_PORT: String(apiPort), DRIFTLINE_API_MODEL_NAME: MODEL_NAME, DRIFTLINE_API_FOLLOW_PROMOTIONS: 'false',
      DRIFTLINE_RETRAIN_POLICY: 'true', DRIFTLINE_RETRAIN_RED_WINDOWS: '1000', DRIFTLINE_RETRAIN_INTERVAL_MS: '500' };
    serve = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, 'serve', '--port', String(readyPort), '--stable-ms', '1000'], {
      cwd: repoPath(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve.stdout?.pipe(log, { end: false });
    serve.stderr?.pipe(log, { end: false });
    exited = new Promise((resolve) => serve.once('exit', (code) => resolve(code)));
  }, 60_000);

  afterAll(async () => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL');
    const redis = new Redis(coreSettings.load(pipeline.env).redisUrl);
    await pipeline.cleanupAll(redis);
    redis.disconnect();
  });

  const ready = async (): Promise<boolean> => {
    const response = await fetch(`http://127.0.0.1:${readyPort}/ready`).catch(() => null);
    return response?.status === 200;
  };

  it('scores the sample, answers a drift window from the aggregator, restarts a killed scorer and stops cleanly on SIGTERM', async () => {
    await waitUntil('serve to be ready (scorer, aggregator, API)', ready, 120_000);

    const lines = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').split('\n').filter((line) => line.trim() !== '').slice(0, REVIEWS);
    const ingested = await ingestLines(pipeline, lines, 200);
    expect(ingested.published).toBeGreaterThan(REVIEWS * 0.9);
    await waitUntil('every review scored', async () => (await groupProgress(pipeline.kafka, pipeline.groupId, pipeline.topics.reviews)).committed >= ingested.published, 120_000);

    type WindowPage = { items: Array<{ events: number; segment: string }>; total: number };
    let page: WindowPage = { items: [], total: 0 };
    await waitUntil(
      'the API to answer drift windows',
      async () => {
        const response = await fetch(`http://127.0.0.1:${apiPort}/v1/drift/windows?segment=__all__&limit=100`);
        if (response.status !== 200) throw new Error(`GET /v1/drift/windows answered ${response.status}: ${await response.text()}`);
        page = (await response.json()) as WindowPage;
        return page.items.reduce((sum, w) => sum + Number(w.events), 0) >= ingested.published;
      },
      90_000,
    );
    expect(page.items.every((w) => w.segment === '__all__')).toBe(true);
    expect(page.items.reduce((sum, w) => sum + Number(w.events), 0)).toBe(ingested.published);
    // The policy checked production's windows (too few to call for a retrain) and serve's /metrics counts it.
    const checks = async (): Promise<number> => {
      const body = await (await fetch(`http://127.0.0.1:${readyPort}/metrics`)).text();
      return Number(/^driftline_retrain_policy_checks_total\{outcome="none"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    };
    await waitUntil('the retrain policy checks on serve\'s /metrics', async () => (await checks()) > 0, 30_000);
    expect(logs().some((line) => line.msg === 'retrain policy check failed; retried on the next tick')).toBe(false);

    const firstScorer = logs().find((line) => line.msg === 'scorer process started')?.pid;
    expect(firstScorer).toBeTypeOf('number');
    process.kill(firstScorer!, 'SIGKILL');
    await waitUntil('the scorer restarted', () => logs().filter((line) => line.msg === 'scorer process started').length >= 2, 30_000);
    expect(logs().some((line) => line.msg === 'scorer exited; restarting after back-off')).toBe(true);
    await waitUntil('serve ready again', ready, 120_000);

    serve.kill('SIGTERM');
    expect(await Promise.race([exited, sleep(60_000).then(() => 'timeout')])).toBe(0);
  }, 420_000);

  // After serve stopped, its embedded ClickHouse is free for this process: the dashboard's SQL runs on
  // the tables that real run filled, with Grafana's macros and variables expanded as the plugin does.
  it('every Grafana panel query returns rows of the columns it plots from the tables serve filled', async () => {
    expect(serve.exitCode).toBe(0);
    const core = coreSettings.load(pipeline.env);
    const clickhouse = await createClickHouse(core);
    try {
      const dashboard = loadDashboard();
      const run = async (sql: string, features: string[]): Promise<Array<Record<string, unknown>>> =>
        (await clickhouse.query({
          query: expandGrafanaSql(sql, {
            database: core.clickhouseDatabase,
            model: MODEL_NAME,
            segment: '__all__',
            features,
            fromSeconds: startedAt / 1000 - 60,
            toSeconds: Date.now() / 1000 + 60,
            intervalSeconds: 3,
            windowSizeMs: pipeline.windowMs,
          }),
          format: 'JSONEachRow',
        })).json();
      const variable = (name: string): string => dashboard.templating.list.find((v) => v.name === name)!.query;
      const models = await run(variable('model'), []);
      expect(models.map((r) => r.model_name)).toContain(MODEL_NAME);
      expect((await run(variable('segment'), [])).map((r) => r.segment)).toContain('__all__');
      const features = (await run(variable('feature'), [])).map((r) => String(r.feature));
      expect(features.length).toBeGreaterThan(0);
      expect(Object.keys(PLOTTED_COLUMNS).sort()).toEqual(dashboard.panels.map((p) => p.title).sort());
      // The alert history is empty exactly when the run never changed an item's status (no alert rows at all).
      const alertRows = Number(((await run(`SELECT count() AS n FROM ${core.clickhouseDatabase}.alerts FINAL WHERE model_name = '${MODEL_NAME}'`, [])) as Array<{ n: string }>)[0]!.n);
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const rows = await run(target.rawSql, features);
          if (EMPTY_WITHOUT_ALERTS.has(panel.title) && alertRows === 0) {
            expect(rows, panel.title).toEqual([]);
            continue;
          }
          expect(rows.length, panel.title).toBeGreaterThan(0);
          for (const column of PLOTTED_COLUMNS[panel.title]!) expect(rows[0], `${panel.title}: ${column}`).toHaveProperty(column);
        }
      }
    } finally {
      await clickhouse.close();
    }
  }, 120_000);
});
