/**
 * `driftline demo` — the main job on the embedded defaults, in one process (embedded ClickHouse belongs
 * to one process): seeds the registry with the shipped default model (or trains one when none is
 * shipped), starts the scorer, the drift aggregator and the API, streams the sample reviews (a
 * representative phase, then a phase of one category only, to show drift) plus a file of broken
 * records through ingest, waits until every valid review is scored and the windows have closed, and
 * prints what happened. Each run uses its own topics, so runs never mix.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import { codecFor } from '../core/avro.js';
import type { ClickHouseClient } from '../core/clickhouse.js';
import { coreSettings, type CoreSettings } from '../core/config.js';
import { DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE } from '../core/drift/tables.js';
import { formatDurationMs } from '../core/duration.js';
import { createKafka, driftlineTopics, ensureTopics } from '../core/kafka.js';
import { createLogger } from '../core/logger.js';
import { openRegistry } from '../core/model/registry/index.js';
import { repoPath } from '../core/paths.js';
import { alertLine, changeKind, type ClosedWindow } from '../drift-aggregator/index.js';
import type { DriftAlert } from '../schemas/types.js';
import { ingestRecords, type IngestSummary } from '../ingest/index.js';
import { runScorer } from '../scorer/index.js';
import { startApiServer } from '../api/index.js';
import { HOLDOUT_SALT, runTrainingJob, splitByReviewId } from '../trainer/index.js';
import type { CliCommand } from '../core/cli.js';
import { createLocalAggregator } from './local-aggregator.js';

const MODEL_NAME = 'reviews';
const SAMPLE = repoPath('data', 'sample', 'reviews-sample.jsonl');
const BROKEN = repoPath('data', 'broken', 'broken-reviews.jsonl');
const SHIFT_SOURCE_PREFIX = 'blitzer2007-mds/books';
/** The trainer's default held-out share (trainer --holdout). */
const HOLDOUT_FRACTION = 0.2;

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface DemoArgs {
  windowMs: number;
  rate: number;
}

function parseArgs(argv: string[]): DemoArgs {
  const args: DemoArgs = { windowMs: 5_000, rate: 600 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--window-ms' && Number.isInteger(value) && value >= 1_000) args.windowMs = value;
    else if (argv[i] === '--rate' && Number.isInteger(value) && value > 0) args.rate = value;
    else throw new Error(`unknown or invalid option ${argv[i]} (see driftline help demo)`);
    i++;
  }
  return args;
}

/** Env for this run: its own topics and consumer groups, short windows so the demo takes a minute, no fixed ports. */
function demoEnv(runId: string, args: DemoArgs): NodeJS.ProcessEnv {
  const topic = (name: string): string => `driftline.demo-${runId}.${name}`;
  return {
    ...process.env,
    DRIFTLINE_TOPIC_REVIEWS: topic('reviews'),
    DRIFTLINE_TOPIC_SCORED: topic('scored'),
    DRIFTLINE_TOPIC_DEAD_LETTER: topic('dead-letter'),
    DRIFTLINE_TOPIC_PROMOTIONS: topic('promotions'),
    DRIFTLINE_TOPIC_ALERTS: topic('alerts'),
    // Own Redis keys too: window sketches and the hysteresis state of each feature are per model version,
    // and a previous run's red must not carry over into this one.
    DRIFTLINE_REDIS_PREFIX: `driftline:demo-${runId}`,
    DRIFTLINE_SCORER_GROUP_ID: `driftline-demo-${runId}-scorer`,
    DRIFTLINE_AGGREGATOR_GROUP: `driftline-demo-${runId}-aggregator`,
    DRIFTLINE_WINDOW_MS: String(args.windowMs),
    // Two sizes at once: the counted windows and windows four times as long, merged from their sketches.
    DRIFTLINE_WINDOW_SIZES: `${formatDurationMs(args.windowMs)},${formatDurationMs(4 * args.windowMs)}`,
    DRIFTLINE_WINDOW_TIME: 'ingest',
    DRIFTLINE_ALLOWED_LATENESS_MS: '1000',
    DRIFTLINE_WINDOW_IDLE_CLOSE_MS: '3000',
    DRIFTLINE_AGGREGATOR_CLOSE_INTERVAL_MS: '500',
    DRIFTLINE_SCORER_METRICS_PORT: '0',
    DRIFTLINE_AGGREGATOR_METRICS_PORT: '0',
    DRIFTLINE_API_PORT: '0',
    DRIFTLINE_LOG_LEVEL: process.env.DRIFTLINE_LOG_LEVEL ?? 'error',
  };
}

