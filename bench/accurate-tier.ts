/**
 * Accurate-tier benchmark (`node dist/bench/accurate-tier.js`): scoring throughput of the accurate tier
 * (stream model + bge-small sentence encoder on onnxruntime + head, blended) on one process, at batch 1, 32 and
 * 256, with the shipped model (BENCH_MODEL_DIR, default models/default; it needs accurate/head.json, added by
 * trainer/teacher/attach-cli.ts) and the encoder fetched by scripts/fetch-teacher.sh, on a seeded mix of
 * reviews of reviews-dev-large. Reports reviews/s per wall-clock second and per CPU second (the machine is
 * shared), and per-call latency p50/p99 at batch 1. Writes bench/results/accurate-tier.json.
 * Env: BENCH_SECONDS (per measurement, default 5), BENCH_ENCODER_THREADS (2).
 */
import { cpus, loadavg } from 'node:os';
import { AccurateRuntime, readAccurateHead, readHeadCategoryWide } from '../core/model/accurate-runtime.js';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { SentenceEncoder, encoderFiles } from '../core/model/sentence-encoder.js';
import type { ReviewInput } from '../core/review.js';
import { repoPath, repoRelative, SHIPPED_REVIEWS } from '../core/paths.js';
import { loadLabeledJsonl } from '../trainer/data.js';
import { percentile, writeResult } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const THREADS = Number(process.env.BENCH_ENCODER_THREADS ?? 2);
const MODEL_DIR = process.env.BENCH_MODEL_DIR ?? repoPath('models', 'default');
const BATCHES = [1, 32, 256];

const data = await loadLabeledJsonl([repoPath(SHIPPED_REVIEWS)]);
const order = shuffledIndices(data.rows.length, seededRandom(7));
const reviews: ReviewInput[] = Array.from(order.slice(0, 5000), (i) => data.rows[i]!);
const head = await readAccurateHead(MODEL_DIR);
const files = encoderFiles();
const categoryWide = await readHeadCategoryWide(MODEL_DIR, head);
const runtime = new AccurateRuntime(await loadModelRuntime(MODEL_DIR, { name: 'bench', version: 1 }), await SentenceEncoder.open(files.model, files.tokenizer, THREADS), head, categoryWide);
await runtime.check();

const results = [];
let offset = 0;
for (const batch of BATCHES) {
  const latencies: number[] = [];
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const slice = reviews.slice(offset % reviews.length, (offset % reviews.length) + batch);
    offset += batch;
    const s = performance.now();
    await runtime.score(slice);
    latencies.push(performance.now() - s);
    count += slice.length;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  latencies.sort((a, b) => a - b);
  const row = {
    batch,
    reviews: count,
    wallSeconds: Math.round(wall * 100) / 100,
    reviewsPerSecond: Math.round(count / wall),
    reviewsPerCpuSecond: Math.round(count / cpuSeconds),
    callP50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
    callP99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
  };
  console.log(`accurate tier, batch ${batch}: ${row.reviewsPerSecond} reviews/s (${row.reviewsPerCpuSecond} per CPU s), call p50 ${row.callP50Ms} ms p99 ${row.callP99Ms} ms`);
  results.push(row);
}
runtime.dispose();
const path = writeResult('accurate-tier', {
  bench: 'accurate-tier',
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavgAtEnd: loadavg() },
  model: repoRelative(MODEL_DIR),
  encoderThreads: THREADS,
  blendWeight: head.blendWeight,
  results,
});
console.log(`wrote ${path}`);
