/**
 * One markdown table of every benchmark result (`node dist/bench/summary.js`, run last by scripts/bench.sh):
 * reads bench/results/*.json and prints `| benchmark | figure | value | goal |`, the table docs/benchmarks.md
 * quotes, followed by when each result was measured and under what load (the machine may be shared).
 * A result file this script does not know is listed with its top-level numbers.
 */
import { readFileSync } from 'node:fs';
import { resultFiles } from './lib.js';

type Json = unknown;

interface Row {
  figure: string;
  value: string;
  goal: string;
}

/** The value at a dotted path ('a.b.0.c'), or undefined. */
function at(data: Json, path: string): Json {
  let current: Json = data;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, Json>)[part];
  }
  return current;
}

function num(data: Json, path: string): number | undefined {
  const value = at(data, path);
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function list(data: Json, path: string): Json[] {
  const value = at(data, path);
  return Array.isArray(value) ? value : [];
}

function str(data: Json, path: string): string | undefined {
  const value = at(data, path);
  return typeof value === 'string' ? value : undefined;
}

function fmt(value: number | undefined, unit = '', digits = 0): string {
  if (value === undefined) return 'n/a';
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit ? ` ${unit}` : ''}`;
}

/** "≥ 20,000 reviews/s — met" / "— not met"; plain text when there is nothing to compare. */
function goal(text: string, met: boolean | undefined): string {
  return met === undefined ? text : `${text} — ${met ? 'met' : 'not met'}`;
}

function atLeast(value: number | undefined, target: number, unit: string): string {
  return goal(`≥ ${fmt(target)} ${unit}`, value === undefined ? undefined : value >= target);
}

function below(value: number | undefined, target: number, unit: string): string {
  return goal(`p99 < ${fmt(target)} ${unit}`, value === undefined ? undefined : value < target);
}

const NO_GOAL = '—';

function ingestRows(data: Json): Row[] {
  const rows: Row[] = [];
  const named = (name: string) => list(data, 'rows').filter((row) => str(row, 'name') === name);
  for (const row of named('validate + Avro encode (no Kafka)')) rows.push({ figure: 'validate + Avro encode, one core (no Kafka)', value: fmt(num(row, 'recordsPerSec'), 'records/s'), goal: NO_GOAL });
  for (const row of named('driftline ingest (file → Kafka)')) {
    rows.push({ figure: `driftline ingest file → Kafka, batch ${fmt(num(row, 'batchSize'))}`, value: fmt(num(row, 'recordsPerSec'), 'records/s'), goal: NO_GOAL });
  }
  const ceiling = Math.max(...named('plain kafkajs, all sends concurrent').map((row) => num(row, 'recordsPerSec') ?? 0));
  if (ceiling > 0) rows.push({ figure: 'plain kafkajs producer, all sends concurrent (broker ceiling)', value: fmt(ceiling, 'records/s'), goal: NO_GOAL });
  return rows;
}

function modelRuntimeRows(data: Json): Row[] {
  const rows: Row[] = [];
  const seconds = num(data, 'training.seconds');
  if (seconds !== undefined) {
    rows.push({ figure: `training, ${fmt(num(data, 'training.rows'))} reviews × ${fmt(num(data, 'training.epochs'))} epochs (${str(data, 'training.backend') ?? '?'})`, value: fmt(seconds, 's', 1), goal: NO_GOAL });
  }
  for (const row of list(data, 'scoring')) {
    rows.push({
      figure: `scoring, ${str(row, 'backend') ?? '?'} backend, batch ${fmt(num(row, 'batch'))}`,
      value: `${fmt(num(row, 'reviewsPerSecond'), 'reviews/s')} (${fmt(num(row, 'reviewsPerCpuSecond'))} per CPU-s)`,
      goal: NO_GOAL,
    });
  }
  return rows;
}

function driftMetricsRows(data: Json): Row[] {
  return [
    { figure: `drift assessment of one window (${fmt(num(data, 'window.monitoredValues'))} monitored values)`, value: fmt(num(data, 'window.microsPerWindow'), 'µs', 1), goal: NO_GOAL },
    { figure: 'histogram sketch add', value: fmt(num(data, 'addValuesPerSecond.histogram20Bins'), 'values/s'), goal: NO_GOAL },
    { figure: 'histogram sketch merge', value: fmt(num(data, 'mergesPerSecond.histogram20Bins'), 'merges/s'), goal: NO_GOAL },
    { figure: 'Redis increments round trip (toIncrements + fromHash)', value: fmt(num(data, 'redisIncrementsRoundTripsPerSecond'), '/s'), goal: NO_GOAL },
  ];
}

function aggregatorRows(data: Json): Row[] {
  const endToEnd = num(data, 'endToEndEventsPerSecond');
  const perCpu = num(data, 'endToEndEventsPerCpuSecond');
  const target = num(data, 'target.eventsPerSecond') ?? 50_000;
  return [
    { figure: 'pre-aggregation (decode + sketches, in memory)', value: fmt(num(data, 'preAggregationEventsPerSecond'), 'events/s'), goal: NO_GOAL },
    { figure: 'consume → sketches → Redis Lua apply → commit', value: fmt(endToEnd, 'events/s'), goal: atLeast(endToEnd, target, 'events/s') },
    ...(perCpu === undefined ? [] : [{ figure: 'the same per CPU-second of the aggregator process', value: fmt(perCpu, 'events/CPU-s'), goal: atLeast(perCpu, target, 'events/CPU-s') }]),
    { figure: `Redis apply per batch (~${fmt(num(data, 'redisApply.eventsPerCall'))} events)`, value: fmt(num(data, 'redisApply.meanMs'), 'ms', 1), goal: NO_GOAL },
    { figure: `window close, all metrics (~${fmt(num(data, 'windowClose.eventsPerWindow'))} events)`, value: fmt(num(data, 'windowClose.meanMs'), 'ms', 1), goal: NO_GOAL },
  ];
}

function scorerRows(data: Json): Row[] {
  const scorer = num(data, 'scorer.reviewsPerSecond');
  const ratio = num(data, 'ratio.scorerOverTransactionalPassthrough');
  const ratioGoal = num(data, 'goals.ratioOverPassthrough') ?? 0.6;
  const latencyRow = (path: string): Row[] => {
    const p99Ms = num(data, `${path}.p99Ms`);
    if (p99Ms === undefined) return [];
    const firstSeconds = num(data, `${path}.firstSeconds`);
    const warmup = firstSeconds === undefined ? '' : `, from the first second at the rate; p99 of the first ${firstSeconds} s ${fmt(num(data, `${path}.firstSecondsP99Ms`))} ms, of the rest ${fmt(num(data, `${path}.afterFirstSecondsP99Ms`))} ms`;
    return [
      {
        figure: `ingest time → scored event readable at ${fmt(num(data, `${path}.ratePerSecond`))}/s (p50 / p99${warmup})`,
        value: `${fmt(num(data, `${path}.p50Ms`))} / ${fmt(p99Ms)} ms`,
        goal: below(p99Ms, num(data, 'goals.p99Ms') ?? 250, 'ms'),
      },
    ];
  };
  return [
    { figure: 'Kafka passthrough, plain (consume → produce)', value: fmt(num(data, 'passthrough.plain.reviewsPerSecond'), 'reviews/s'), goal: NO_GOAL },
    { figure: 'Kafka passthrough, transactional', value: fmt(num(data, 'passthrough.transactional.reviewsPerSecond'), 'reviews/s'), goal: NO_GOAL },
    { figure: 'scorer sustained (exactly-once, real model)', value: fmt(scorer, 'reviews/s'), goal: atLeast(scorer, num(data, 'goals.reviewsPerSecond') ?? 20_000, 'reviews/s') },
    { figure: 'scorer / transactional passthrough', value: ratio === undefined ? 'n/a' : `${(ratio * 100).toFixed(0)}%`, goal: goal(`≥ ${(ratioGoal * 100).toFixed(0)}%`, ratio === undefined ? undefined : ratio >= ratioGoal) },
    ...latencyRow('latencyBelowCapacity'),
    ...latencyRow('latency'),
  ];
}

/** ' (median of 3 runs; p99 9–12 ms)' when the scenario was run several times. */
function runRange(scenario: Json): string {
  const p99s = list(scenario, 'runs').map((run) => num(run, 'p99')).filter((v): v is number => v !== undefined);
  if (p99s.length < 2) return '';
  return ` (median of ${p99s.length} runs; p99 ${Math.min(...p99s)}–${Math.max(...p99s)} ms)`;
}

function apiRows(data: Json): Row[] {
  return list(data, 'scenarios').map((scenario) => {
    const p99 = num(scenario, 'latency_ms.p99');
    const p999 = num(scenario, 'latency_ms.p99_9');
    const floorP99 = num(scenario, 'floor_latency_ms.p99.median');
    return {
      figure: `POST /v1/predict, ${str(scenario, 'name') ?? '?'} at ${fmt(num(scenario, 'target_rate_rps'))} req/s (p50 / p99${p999 === undefined ? '' : ' / p99.9'})`,
      value:
        `${fmt(num(scenario, 'latency_ms.p50'), '', 1)} / ${p999 === undefined ? fmt(p99, 'ms', 1) : `${fmt(p99, '', 1)} / ${fmt(p999, 'ms', 1)}`}${runRange(scenario)}` +
        (floorP99 === undefined ? '' : `; bare-Fastify floor p99 ${fmt(floorP99, 'ms', 1)}`),
      goal: below(p99, num(scenario, 'goal_p99_ms') ?? Number.NaN, 'ms'),
    };
  });
}

function pipelineRows(data: Json): Row[] {
  const throughput = num(data, 'throughput.reviewsPerSecond');
  const ratio = num(data, 'ratio.pipelineOverCeiling');
  const ratioGoal = num(data, 'goals.ratioOverCeiling') ?? 0.6;
  const rows: Row[] = [
    {
      figure: `whole pipeline sustained, ${fmt(num(data, 'throughput.counted'))} reviews (first ingest → last counted in Redis)`,
      value: fmt(throughput, 'reviews/s'),
      goal: atLeast(throughput, num(data, 'goals.reviewsPerSecond') ?? 20_000, 'reviews/s'),
    },
  ];
  for (const latency of list(data, 'latency')) {
    const p99 = num(latency, 'p99Ms');
    const sustained = at(latency, 'sustained') === true;
    rows.push({
      figure: `ingest time → scored event readable at ${fmt(num(latency, 'targetRate'))}/s (p50 / p95 / p99)${sustained ? '' : `, NOT sustained (ingest ${fmt(num(latency, 'achievedIngestRate'))}/s)`}`,
      value: `${fmt(num(latency, 'p50Ms'))} / ${fmt(num(latency, 'p95Ms'))} / ${fmt(p99)} ms`,
      goal: below(sustained ? p99 : Number.POSITIVE_INFINITY, num(data, 'goals.p99Ms') ?? 250, 'ms'),
    });
  }
  rows.push({ figure: 'raw Kafka ceiling: produce → relay → consume, same bytes', value: fmt(num(data, 'ceiling.messagesPerSecond'), 'messages/s'), goal: NO_GOAL });
  rows.push({ figure: 'pipeline / raw Kafka ceiling', value: ratio === undefined ? 'n/a' : `${(ratio * 100).toFixed(0)}%`, goal: goal(`≥ ${(ratioGoal * 100).toFixed(0)}%`, ratio === undefined ? undefined : ratio >= ratioGoal) });
  const estimate = num(data, 'throughput.cpuBoundEstimate');
  if (estimate !== undefined) rows.push({ figure: 'derived: CPU-bound pipeline rate if it had the cores to itself', value: fmt(estimate, 'reviews/s'), goal: NO_GOAL });
  return rows;
}

/** Top-level numbers of a result this script has no extractor for. */
function genericRows(data: Json): Row[] {
  if (data === null || typeof data !== 'object') return [];
  return Object.entries(data as Record<string, Json>)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([key, value]) => ({ figure: key, value: fmt(value, '', 2), goal: NO_GOAL }));
}

const EXTRACTORS: Record<string, (data: Json) => Row[]> = {
  ingest: ingestRows,
  'model-runtime': modelRuntimeRows,
  'drift-metrics': driftMetricsRows,
  aggregator: aggregatorRows,
  scorer: scorerRows,
  api: apiRows,
  pipeline: pipelineRows,
};
/** Pipeline order: docs/benchmarks.md reads the table top to bottom as data flows. */
const ORDER = ['ingest', 'model-runtime', 'scorer', 'drift-metrics', 'aggregator', 'api', 'pipeline'];

/** When and under which 1-minute load a result was measured (each bench spells it its own way). */
function measuredAt(data: Json): { when: string; load: number | undefined; cpu: string | undefined; cores: number | undefined } {
  const when = ['at', 'date', 'time', 'generatedAt'].map((path) => str(data, path)).find(Boolean) ?? '?';
  const loadPaths = ['loadAverage.start.0', 'loadAverage1m.before', 'machine.loadAverage.0', 'machine.loadAverage1m', 'machine.loadavg.0', 'machine.load_average_1m_at_start', 'machine.loadavgAtEnd.0'];
  const load = loadPaths.map((path) => num(data, path)).find((value) => value !== undefined);
  const cpu = ['machine.cpuModel', 'machine.cpu'].map((path) => str(data, path)).find(Boolean);
  const cores = ['machine.cores', 'machine.cpus', 'machine.cpuCount'].map((path) => num(data, path)).find((value) => value !== undefined);
  return { when, load, cpu, cores };
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function main(): void {
  const files = resultFiles().sort(([a], [b]) => {
    const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  if (files.length === 0) {
    process.stdout.write('no results in bench/results/ (run `npm run bench`)\n');
    return;
  }
  const lines = ['| benchmark | figure | value | goal |', '|---|---|---:|---|'];
  const notes: string[] = [];
  const machines = new Set<string>();
  for (const [name, path] of files) {
    let data: Json;
    try {
      data = JSON.parse(readFileSync(path, 'utf8')) as Json;
    } catch (err) {
      notes.push(`- ${name}: unreadable (${(err as Error).message})`);
      continue;
    }
    const rows = (EXTRACTORS[name] ?? genericRows)(data);
    for (const row of rows) lines.push(`| ${name} | ${escapeCell(row.figure)} | ${escapeCell(row.value)} | ${escapeCell(row.goal)} |`);
    const measured = measuredAt(data);
    if (measured.cpu) machines.add(`${measured.cpu}${measured.cores ? `, ${measured.cores} cores` : ''}`);
    notes.push(`- ${name}: ${measured.when}, 1-minute load average ${measured.load === undefined ? 'not recorded' : measured.load.toFixed(1)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n\nMeasured on ${[...machines].join('; ') || 'an unrecorded machine'}:\n${notes.join('\n')}\n`);
}

main();