/** The registry's production model: the shipped one, or a model trained on the sample when none is shipped. */
/** Also used by `driftline serve`, with the scorer's configured model name. */
export async function ensureModel(core: CoreSettings, MODEL_NAME = 'reviews'): Promise<string> {
  const registry = openRegistry(core.registryDir);
  const production = await registry.productionVersion(MODEL_NAME);
  if (production !== null) return `registry ${core.registryDir} already serves ${MODEL_NAME} v${production}`;
  const shipped = repoPath('models', 'default');
  if (existsSync(shipped)) {
    const seeded = await registry.seedFromDirectory(MODEL_NAME, shipped, { actor: 'demo' });
    return `registry seeded with the shipped default model (${MODEL_NAME} v${seeded?.version ?? '?'}, from models/default)`;
  }
  say('no shipped model: training one on the sample (a minute or two)');
  const report = await runTrainingJob({ files: [SAMPLE], name: MODEL_NAME, registry, promote: true, actor: 'demo' });
  return `trained ${MODEL_NAME} v${report.version} on the sample`;
}

interface SampleReview {
  review_id: string;
  source?: string | null;
}

/**
 * Phase 1 is the sample's held-out part — the reviews the shipped model never trained on, split exactly
 * as the trainer splits (review-id hash, same salt), from every source — because the reference baseline
 * is computed on held-out reviews: this is traffic that looks like the reference. It is shuffled by a
 * hash of the review id, since the sample file is in time order and streaming it so would put a
 * different era in every window (a real drift over time, but not this phase's point).
 * Phase 2 is one category only.
 */
function sampleLines(): { representative: string[]; shifted: SampleReview[] } {
  const reviews = readFileSync(SAMPLE, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ({ line, review_id: (JSON.parse(line) as SampleReview).review_id, review: JSON.parse(line) as SampleReview }));
  const order = (id: string): string => createHash('sha1').update(id).digest('hex');
  const representative = splitByReviewId(reviews, HOLDOUT_FRACTION, HOLDOUT_SALT)
    .held.sort((a, b) => order(a.review_id).localeCompare(order(b.review_id)))
    .map((r) => r.line);
  const shifted = reviews.filter((r) => r.review.source?.startsWith(SHIFT_SOURCE_PREFIX) === true).map((r) => r.review);
  return { representative, shifted };
}

/** Several passes over the shifted reviews, each with its own ids (ingest rejects a repeated id). */
function shiftedPasses(shifted: SampleReview[], passes: number): string[] {
  const lines: string[] = [];
  for (let pass = 1; pass <= passes; pass++) for (const review of shifted) lines.push(JSON.stringify({ ...review, review_id: `${review.review_id}~${pass}` }));
  return lines;
}

function withFreshIds(lines: string[], pass: string): string[] {
  return lines.map((line) => {
    const review = JSON.parse(line) as SampleReview;
    return JSON.stringify({ ...review, review_id: `${review.review_id}~${pass}` });
  });
}

async function ingestLines(name: string, lines: string[], core: CoreSettings, kafka: Kafka, rate: number): Promise<IngestSummary> {
  return ingestRecords(
    { name, stream: Readable.from([lines.join('\n') + '\n']) },
    { settings: core, kafka, format: 'jsonl', createTopics: false, ingest: { rate } },
  );
}

