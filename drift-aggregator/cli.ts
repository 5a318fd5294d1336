/**
 * CLI commands of the drift aggregator:
 *   driftline aggregator                       run the service (configured by DRIFTLINE_* variables)
 *   driftline drift compare ...                dataset vs dataset drift report (drift-aggregator/compare-cli.ts)
 *   driftline drift query [options]            recent drift rows from ClickHouse
 *   driftline drift sliding --model M --version V [--windows K]   sliding view from the Redis sketches
 *   driftline alerts [--follow] [--webhook URL] alert consumer: dedupe, print, webhook delivery (alerts-cli.ts)
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from '../core/cli.js';
import { createClickHouse } from '../core/clickhouse.js';
import { coreSettings } from '../core/config.js';
import { alertsCommand } from './alerts-cli.js';
import { driftCompareCommand } from './compare-cli.js';
import { loadDriftThresholds } from '../core/drift/config.js';
import { ALL_SEGMENTS, DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE } from '../core/drift/tables.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { createRedisClient } from '../core/redis.js';
import { registryBaselineProvider, SketchCatalog } from './baselines.js';
import { aggregatorSettings, windowSizesOf } from './config.js';
import { assessSlidingView } from './evaluate.js';
import { AggregatorState } from './redis-state.js';
import { runAggregator } from './run.js';
import { slidingWindowStarts, windowId } from './windows.js';

const aggregator: CliCommand = {
  name: 'aggregator',
  summary: 'Run the drift aggregator (Redis sketches, ClickHouse metrics, alerts)',
  usage: [
    'usage: driftline aggregator',
    '  Consumes ScoredReview events from DRIFTLINE_TOPIC_SCORED, keeps windowed sketches in Redis, writes drift metrics',
    '  to ClickHouse and DriftAlert events to DRIFTLINE_TOPIC_ALERTS. Configured by environment variables',
    '  (DRIFTLINE_WINDOW_MS, DRIFTLINE_WINDOW_TIME, DRIFTLINE_ALLOWED_LATENESS_MS, ...). Stops cleanly on SIGTERM/SIGINT.',
  ].join('\n'),
  run: () => runAggregator(),
};

const QUERY_USAGE = [
  'usage: driftline drift query [--model NAME] [--segment SEG] [--feature F] [--metric M] [--summary] [--limit N] [--json]',
  '  Prints the newest drift_metrics rows (or window_summary rows with --summary) from ClickHouse, newest first.',
  '  Segment defaults to __all__ (use --segment any for every segment). With embedded chdb, run it while the',
  '  aggregator is stopped (one process per path) or point DRIFTLINE_CLICKHOUSE_URL at a server.',
].join('\n');

async function driftQuery(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      segment: { type: 'string', default: ALL_SEGMENTS },
      feature: { type: 'string' },
      metric: { type: 'string' },
      summary: { type: 'boolean', default: false },
      limit: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
    },
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new DriftlineError('REQUEST_INVALID', `--limit must be a positive integer, got ${values.limit}`, { field: 'limit' });
  const core = coreSettings.load();
  const client = await createClickHouse(core);
  try {
    const where: string[] = [];
    const params: Record<string, string> = {};
    const filter = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = {${column}:String}`);
      params[column] = value;
    };
    filter('model_name', values.model);
    filter('segment', values.segment === 'any' ? undefined : values.segment);
    if (!values.summary) {
      filter('feature', values.feature);
      filter('metric', values.metric);
    }
    const table = values.summary ? WINDOW_SUMMARY_TABLE : DRIFT_METRICS_TABLE;
    const columns = values.summary
      ? 'window_start, window_size_ms, model_name, model_version, segment, events, late_events, outlier_rate, mean_confidence, accuracy, macro_f1, estimated_accuracy, estimated_macro_f1, status, state_lost, written_at'
      : 'window_start, window_size_ms, model_name, model_version, segment, feature, metric, value, p_value_adjusted, threshold_amber, threshold_red, status';
    const query = `SELECT ${columns} FROM ${core.clickhouseDatabase}.${table} FINAL ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY window_start DESC, window_size_ms LIMIT ${limit}`;
    const rows = (await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json()) as Array<Record<string, unknown>>;
    if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else printTable(rows);
    return 0;
  } finally {
    await client.close();
  }
}

function printTable(rows: Array<Record<string, unknown>>): void {
  if (rows.length === 0) {
    process.stdout.write('(no rows)\n');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const cell = (value: unknown): string => (typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(4) : String(value ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`${line(columns)}\n${rows.map((r) => line(columns.map((c) => cell(r[c])))).join('\n')}\n`);
}

const SLIDING_USAGE = [
  'usage: driftline drift sliding --model NAME --version N [--windows K] [--end-ms T] [--segment SEG] [--json]',
  '  Merges the last K tumbling windows (default 5) ending at T (default now) from the Redis sketches and',
  '  assesses them as one window (raw statuses, no hysteresis).',
].join('\n');

async function driftSliding(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      version: { type: 'string' },
      windows: { type: 'string', default: '5' },
      'end-ms': { type: 'string' },
      segment: { type: 'string', default: ALL_SEGMENTS },
      json: { type: 'boolean', default: false },
    },
  });
  const version = Number(values.version);
  const windows = Number(values.windows);
  if (!values.model || !Number.isInteger(version) || !Number.isInteger(windows) || windows < 1) {
    process.stderr.write(`${SLIDING_USAGE}\n`);
    return 2;
  }
  const core = coreSettings.load();
  const settings = aggregatorSettings.load();
  const redis = createRedisClient(core);
  try {
    const state = new AggregatorState(redis, core.redisPrefix);
    const catalog = new SketchCatalog(registryBaselineProvider(core.registryDir), settings.maxSegments);
    const sketches = await catalog.load(values.model, version);
    const endMs = values['end-ms'] ? Number(values['end-ms']) : Date.now();
    // Sliding views are unions of the counted (smallest) windows, the only ones with sketches in Redis.
    const countedMs = windowSizesOf(settings)[0]!;
    const starts = slidingWindowStarts(endMs, windows * countedMs, countedMs);
    const view = await assessSlidingView(state, sketches, loadDriftThresholds(), { modelName: values.model, modelVersion: version, starts }, (start) =>
      windowId({ modelName: values.model!, modelVersion: version, start }),
    );
    const rows = view.assessments
      .filter((a) => a.segment === values.segment)
      .map((a) => ({ feature: a.feature, metric: a.metric, value: a.effect, p_adjusted: a.pValueAdjusted, amber: a.thresholdAmber, red: a.thresholdRed, status: a.insufficient ? 'insufficient' : a.rawStatus }));
    const summary = view.summaries.find((s) => s.segment === values.segment);
    const quality = { accuracy: summary?.accuracy ?? null, macroF1: summary?.macroF1 ?? null, estimatedAccuracy: summary?.estimatedAccuracy ?? null, estimatedMacroF1: summary?.estimatedMacroF1 ?? null };
    if (values.json) process.stdout.write(`${JSON.stringify({ windowsFound: view.windowsFound, events: summary?.summary.count ?? 0, ...quality, rows })}\n`);
    else {
      const figure = (x: number | null): string => (x === null ? '-' : x.toFixed(3));
      process.stdout.write(`sliding view: ${view.windowsFound}/${starts.length} windows, ${summary?.summary.count ?? 0} events, segment ${values.segment}\n`);
      process.stdout.write(`accuracy ${figure(quality.accuracy)} (estimated ${figure(quality.estimatedAccuracy)}), macro-F1 ${figure(quality.macroF1)} (estimated ${figure(quality.estimatedMacroF1)})\n`);
      printTable(rows);
    }
    return 0;
  } finally {
    redis.disconnect();
  }
}

const drift: CliCommand = {
  name: 'drift',
  summary: 'Drift tools: compare two datasets, query drift metrics, sliding views',
  usage: ['usage: driftline drift compare|query|sliding [options]', '', driftCompareCommand.usage, '', QUERY_USAGE, '', SLIDING_USAGE].join('\n'),
  async run(argv) {
    const [sub, ...rest] = argv;
    try {
      if (sub === 'compare') return await driftCompareCommand.run(rest);
      if (sub === 'query') return await driftQuery(rest);
      if (sub === 'sliding') return await driftSliding(rest);
    } catch (err) {
      const error = toDriftlineError(err);
      process.stderr.write(`driftline drift ${sub}: ${error.code}: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`${drift.usage}\n`);
    return 2;
  },
};

export const commands: CliCommand[] = [aggregator, drift, alertsCommand];
