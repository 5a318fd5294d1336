/**
 * Model benchmark (`node dist/bench/model-runtime.js`):
 *  (a) training time of the default architecture on BENCH_TRAIN_ROWS reviews (a seeded sample; BENCH_TRAIN_EPOCHS epochs, wasm);
 *  (b) scoring throughput of the model runtime alone (featurize + heads + outlier/shift, no Kafka) at batch
 *      1, 64 and 512, on every backend that loads here (wasm, cpu; tfjs-node when installed), with the
 *      shipped model (models/default, or BENCH_MODEL_DIR), on a seeded mix of 20,000 reviews of reviews-dev-large.
 *  (c) the wide part alone (sparse TF-IDF dot product + softmax on already featurized batches of 512, wasm
 *      model files), and its share of the full scoring CPU time at batch 512.
 * Throughput is reported per wall-clock second and per CPU second of this process: the machine is shared,
 * so CPU-time figures are the steadier ones. Writes bench/results/model-runtime.json with machine info.
 * Env: BENCH_SECONDS (per measurement, default 3), BENCH_TRAIN_ROWS (8000), BENCH_TRAIN_EPOCHS (3).
 * Flags:
 *   --model DIR     the model version directory (repeatable; default BENCH_MODEL_DIR or models/default). The first
 *                   is measured as above; with more than one, (d) every model at wasm batch 512, alternating
 *                   --rounds times in this one process (the fairest comparison on a shared machine).
 *   --scoring-only  only wasm at batch 512 (and (d)): no training, no other backend or batch, no wide part, and
 *                   no results file (a profile or a quick before/after comparison).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { seededRandom, shuffledIndices } from '../core/model/prng.js';
import { featurizeBatch } from '../core/features/featurizer.js';
import { readModelBundle } from '../core/model/artifacts.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { createWideScratch, wideProbabilities } from '../core/model/wide-scoring.js';
import { type TfBackendChoice, loadTf } from '../core/model/tf.js';
import type { ReviewInput } from '../core/review.js';
import { repoPath, repoRelative, SHIPPED_REVIEWS } from '../core/paths.js';
import { loadLabeledJsonl } from '../trainer/data.js';
import { DEFAULT_TRAIN_PARAMS, trainModel } from '../trainer/train.js';
import { writeResult } from './lib.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const TRAIN_ROWS = Number(process.env.BENCH_TRAIN_ROWS ?? 8000);
const TRAIN_EPOCHS = Number(process.env.BENCH_TRAIN_EPOCHS ?? 3);
const { values: args } = parseArgs({ options: { model: { type: 'string', multiple: true }, 'scoring-only': { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' } } });
const MODEL_DIRS = args.model?.length ? args.model : [process.env.BENCH_MODEL_DIR ?? repoPath('models', 'default')];
const MODEL_DIR = MODEL_DIRS[0]!;
const SCORING_ONLY = args['scoring-only'];
const ROUNDS = Number(args.rounds);
const BATCHES = SCORING_ONLY ? [512] : [1, 64, 512];

interface Throughput {
  backend: string;
  batch: number;
  reviews: number;
  wallSeconds: number;
  reviewsPerSecond: number;
  reviewsPerCpuSecond: number;
}

async function measure(score: (batch: ReviewInput[]) => Promise<unknown>, pool: ReviewInput[], batch: number): Promise<Omit<Throughput, 'backend'>> {
  // Warm-up: JIT and tfjs kernels.
  for (let i = 0; i < 3; i++) await score(pool.slice(0, batch));
  const cpu = process.cpuUsage();
  const started = performance.now();
  let reviews = 0;
  let offset = 0;
  while (performance.now() - started < SECONDS * 1000) {
    if (offset + batch > pool.length) offset = 0;
    await score(pool.slice(offset, offset + batch));
    offset += batch;
    reviews += batch;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return { batch, reviews, wallSeconds: round(wallSeconds), reviewsPerSecond: Math.round(reviews / wallSeconds), reviewsPerCpuSecond: Math.round(reviews / cpuSeconds) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function availableBackends(): Promise<TfBackendChoice[]> {
  const list: TfBackendChoice[] = ['wasm', 'cpu'];
  try {
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
    list.unshift('node');
  } catch {
    // tfjs-node is optional and usually absent (its install downloads a binary from outside the npm registry)
  }
  return list;
}

async function benchTraining(rows: Awaited<ReturnType<typeof loadLabeledJsonl>>['rows']) {
  const { tf, backend } = await loadTf('wasm');
  const order = shuffledIndices(rows.length, seededRandom(2));
  const subset = Array.from(order.subarray(0, TRAIN_ROWS), (i) => rows[i]!);
  const started = performance.now();
  const result = await trainModel(tf, subset, { ...DEFAULT_TRAIN_PARAMS, epochs: TRAIN_EPOCHS });
  const seconds = (performance.now() - started) / 1000;
  result.bundle.head.dispose();
  result.bundle.autoencoder.dispose();
  const epochRowsPerSecond = result.history.map((h) => h.rowsPerSecond);
  return { backend, rows: subset.length, epochs: TRAIN_EPOCHS, seconds: round(seconds), timings: result.timings, epochRowsPerSecond };
}

/** The wide part on pre-featurized batches of 512: reviews per CPU second of that step alone. */
async function benchWide(pool: ReviewInput[]) {
  const { tf } = await loadTf('wasm');
  const bundle = await readModelBundle(tf, MODEL_DIR);
  const batches = [];
  for (let i = 0; i + 512 <= pool.length; i += 512) batches.push(featurizeBatch(pool.slice(i, i + 512), bundle.featurizer));
  const scratch = createWideScratch(bundle.featurizer.buckets);
  for (const b of batches.slice(0, 3)) wideProbabilities(b, bundle.wide, scratch);
  const cpu = process.cpuUsage();
  const started = performance.now();
  let reviews = 0;
  for (let k = 0; performance.now() - started < SECONDS * 1000; k++) {
    const b = batches[k % batches.length]!;
    wideProbabilities(b, bundle.wide, scratch);
    reviews += b.size;
  }
  const used = process.cpuUsage(cpu);
  bundle.head.dispose();
  bundle.autoencoder.dispose();
  return { batch: 512, reviews, reviewsPerCpuSecond: Math.round(reviews / ((used.user + used.system) / 1e6)) };
}