/** Counts committed records on a topic (read_committed) until `expected` arrive or the time is up. */
async function countCommitted(kafka: Kafka, topic: string, expected: number, timeoutMs: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `driftline-demo-count-${randomUUID()}`, readUncommitted: false });
  let count = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachBatch: async ({ batch }) => void (count += batch.messages.length) });
  const deadline = Date.now() + timeoutMs;
  while (count < expected && Date.now() < deadline) await sleep(250);
  await consumer.disconnect();
  return count;
}

/** The alert state changes on the topic: a count per kind of change and the first raise and recovery. */
async function readAlerts(kafka: Kafka, topic: string): Promise<DriftAlert[]> {
  const consumer = kafka.consumer({ groupId: `driftline-demo-alerts-${randomUUID()}` });
  const codec = codecFor('DriftAlert');
  const alerts: DriftAlert[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void alerts.push(codec.decode(message.value)) });
  await sleep(3_000);
  await consumer.disconnect();
  return alerts;
}

function printAlerts(alerts: DriftAlert[], topic: string): void {
  const byKind = new Map<string, number>();
  for (const alert of alerts) byKind.set(changeKind(alert), (byKind.get(changeKind(alert)) ?? 0) + 1);
  say(`alerts: ${alerts.length} state changes on ${topic} (${[...byKind].map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none'}), e.g.`);
  const recovered = alerts.find((a) => changeKind(a) === 'recovered' && a.segment === null);
  const raised = recovered ? alerts.find((a) => a.alert_id === recovered.alert_id) : alerts.find((a) => changeKind(a) === 'raised');
  for (const alert of [raised, recovered]) if (alert) say(`  ${alertLine(alert)}`);
}

function printWindows(windows: ClosedWindow[]): void {
  say('\ndrift windows (all segments):');
  say('  size  window start (UTC)        events  outlier%  conf   macroF1  status  raw red  features red/amber (after hysteresis)');
  for (const closed of windows.sort((a, b) => a.sizeMs - b.sizeMs || a.ref.start - b.ref.start)) {
    const all = closed.summaries.find((s) => s.segment === '__all__');
    if (!all) continue;
    const flagged = closed.rows
      .filter((r) => r.segment === '__all__' && r.status !== 'green')
      .sort((a, b) => (a.status === b.status ? 0 : a.status === 'red' ? -1 : 1));
    const worst = new Map<string, string>();
    for (const r of flagged) if (!worst.has(r.feature)) worst.set(r.feature, r.status); // red rows come first
    const shown = [...worst].slice(0, 3).map(([feature, status]) => `${feature}=${status}`).join(', ');
    const names = worst.size > 3 ? `${shown} +${worst.size - 3} more` : shown;
    const rawRed = closed.rows.filter((r) => r.segment === '__all__' && r.raw_status === 'red').length;
    say(
      `  ${formatDurationMs(closed.sizeMs).padEnd(4)}  ${new Date(all.window_start).toISOString().padEnd(25)} ${String(all.events).padStart(6)}  ${(all.outlier_rate * 100).toFixed(1).padStart(7)}  ` +
        `${all.mean_confidence.toFixed(2)}  ${all.macro_f1 === null ? '   -  ' : all.macro_f1.toFixed(3).padStart(6)}   ${all.status.padEnd(6)}  ${String(rawRed).padStart(7)}  ${names || '-'}`,
    );
  }
}

/** The segments of the most drifted counted window: each compared with its own reference where it has one. */
function printSegments(windows: ClosedWindow[]): void {
  const smallest = Math.min(...windows.map((w) => w.sizeMs));
  const rawRed = (w: ClosedWindow): number => w.rows.filter((r) => r.segment === '__all__' && r.raw_status === 'red').length;
  const worst = windows.filter((w) => w.sizeMs === smallest).sort((a, b) => rawRed(b) - rawRed(a))[0];
  if (!worst || rawRed(worst) === 0) return;
  const segments = worst.summaries
    .filter((s) => s.segment !== '__all__' && s.events > 0)
    .sort((a, b) => b.events - a.events)
    .slice(0, 6)
    .map((s) => `${s.segment} ${s.status} (${s.events} events, ${s.reference_scope} reference)`);
  say(`segments of the ${new Date(worst.ref.start).toISOString()} window: ${segments.join(', ') || '-'}`);
}

