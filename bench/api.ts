/**
 * API benchmark: the real server (api/main.ts in its own process, so the load generator does not
 * steal its event loop) on 127.0.0.1, driven by autocannon at fixed request rates:
 *   1. single-review POST /v1/predict at 500 requests/s   (goal: p99 < 10 ms)
 *   2. batches of 100 reviews at 20 requests/s             (goal: p99 < 50 ms)
 * Reviews are real ones from the Amazon 2018 part of data/reviews/ (shipped), rotated so no two consecutive
 * requests are identical. Each scenario runs --runs times (3) after a warm-up of both request shapes; the
 * run with the median p99 is reported. Prints the figures and writes bench/results/api.json.
 *
 *   node dist/bench/api.js [--duration 20] [--warmup 3] [--single-rate 500] [--batch-rate 20] [--batch-size 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines, repoPath } from '../core/paths.js';
import { entryArgs, freePort, writeResult } from './lib.js';

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

const DURATION_S = argument('duration', 20);
const WARMUP_S = argument('warmup', 3);
/** Each scenario runs this many times; the run with the median p99 is reported, with every run's p50/p99. */
const RUNS = argument('runs', 3);
const SINGLE_RATE = argument('single-rate', 500);
const BATCH_RATE = argument('batch-rate', 20);
const BATCH_SIZE = argument('batch-size', 100);

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


async function waitReady(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<{ name: string; version: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the API process exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/ready`);
      if (response.ok) return ((await response.json()) as { model: { name: string; version: number } }).model;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error('the API did not become ready in time');
}

function rotating(bodies: string[]): (request: AutocannonRequest) => AutocannonRequest {
  let next = 0;
  return (request) => ({ ...request, body: bodies[next++ % bodies.length] });
}

interface Scenario {
  name: string;
  reviews_per_request: number;
  target_rate_rps: number;
  goal_p99_ms: number;
}

/** CPU seconds (user + system) the server process has used, from /proc (Linux); clock ticks are 100/s. */
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

async function run(url: string, pid: number, scenario: Scenario, bodies: string[], duration: number): Promise<Record<string, unknown>> {
  const cpuBefore = processCpuSeconds(pid);
  const result = await autocannon({
    url: `${url}/v1/predict`,
    connections: scenario.reviews_per_request === 1 ? 20 : 8,
    duration,
    overallRate: scenario.target_rate_rps,
    timeout: 10,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: rotating(bodies) }],
  });
  const cpuAfter = processCpuSeconds(pid);
  // Server CPU per request does not depend on how busy the shared machine is (waiting is not counted).
  const cpuMsPerRequest = cpuBefore !== null && cpuAfter !== null && result.requests.total > 0 ? ((cpuAfter - cpuBefore) * 1000) / result.requests.total : null;
  const summary = {
    ...scenario,
    server_cpu_ms_per_request: cpuMsPerRequest === null ? null : Number(cpuMsPerRequest.toFixed(3)),
    duration_s: duration,
    requests_total: result.requests.total,
    requests_per_s: Number(result.requests.average.toFixed(1)),
    reviews_per_s: Number((result.requests.average * scenario.reviews_per_request).toFixed(1)),
    latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, p99_9: result.latency.p99_9, max: result.latency.max, mean: result.latency.mean },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    goal_met: result.latency.p99 < scenario.goal_p99_ms && result.errors === 0 && result.non2xx === 0,
  };
  process.stdout.write(
    `${scenario.name}: ${summary.requests_per_s} req/s (${summary.reviews_per_s} reviews/s), p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms ` +
      `(goal < ${scenario.goal_p99_ms} ms: ${summary.goal_met ? 'met' : 'NOT met'}), errors ${result.errors}, non-2xx ${result.non2xx}, ` +
      `server CPU ${summary.server_cpu_ms_per_request ?? '?'} ms/request\n`,
  );
  return summary;
}

/**
 * RUNS runs of one scenario, reported as the run with the median p99 plus every run's p50/p99: on a
 * shared 2-core machine one run's tail moves by several milliseconds from run to run.
 */
async function medianOfRuns(url: string, pid: number, scenario: Scenario, bodies: string[]): Promise<Record<string, unknown>> {
  const runs: Array<Record<string, unknown> & { latency_ms: { p50: number; p99: number } }> = [];
  for (let i = 0; i < RUNS; i++) runs.push((await run(url, pid, scenario, bodies, DURATION_S)) as (typeof runs)[number]);
  const byP99 = [...runs].sort((a, b) => a.latency_ms.p99 - b.latency_ms.p99);
  const median = byP99[Math.floor((byP99.length - 1) / 2)]!;
  return { ...median, runs: runs.map((r) => ({ p50: r.latency_ms.p50, p99: r.latency_ms.p99 })) };
}

async function main(): Promise<void> {
  const reviews = loadReviews(2_000);
  const singleBodies = reviews.map((review) => JSON.stringify({ reviews: [item(review)] }));
  const batchBodies: string[] = [];
  for (let start = 0; start + BATCH_SIZE <= reviews.length; start += BATCH_SIZE) {
    batchBodies.push(JSON.stringify({ reviews: reviews.slice(start, start + BATCH_SIZE).map(item) }));
  }

  // The machine is shared: the load before and after is part of the result.
  const loadAtStart = Number((loadavg()[0] ?? 0).toFixed(2));
  const work = mkdtempSync(join(tmpdir(), 'driftline-bench-api-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, entryArgs('api/main.ts'), {
    cwd: repoPath(),
    env: {
      ...process.env,
      DRIFTLINE_API_HOST: '127.0.0.1',
      DRIFTLINE_API_PORT: String(port),
      DRIFTLINE_API_FOLLOW_PROMOTIONS: 'false',
      DRIFTLINE_REGISTRY_DIR: join(work, 'registry'),
      DRIFTLINE_CLICKHOUSE_PATH: join(work, 'chdb'),
      DRIFTLINE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const model = await waitReady(url, child);
    process.stdout.write(`API ready at ${url}, model ${model.name} v${model.version}; warming up\n`);
    // Both request shapes are warmed up (JIT, tfjs kernels for their batch sizes) before either is measured.
    for (const bodies of [singleBodies, batchBodies]) {
      await autocannon({
        url: `${url}/v1/predict`,
        connections: 4,
        duration: WARMUP_S,
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: rotating(bodies) }],
      });
    }
    const pid = child.pid ?? 0;
    const single = await medianOfRuns(url, pid, { name: 'single review', reviews_per_request: 1, target_rate_rps: SINGLE_RATE, goal_p99_ms: 10 }, singleBodies);
    const batch = await medianOfRuns(url, pid, { name: `batch of ${BATCH_SIZE}`, reviews_per_request: BATCH_SIZE, target_rate_rps: BATCH_RATE, goal_p99_ms: 50 }, batchBodies);
    const ready = (await (await fetch(`${url}/ready`)).json()) as Record<string, unknown>;
    const results = {
      benchmark: 'api',
      at: new Date().toISOString(),
      tool: 'autocannon (fixed overallRate; latencies corrected for coordinated omission), server in a separate process',
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memory_gb: Number((totalmem() / 2 ** 30).toFixed(1)),
        free_memory_gb: Number((freemem() / 2 ** 30).toFixed(1)),
        load_average_1m_at_start: loadAtStart,
        load_average_1m_at_end: Number((loadavg()[0] ?? 0).toFixed(2)),
        os: `${osType()} ${release()}`,
        node: process.version,
      },
      model,
      ready,
      scenarios: [single, batch],
    };
    writeResult('api', results);
    process.stdout.write(`wrote bench/results/api.json\n`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/api: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
