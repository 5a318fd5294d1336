/**
 * API benchmark: the real server (api/main.ts in its own process, so the load generator does not
 * steal its event loop) on 127.0.0.1, driven open-loop at fixed request rates (bench/open-loop.ts: request i
 * is due at i / rate and its latency counts from then; --generator autocannon for the earlier generator):
 *   1. single-review POST /v1/predict at 500 requests/s   (goal: p99 < 10 ms)
 *   2. batches of 100 reviews at 20 requests/s             (goal: p99 < 50 ms)
 * Beside each, in the same round, the floor: a bare Fastify server (bench/api-floor-server.ts) on the same
 * CPU, given the same bodies at the same rate over the same connections, answering `{}`.
 *
 * Reviews are real ones from the Amazon 2018 part of data/reviews/ (shipped), rotated so no two consecutive
 * requests are identical. After a warm-up of both request shapes, --runs rounds (3) each measure floor
 * and API for both shapes; reported are the median p50/p99/p99.9 of the rounds with their range.
 *
 * Where the machine allows (taskset, ≥ 2 CPUs) the servers are pinned to the last CPU and this process
 * (the load generator) to the others, so the generator does not preempt the server (--no-pin: unpinned).
 * The API runs with --trace-gc: every collection during a measured run is counted with its pause, and
 * the pauses' share of the run's wall time is reported (GC share). --cpu-prof <dir> also writes a V8 CPU
 * profile of the API process (when it stops) into <dir> (bench/profile-summary.ts summarises it).
 * Prints the figures and writes bench/results/api.json.
 *
 *   node dist/bench/api.js [--duration 20] [--warmup 3] [--runs 3] [--single-rate 500] [--batch-rate 20]
 *                          [--batch-size 100] [--only single|batch] [--no-pin] [--cpu-prof DIR] [--server-flags "--flag ..."] [--generator open-loop|autocannon]
 *                          [--arrivals uniform|poisson]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join, resolve } from 'node:path';
import { AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines, repoPath } from '../core/paths.js';
import { entryArgs, freePort, writeResult } from './lib.js';
import { openLoop, quantile } from './open-loop.js';

interface Histogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  p99_9: number;
}

interface AutocannonResult {
  latency: Histogram;
  requests: Histogram & { total: number; sent: number };
  throughput: Histogram;
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  '2xx': number;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  overallRate?: number;
  pipelining?: number;
  timeout?: number;
  requests: Array<AutocannonRequest & { setupRequest?: (request: AutocannonRequest) => AutocannonRequest }>;
}

type Autocannon = (options: AutocannonOptions) => Promise<AutocannonResult>;

// autocannon ships no type declarations; the few fields used here are typed above.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function textArgument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const DURATION_S = argument('duration', 20);
const WARMUP_S = argument('warmup', 3);
/** Rounds; each measures floor and API for every scenario. Medians and ranges are over the rounds. */
const RUNS = argument('runs', 3);
const SINGLE_RATE = argument('single-rate', 500);
const BATCH_RATE = argument('batch-rate', 20);
const BATCH_SIZE = argument('batch-size', 100);
const ONLY = textArgument('only');
const CPU_PROF_DIR = textArgument('cpu-prof');
/** Extra Node flags for the API process, space-separated (e.g. "--single-threaded-gc"), to try V8 settings. */
const SERVER_FLAGS = (textArgument('server-flags') ?? '').split(' ').filter((flag) => flag !== '');
const PIN = !process.argv.includes('--no-pin');
/** open-loop (bench/open-loop.ts, the default) or autocannon (how figures before 2026-12-07 were taken). */
const GENERATOR = textArgument('generator') ?? 'open-loop';
/** Open loop: evenly spaced requests (uniform, the default) or Poisson arrivals (exponential gaps, seeded). */
const ARRIVALS = textArgument('arrivals') === 'poisson' ? 'poisson' : 'uniform';
const CONNECTIONS_SINGLE = 20;
const CONNECTIONS_BATCH = 8;

interface Review {
  review_id: string;
  text: string;
  title: string | null;
  category: string | null;
  rating: number;
}

function loadReviews(limit: number): Review[] {
  const lines = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX);
  return lines.slice(0, limit).map((line) => JSON.parse(line) as Review);
}