async function printClickHouse(clickhouse: ClickHouseClient, core: CoreSettings, sinceMs: number): Promise<void> {
  const db = core.clickhouseDatabase;
  const result = await clickhouse.query({
    query: `SELECT status, count() AS rows FROM ${db}.${DRIFT_METRICS_TABLE} FINAL
            WHERE model_name = {model:String} AND window_start >= fromUnixTimestamp64Milli({since:Int64}) GROUP BY status ORDER BY status`,
    query_params: { model: MODEL_NAME, since: sinceMs },
    format: 'JSONEachRow',
  });
  const rows = (await result.json()) as Array<{ status: string; rows: string | number }>;
  const windows = await clickhouse.query({
    query: `SELECT count() AS windows FROM ${db}.${WINDOW_SUMMARY_TABLE} FINAL
            WHERE model_name = {model:String} AND segment = '__all__' AND window_start >= fromUnixTimestamp64Milli({since:Int64})`,
    query_params: { model: MODEL_NAME, since: sinceMs },
    format: 'JSONEachRow',
  });
  const [{ windows: windowCount } = { windows: 0 }] = (await windows.json()) as Array<{ windows: string | number }>;
  say(`\nClickHouse (${core.clickhouseUrl || `embedded chdb at ${core.clickhousePath}`}): ${windowCount} window summaries, drift_metrics rows by status: ` +
    rows.map((r) => `${r.status}=${r.rows}`).join(', '));
}