/** Median of a few numbers (the rounds of one model). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * (d) Every model at wasm batch 512, one measurement each per round, the models taking turns: a load change
 * on the shared machine then hits all of them alike. Reports each model's rounds and their median.
 */
async function compareModels(pool: ReviewInput[]) {
  process.env.DRIFTLINE_TF_BACKEND = 'wasm';
  await loadTf('wasm');
  const runtimes = [];
  for (const [i, dir] of MODEL_DIRS.entries()) {
    const runtime = await loadModelRuntime(dir, { name: `bench-${i}`, version: 1 });
    await runtime.check();
    runtimes.push({ dir, runtime, rounds: [] as Array<Omit<Throughput, 'backend'>> });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of runtimes) {
      const r = await measure((b) => m.runtime.score(b), pool, 512);
      m.rounds.push(r);
      process.stdout.write(`round ${round + 1} ${repoRelative(m.dir).padEnd(28)} wasm batch 512: ${String(r.reviewsPerSecond).padStart(7)} reviews/s wall, ${String(r.reviewsPerCpuSecond).padStart(7)} reviews/cpu-s (load ${loadavg()[0]!.toFixed(2)})\n`);
    }
  }
  return runtimes.map(({ dir, runtime, rounds }) => {
    runtime.dispose();
    return {
      model: repoRelative(dir),
      rounds,
      medianReviewsPerSecond: median(rounds.map((r) => r.reviewsPerSecond)),
      medianReviewsPerCpuSecond: median(rounds.map((r) => r.reviewsPerCpuSecond)),
    };
  });
}

async function main(): Promise<void> {
  const data = await loadLabeledJsonl([repoPath(SHIPPED_REVIEWS)]);
  // A seeded shuffle: the file is grouped by source (long Blitzer reviews first), the stream is mixed.
  const order = shuffledIndices(data.rows.length, seededRandom(1));
  const pool: ReviewInput[] = Array.from(order.subarray(0, 20_000), (i) => data.rows[i]!);
  process.stdout.write(`model-runtime bench: ${pool.length} reviews in the pool, model ${MODEL_DIRS.join(', ')}, ${SECONDS}s per measurement, load ${loadavg()[0]!.toFixed(2)}\n`);

  const training = SCORING_ONLY ? null : await benchTraining(data.rows);
  if (training) process.stdout.write(`training: ${training.rows} reviews x ${training.epochs} epochs in ${training.seconds}s on ${training.backend} (epoch rows/s ${training.epochRowsPerSecond.join(', ')})\n`);

  const results: Throughput[] = [];
  for (const choice of SCORING_ONLY ? (['wasm'] as const) : await availableBackends()) {
    process.env.DRIFTLINE_TF_BACKEND = choice;
    const { backend } = await loadTf(choice);
    const runtime = await loadModelRuntime(MODEL_DIR, { name: 'bench', version: 1 });
    await runtime.check();
    for (const batch of BATCHES) {
      const r = { backend, ...(await measure((b) => runtime.score(b), pool, batch)) };
      results.push(r);
      process.stdout.write(`score ${backend.padEnd(10)} batch ${String(batch).padStart(3)}: ${String(r.reviewsPerSecond).padStart(7)} reviews/s wall, ${String(r.reviewsPerCpuSecond).padStart(7)} reviews/cpu-s\n`);
    }
    runtime.dispose();
  }
  const comparison = MODEL_DIRS.length > 1 ? await compareModels(pool) : null;
  if (comparison) for (const c of comparison) process.stdout.write(`median of ${ROUNDS} rounds, ${c.model}: ${c.medianReviewsPerSecond} reviews/s wall, ${c.medianReviewsPerCpuSecond} reviews/cpu-s\n`);
  if (SCORING_ONLY) return;

  const wide = await benchWide(pool);
  const full = results.find((r) => r.backend === 'wasm' && r.batch === 512);
  const wideShare = full ? round(full.reviewsPerCpuSecond / wide.reviewsPerCpuSecond) : null;
  process.stdout.write(`wide part alone (batch 512, featurized): ${wide.reviewsPerCpuSecond} reviews/cpu-s; share of full wasm scoring CPU time: ${wideShare === null ? '-' : `${(wideShare * 100).toFixed(1)}%`}\n`);

  const report = {
    bench: 'model-runtime',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30), node: process.version, loadavgAtEnd: loadavg().map(round) },
    model: repoRelative(MODEL_DIR),
    training,
    scoring: results,
    wide: { ...wide, shareOfScoringCpuAtBatch512: wideShare },
    ...(comparison ? { models: comparison } : {}),
  };
  writeResult('model-runtime', report);
  process.stdout.write('wrote bench/results/model-runtime.json\n');
}

await main();