function item(review: Review): Record<string, unknown> {
  return { id: review.review_id, text: review.text, title: review.title, category: review.category, rating: review.rating };
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server process exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/ready`);
      if (response.ok) return (await response.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('the server did not become ready in time');
}

function rotating(bodies: string[]): (request: AutocannonRequest) => AutocannonRequest {
  let next = 0;
  return (request) => ({ ...request, body: bodies[next++ % bodies.length] });
}

/**
 * CPU pinning, when the machine allows it: the servers on the last CPU, this process (autocannon) on the
 * others. Returns the taskset prefix for the servers, or null when not pinned (no taskset, one CPU, --no-pin).
 */
function pinning(): { serverCpu: number; generatorCpus: string } | null {
  const count = cpus().length;
  if (!PIN || count < 2) return null;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const serverCpu = count - 1;
  const generatorCpus = count === 2 ? '0' : `0-${count - 2}`;
  execFileSync('taskset', ['-a', '-p', '-c', generatorCpus, String(process.pid)], { stdio: 'ignore' });
  return { serverCpu, generatorCpus };
}

function spawnPinned(pin: ReturnType<typeof pinning>, args: string[], env: NodeJS.ProcessEnv, stdout: 'inherit' | 'pipe'): ChildProcess {
  const [command, argv] = pin ? ['taskset', ['-c', String(pin.serverCpu), process.execPath, ...args]] : [process.execPath, args];
  return spawn(command as string, argv as string[], { cwd: repoPath(), env, stdio: ['ignore', stdout, 'inherit'] });
}

/** One garbage collection of the API process, from a --trace-gc line. */
interface GcEvent {
  kind: string;
  pauseMs: number;
  /** Heap size before minus after (MB). */
  collectedMb: number;
}

// e.g. "[123:0x5f…]   10234 ms: Scavenge 12.1 (14.0) -> 11.3 (15.0) MB, 1.52 / 0.00 ms  (average mu = …) allocation failure;"
const TRACE_GC = /\d+ ms: ([A-Za-z -]+?)(?: \([a-z ]+\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

/** Collects the API's --trace-gc lines from its stdout; other lines (warnings, errors) are passed through. */
function gcCollector(child: ChildProcess): { events: GcEvent[] } {
  const events: GcEvent[] = [];
  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = TRACE_GC.exec(line);
      if (match) events.push({ kind: match[1]!.trim(), pauseMs: Number(match[4]), collectedMb: Number(match[2]) - Number(match[3]) });
      else if (line.trim() !== '') process.stdout.write(`[api] ${line}\n`);
    }
  });
  return { events };
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); clock ticks are 100/s. */
function processCpuSeconds(pid: number): number | null {
  try {
    // The fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
    const [, after] = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ');
    const [utime, stime] = (after ?? '').split(' ').slice(11, 13);
    if (utime === undefined || stime === undefined) return null;
    return (Number(utime) + Number(stime)) / 100;
  } catch {
    return null;
  }
}

interface Scenario {
  name: string;
  reviews_per_request: number;
  target_rate_rps: number;
  goal_p99_ms: number;
  connections: number;
  bodies: string[];
}

interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
  mean: number;
}

interface RunResult {
  latency_ms: Latency;
  /** Open loop only: from the moment the request was written (no wait for a free connection). */
  service_ms?: { p50: number; p99: number; p99_9: number };
  requests_total: number;
  requests_per_s: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  server_cpu_ms_per_request: number | null;
  gc?: {
    collections: number;
    scavenges: number;
    mark_compacts: number;
    pause_ms: number;
    max_pause_ms: number;
    max_scavenge_ms: number;
    pauses_over_5ms: number;
    /** Heap freed by the run's collections (before - after, MB): about what the run allocated. */
    allocated_mb: number;
    share_of_wall: number;
  };
}

interface Target {
  url: string;
  path: string;
  pid: number;
  gc?: { events: GcEvent[] };
}

async function measure(target: Target, scenario: Scenario, duration: number): Promise<RunResult> {
  const cpuBefore = processCpuSeconds(target.pid);
  const gcBefore = target.gc?.events.length ?? 0;
  const started = performance.now();
  const run = GENERATOR === 'autocannon' ? await viaAutocannon(target, scenario, duration) : await viaOpenLoop(target, scenario, duration);
  const wallMs = performance.now() - started;
  const cpuAfter = processCpuSeconds(target.pid);
  // Server CPU per request does not depend on how busy the shared machine is (waiting is not counted).
  run.server_cpu_ms_per_request = cpuBefore !== null && cpuAfter !== null && run.requests_total > 0 ? Number((((cpuAfter - cpuBefore) * 1000) / run.requests_total).toFixed(3)) : null;
  if (target.gc) {
    // The last trace lines of the run may still be in the pipe.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const events = target.gc.events.slice(gcBefore);
    const pause = events.reduce((sum, e) => sum + e.pauseMs, 0);
    run.gc = {
      collections: events.length,
      scavenges: events.filter((e) => e.kind === 'Scavenge').length,
      mark_compacts: events.filter((e) => e.kind.startsWith('Mark-Compact')).length,
      pause_ms: Number(pause.toFixed(1)),
      max_pause_ms: Number(Math.max(0, ...events.map((e) => e.pauseMs)).toFixed(2)),
      max_scavenge_ms: Number(Math.max(0, ...events.filter((e) => e.kind === 'Scavenge').map((e) => e.pauseMs)).toFixed(2)),
      pauses_over_5ms: events.filter((e) => e.pauseMs > 5).length,
      allocated_mb: Number(events.reduce((sum, e) => sum + e.collectedMb, 0).toFixed(1)),
      share_of_wall: Number((pause / wallMs).toFixed(4)),
    };
  }
  return run;
}

const ms = (value: number): number => Number(value.toFixed(1));

async function viaOpenLoop(target: Target, scenario: Scenario, duration: number): Promise<RunResult> {
  const result = await openLoop({ url: target.url, path: target.path, rate: scenario.target_rate_rps, durationS: duration, connections: scenario.connections, bodies: scenario.bodies, arrivals: ARRIVALS });
  const l = result.latenciesMs;
  const mean = l.reduce((a, b) => a + b, 0) / Math.max(l.length, 1);
  return {
    latency_ms: { p50: ms(quantile(l, 0.5)), p90: ms(quantile(l, 0.9)), p99: ms(quantile(l, 0.99)), p99_9: ms(quantile(l, 0.999)), max: ms(quantile(l, 1)), mean: ms(mean) },
    service_ms: { p50: ms(quantile(result.serviceMs, 0.5)), p99: ms(quantile(result.serviceMs, 0.99)), p99_9: ms(quantile(result.serviceMs, 0.999)) },
    requests_total: result.requests,
    requests_per_s: result.ratePerS,
    errors: result.errors,
    timeouts: 0,
    non2xx: result.non2xx,
    server_cpu_ms_per_request: null,
  };
}

/** The earlier generator, for comparison with figures taken with it (see bench/open-loop.ts for why it is not the default). */
async function viaAutocannon(target: Target, scenario: Scenario, duration: number): Promise<RunResult> {
  const result = await autocannon({
    url: `${target.url}${target.path}`,
    connections: scenario.connections,
    duration,
    overallRate: scenario.target_rate_rps,
    timeout: 10,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: rotating(scenario.bodies) }],
  });
  const { latency } = result;
  return {
    latency_ms: { p50: latency.p50, p90: latency.p90, p99: latency.p99, p99_9: latency.p99_9, max: latency.max, mean: latency.mean },
    requests_total: result.requests.total,
    requests_per_s: Number(result.requests.average.toFixed(1)),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    server_cpu_ms_per_request: null,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function spread(values: number[]): { median: number; min: number; max: number } {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function rangeText(values: number[]): string {
  const s = spread(values);
  return values.length > 1 ? `${s.median} (${s.min}–${s.max})` : `${s.median}`;
}

async function main(): Promise<void> {
  const reviews = loadReviews(2_000);
  const singleBodies = reviews.map((review) => JSON.stringify({ reviews: [item(review)] }));
  const batchBodies: string[] = [];
  for (let start = 0; start + BATCH_SIZE <= reviews.length; start += BATCH_SIZE) {
    batchBodies.push(JSON.stringify({ reviews: reviews.slice(start, start + BATCH_SIZE).map(item) }));
  }
  const scenarios: Scenario[] = [
    { name: 'single review', reviews_per_request: 1, target_rate_rps: SINGLE_RATE, goal_p99_ms: 10, connections: CONNECTIONS_SINGLE, bodies: singleBodies },
    { name: `batch of ${BATCH_SIZE}`, reviews_per_request: BATCH_SIZE, target_rate_rps: BATCH_RATE, goal_p99_ms: 50, connections: CONNECTIONS_BATCH, bodies: batchBodies },
  ].filter((s) => ONLY === undefined || s.name.startsWith(ONLY));

  // The machine is shared: the load before and after is part of the result.
  const loadAtStart = loadavg().map((v) => Number(v.toFixed(2)));
  const pin = pinning();
  process.stdout.write(pin ? `pinned: servers on CPU ${pin.serverCpu}, load generator on CPU ${pin.generatorCpus}\n` : 'not pinned\n');
  const work = mkdtempSync(join(tmpdir(), 'driftline-bench-api-'));
  const [port, floorPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const floorUrl = `http://127.0.0.1:${floorPort}`;
  const nodeFlags = ['--trace-gc', ...(CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', resolve(CPU_PROF_DIR)] : []), ...SERVER_FLAGS];
  const child = spawnPinned(
    pin,
    [...nodeFlags, ...entryArgs('api/main.ts')],
    {
      ...process.env,
      DRIFTLINE_API_HOST: '127.0.0.1',
      DRIFTLINE_API_PORT: String(port),
      DRIFTLINE_API_FOLLOW_PROMOTIONS: 'false',
      DRIFTLINE_REGISTRY_DIR: join(work, 'registry'),
      DRIFTLINE_CLICKHOUSE_PATH: join(work, 'chdb'),
      DRIFTLINE_LOG_LEVEL: 'warn',
    },
    'pipe',
  );
  const gc = gcCollector(child);
  const floor = spawnPinned(pin, entryArgs('bench/api-floor-server.ts', [String(floorPort), String(8 * 1024 * 1024)]), process.env, 'inherit');
  try {
    const ready = await waitReady(url, child);
    await waitReady(floorUrl, floor);
    const model = ready.model as { name: string; version: number };
    process.stdout.write(`API ready at ${url}, model ${model.name} v${model.version}; floor at ${floorUrl}; warming up\n`);
    const api: Target = { url, path: '/v1/predict', pid: child.pid ?? 0, gc };
    const bare: Target = { url: floorUrl, path: '/empty', pid: floor.pid ?? 0 };
    // Both request shapes are warmed up on both servers (JIT, tfjs kernels for their batch sizes) before any is measured.
    for (const target of [api, bare]) {
      for (const bodies of [singleBodies, batchBodies]) {
        await autocannon({
          url: `${target.url}${target.path}`,
          connections: 4,
          duration: WARMUP_S,
          requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: rotating(bodies) }],
        });
      }
    }

    const rounds = new Map<string, Array<{ api: RunResult; floor: RunResult }>>(scenarios.map((s) => [s.name, []]));
    for (let round = 1; round <= RUNS; round++) {
      for (const scenario of scenarios) {
        const floorRun = await measure(bare, scenario, DURATION_S);
        const apiRun = await measure(api, scenario, DURATION_S);
        rounds.get(scenario.name)!.push({ api: apiRun, floor: floorRun });
        const a = apiRun.latency_ms;
        const f = floorRun.latency_ms;
        process.stdout.write(
          `round ${round} ${scenario.name}: API p50 ${a.p50} / p99 ${a.p99} / p99.9 ${a.p99_9} ms (${apiRun.requests_per_s} req/s, errors ${apiRun.errors}, non-2xx ${apiRun.non2xx}, ` +
            `CPU ${apiRun.server_cpu_ms_per_request ?? '?'} ms/request, GC ${apiRun.gc?.collections ?? '?'} collections ${apiRun.gc?.pause_ms ?? '?'} ms = ` +
            `${((apiRun.gc?.share_of_wall ?? 0) * 100).toFixed(2)} % of wall, longest ${apiRun.gc?.max_pause_ms ?? '?'} ms (scavenge ${apiRun.gc?.max_scavenge_ms ?? '?'}), ` +
            `${apiRun.gc?.pauses_over_5ms ?? '?'} over 5 ms, ~${apiRun.gc ? ((apiRun.gc.allocated_mb * 1024) / apiRun.requests_total).toFixed(0) : '?'} KB/request collected); ` +
            `floor p50 ${f.p50} / p99 ${f.p99} / p99.9 ${f.p99_9} ms (CPU ${floorRun.server_cpu_ms_per_request ?? '?'} ms/request)` +
            (apiRun.service_ms ? `; API from write: p99 ${apiRun.service_ms.p99} / p99.9 ${apiRun.service_ms.p99_9} ms` : '') +
            '\n',
        );
      }
    }

    const summaries = scenarios.map((scenario) => {
      const runs = rounds.get(scenario.name)!;
      const pick = (key: keyof Latency, side: 'api' | 'floor'): number[] => runs.map((r) => r[side].latency_ms[key]);
      const latency = {
        p50: median(pick('p50', 'api')),
        p90: median(pick('p90', 'api')),
        p99: median(pick('p99', 'api')),
        p99_9: median(pick('p99_9', 'api')),
        max: median(pick('max', 'api')),
        mean: median(pick('mean', 'api')),
      };
      const errors = runs.reduce((sum, r) => sum + r.api.errors + r.api.non2xx, 0);
      const gcPause = runs.map((r) => r.api.gc?.pause_ms ?? 0);
      const gcShare = runs.map((r) => r.api.gc?.share_of_wall ?? 0);
      const summary = {
        name: scenario.name,
        reviews_per_request: scenario.reviews_per_request,
        target_rate_rps: scenario.target_rate_rps,
        goal_p99_ms: scenario.goal_p99_ms,
        connections: scenario.connections,
        duration_s: DURATION_S,
        // Medians over the rounds, each percentile on its own.
        latency_ms: latency,
        range_ms: { p50: spread(pick('p50', 'api')), p99: spread(pick('p99', 'api')), p99_9: spread(pick('p99_9', 'api')) },
        floor_latency_ms: { p50: spread(pick('p50', 'floor')), p99: spread(pick('p99', 'floor')), p99_9: spread(pick('p99_9', 'floor')) },
        server_cpu_ms_per_request: median(runs.map((r) => r.api.server_cpu_ms_per_request ?? Number.NaN)),
        floor_cpu_ms_per_request: median(runs.map((r) => r.floor.server_cpu_ms_per_request ?? Number.NaN)),
        gc: {
          collections: spread(runs.map((r) => r.api.gc?.collections ?? 0)),
          pause_ms: spread(gcPause),
          max_pause_ms: Math.max(...runs.map((r) => r.api.gc?.max_pause_ms ?? 0)),
          pauses_over_5ms: spread(runs.map((r) => r.api.gc?.pauses_over_5ms ?? 0)),
          collected_kb_per_request: spread(runs.map((r) => Number((((r.api.gc?.allocated_mb ?? 0) * 1024) / Math.max(r.api.requests_total, 1)).toFixed(1)))),
          share_of_wall: spread(gcShare),
        },
        requests_per_s: median(runs.map((r) => r.api.requests_per_s)),
        errors,
        goal_met: latency.p99 < scenario.goal_p99_ms && errors === 0,
        runs: runs.map((r) => ({ ...r.api.latency_ms, requests_total: r.api.requests_total, errors: r.api.errors, non2xx: r.api.non2xx, server_cpu_ms_per_request: r.api.server_cpu_ms_per_request, gc: r.api.gc, service_ms: r.api.service_ms, floor: r.floor.latency_ms })),
      };
      process.stdout.write(
        `${scenario.name} at ${scenario.target_rate_rps} req/s, median of ${runs.length} (range): p50 ${rangeText(pick('p50', 'api'))}, p99 ${rangeText(pick('p99', 'api'))}, ` +
          `p99.9 ${rangeText(pick('p99_9', 'api'))} ms (goal p99 < ${scenario.goal_p99_ms} ms: ${summary.goal_met ? 'met' : 'NOT met'}); ` +
          `floor p50 ${rangeText(pick('p50', 'floor'))}, p99 ${rangeText(pick('p99', 'floor'))}, p99.9 ${rangeText(pick('p99_9', 'floor'))} ms; ` +
          `GC ${rangeText(gcPause)} ms per ${DURATION_S} s = ${rangeText(gcShare.map((v) => Number((v * 100).toFixed(2))))} % of wall\n`,
      );
      return summary;
    });

    const readyAtEnd = await waitReady(url, child);
    const results = {
      benchmark: 'api',
      generator: GENERATOR,
      arrivals: GENERATOR === 'autocannon' ? null : ARRIVALS,
      at: new Date().toISOString(),
      tool:
        GENERATOR === 'autocannon'
          ? 'autocannon 8 (overallRate: per-connection per-second budgets; its coordinated-omission correction records a response of L ms L times)'
          : `open loop (bench/open-loop.ts), ${ARRIVALS} arrivals at the target rate, latency from each request's due time, keep-alive connection pool`,
      setup: 'server in a separate process; floor: bare Fastify (bench/api-floor-server.ts) in the same rounds; GC from the API\'s --trace-gc',
      pinning: pin ? { server_cpu: pin.serverCpu, generator_cpus: pin.generatorCpus } : null,
      server_node_flags: SERVER_FLAGS,
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memory_gb: Number((totalmem() / 2 ** 30).toFixed(1)),
        free_memory_gb: Number((freemem() / 2 ** 30).toFixed(1)),
        load_average_at_start: loadAtStart,
        load_average_at_end: loadavg().map((v) => Number(v.toFixed(2))),
        os: `${osType()} ${release()}`,
        node: process.version,
      },
      model,
      ready: readyAtEnd,
      scenarios: summaries,
    };
    writeResult('api', results);
    process.stdout.write(`wrote bench/results/api.json (load average ${loadAtStart.join(' ')} at start, ${results.machine.load_average_at_end.join(' ')} at end)\n`);
  } finally {
    for (const proc of [child, floor]) {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((resolve) => proc.once('exit', resolve));
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