async function runDemo(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const runId = `${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
  const env = demoEnv(runId, args);
  const core = coreSettings.load(env);
  const log = createLogger('demo', core.logLevel);
  const startedAt = Date.now();
  say(`Driftline demo ${runId}: topics driftline.demo-${runId}.*, windows of ${formatDurationMs(args.windowMs)} and ${formatDurationMs(4 * args.windowMs)} (merged from the ${formatDurationMs(args.windowMs)} sketches), ingest at ${args.rate} reviews/s`);
  say(await ensureModel(core));

  const kafka = createKafka(core, 'demo');
  await ensureTopics(kafka, driftlineTopics(core), core);
  const scorer = await runScorer({ env });
  const { aggregator, clickhouse, closeConnections } = await createLocalAggregator(core, env, kafka, log);
  const closedWindows: ClosedWindow[] = [];
  aggregator.onWindowClosed((closed) => closedWindows.push(closed));
  await aggregator.start();
  const api = await startApiServer({ core, settings: { port: 0, host: '127.0.0.1' }, clickhouseClient: clickhouse, logger: log });
  say(`scorer, drift aggregator and API (${api.url}) running; model ${MODEL_NAME} v${scorer.models.current().version} on ${scorer.models.current().backend}`);

  try {
    const { representative, shifted } = sampleLines();
    say(`\n1) ${representative.length} held-out sample reviews (all sources, never seen in training, shuffled): traffic like the reference`);
    const first = await ingestLines('sample:representative', representative, core, kafka, args.rate);
    // Start the shift in a fresh window, so one window holds only the shifted reviews.
    await sleep(args.windowMs - (Date.now() % args.windowMs) + 200);
    // The shift lasts ~2.5 windows: a feature's reported status changes only after
    // DRIFTLINE_DRIFT_HYSTERESIS_WINDOWS (2) consecutive windows, so one odd window raises no alarm.
    const shiftedStream = shiftedPasses(shifted, 6);
    const shiftRate = Math.ceil(shiftedStream.length / ((2.5 * args.windowMs) / 1000));
    say(`2) ${shiftedStream.length} reviews of one category only (${SHIFT_SOURCE_PREFIX}, six passes with fresh ids, ${shiftRate}/s): a distribution shift`);
    const second = await ingestLines('sample:shifted', shiftedStream, core, kafka, shiftRate);
    // Traffic like the reference again for ~2.5 windows: the drifted items recover (one alert each, same alert_id).
    const recoveryStream = [...withFreshIds(representative, 'r1'), ...withFreshIds(representative, 'r2')];
    const recoveryRate = Math.ceil(recoveryStream.length / ((2.5 * args.windowMs) / 1000));
    say(`3) ${recoveryStream.length} held-out reviews again (two passes with fresh ids, ${recoveryRate}/s): back to normal, a recovery`);
    const third = await ingestLines('sample:recovery', recoveryStream, core, kafka, recoveryRate);
    say(`4) the broken-records file ${BROKEN.replace(repoPath(), '.')}`);
    const broken = await ingestRecords(BROKEN, { settings: core, kafka, createTopics: false });
    const published = first.published + second.published + third.published + broken.published;
    const deadLettered = first.deadLettered + second.deadLettered + third.deadLettered + broken.deadLettered;
    say(`\ningest: ${published} published, ${deadLettered} dead-lettered ` +
      `(${Object.entries(broken.byErrorCode).map(([code, n]) => `${code}=${n}`).join(', ')})`);

    const scored = await countCommitted(kafka, core.topicScored, published, 120_000);
    say(`scorer: ${scored} of ${published} reviews scored exactly once (read_committed count)`);

    const predict = await fetch(`${api.url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reviews: [
          { id: 'demo-1', text: 'Arrived broken and the seller never answered. Waste of money.', rating: 5 },
          { id: 'demo-2', text: 'Lovely gift card, quick delivery, my niece was thrilled!' },
        ],
      }),
    });
    say(`\nAPI POST /v1/predict → ${predict.status}`);
    const answer = (await predict.json()) as { predictions?: Array<Record<string, unknown>> };
    for (const p of answer.predictions ?? []) {
      const probability = Number(p.confidence).toFixed(2);
      say(`  ${String(p.id)}: ${String(p.sentiment)} (${probability}), category ${String(p.category)}, outlier ${String(p.outlier_score)}` +
        `${p.outlier_flag ? ' FLAGGED' : ''}, shift ${String(p.shift_score)}${p.rating_text_disagreement ? ', rating/text disagree' : ''}`);
    }

    say(`\nwaiting for the last windows to close (idle ${env.DRIFTLINE_WINDOW_IDLE_CLOSE_MS} ms) ...`);
    const settleBy = Date.now() + 60_000;
    let lastCount = -1;
    while (Date.now() < settleBy && (closedWindows.length === 0 || closedWindows.length !== lastCount)) {
      lastCount = closedWindows.length;
      await sleep(args.windowMs + 4_000);
    }
    await aggregator.housekeeping();
    printWindows(closedWindows);
    printSegments(closedWindows);
    await printClickHouse(clickhouse, core, startedAt - 4 * args.windowMs); // the larger windows start up to 4 counted windows earlier
    printAlerts(await readAlerts(kafka, core.topicAlerts), core.topicAlerts);
    say(`\ndone in ${((Date.now() - startedAt) / 1000).toFixed(1)} s. Query the drift tables with the SQL in docs/drift.md ("Drift in ClickHouse").`);
    return scored === published ? 0 : 1;
  } finally {
    await api.close();
    await aggregator.stop();
    await scorer.stop();
    await closeConnections();
  }
}

export const commands: CliCommand[] = [
  {
    name: 'demo',
    summary: 'Run the whole pipeline on the sample data and report',
    usage:
      'usage: driftline demo [--window-ms 5000] [--rate 600]\n' +
      '  Seeds the default model, runs scorer + aggregator + API in this process, streams data/sample\n' +
      '  (a representative phase, one category only, representative again) and data/broken through ingest, and reports\n' +
      '  ingest counts, exactly-once scoring, drift windows (also read back from ClickHouse), alert state changes and an API call.',
    run: runDemo,
  },
];
