/**
 * Ingest throughput against the local broker: `node dist/bench/ingest.js [records]` (default 20,000).
 *
 * Rows:
 *  - validate + encode only (no Kafka): the CPU cost per record of parse → validate → Avro; and the same
 *    with ingest's file reader in front.
 *  - driftline ingest (file → Kafka) at several batch sizes: the whole path, idempotent producer, 1 request in flight.
 *  - plain kafkajs producer sending the same pre-encoded messages (same batch size): idempotent one at a time
 *    (ingest's guarantees without its work), not idempotent one at a time, and all sends at once (the
 *    ceiling of this broker/client pair, without any ordering guarantee).
 * Writes bench/results/ingest.json with machine info. Median of 3 runs per row.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { coreSettings, type CoreSettings } from '../core/config.js';
import { createKafka, ensureTopics } from '../core/kafka.js';
import { readShippedReviewLines, repoPath, SHIPPED_REVIEWS } from '../core/paths.js';
import { validateReview } from '../core/validation.js';
import { ingestRecords, readJsonl, reviewMessage } from '../ingest/index.js';
import { machineInfo, writeResult } from './lib.js';

const RECORDS = Number(process.argv[2] ?? 20_000);
const RUNS = 3;
const BATCH_SIZES = [100, 500, 2_000];

interface Row {
  name: string;
  batchSize: number | null;
  recordsPerSec: number;
  runs: number[];
  note: string;
}

/** Real reviews: the shipped reviews (data/reviews/), or the sample repeated with fresh ids when more are asked for. */
function loadLines(count: number): { lines: string[]; source: string } {
  const shipped = readShippedReviewLines();
  if (shipped.length >= count) return { lines: shipped.slice(0, count), source: SHIPPED_REVIEWS };
  const sample = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').trim().split('\n');
  const lines: string[] = [];
  for (let i = 0; lines.length < count; i++) {
    const record = JSON.parse(sample[i % sample.length]!) as Record<string, unknown>;
    lines.push(JSON.stringify({ ...record, review_id: `${String(record.review_id)}-${Math.floor(i / sample.length)}` }));
  }
  return { lines, source: 'data/sample/reviews-sample.jsonl (repeated)' };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function freshTopic(kafka: Kafka, settings: CoreSettings, label: string): Promise<{ reviews: string; deadLetter: string }> {
  const base = `bench-ingest-${label}-${randomUUID().slice(0, 8)}`;
  const topics = { reviews: `${base}-reviews`, deadLetter: `${base}-dead-letter` };
  await ensureTopics(kafka, [topics.reviews, topics.deadLetter], settings);
  return topics;
}

function benchValidateEncode(lines: string[]): number {
  const started = performance.now();
  let valid = 0;
  for (const line of lines) {
    const result = validateReview(JSON.parse(line) as unknown);
    if (result.ok) {
      reviewMessage(result.review);
      valid++;
    }
  }
  if (valid === 0) throw new Error('no valid records');
  return (lines.length * 1000) / (performance.now() - started);
}

/** The ingest read path without Kafka: file bytes → lines → JSON → validate → Avro message. */
async function benchReadValidateEncode(file: string): Promise<number> {
  const started = performance.now();
  let count = 0;
  for await (const record of readJsonl(createReadStream(file, { highWaterMark: 256 * 1024 }), 4 * 1024 * 1024)) {
    const result = validateReview(record.value);
    if (result.ok) reviewMessage(result.review);
    count++;
  }
  return (count * 1000) / (performance.now() - started);
}

async function benchIngest(kafka: Kafka, settings: CoreSettings, file: string, batchSize: number): Promise<number> {
  const topics = await freshTopic(kafka, settings, `b${batchSize}`);
  const summary = await ingestRecords(file, { kafka, settings, topic: topics.reviews, deadLetterTopic: topics.deadLetter, ingest: { batchSize, rate: 0 } });
  return (summary.read * 1000) / summary.elapsedMs;
}

type PlainMode = 'idempotent' | 'sequential' | 'concurrent';

async function benchPlain(kafka: Kafka, settings: CoreSettings, messages: Message[], batchSize: number, mode: PlainMode): Promise<number> {
  const topics = await freshTopic(kafka, settings, `plain-${mode}-${batchSize}`);
  const idempotent = mode === 'idempotent';
  const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : undefined, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const batches: Message[][] = [];
    for (let i = 0; i < messages.length; i += batchSize) batches.push(messages.slice(i, i + batchSize));
    const started = performance.now();
    if (mode === 'concurrent') await Promise.all(batches.map((batch) => producer.send({ topic: topics.reviews, messages: batch })));
    else for (const batch of batches) await producer.send({ topic: topics.reviews, messages: batch });
    return (messages.length * 1000) / (performance.now() - started);
  } finally {
    await producer.disconnect();
  }
}

async function repeat(fn: () => Promise<number> | number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) out.push(Math.round(await fn()));
  return out;
}

async function main(): Promise<void> {
  const settings = coreSettings.load();
  const kafka = createKafka(settings, 'bench-ingest');
  const { lines, source } = loadLines(RECORDS);
  const dir = join(tmpdir(), `driftline-bench-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'reviews.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const messages = lines.flatMap((line) => {
    const result = validateReview(JSON.parse(line) as unknown);
    return result.ok ? [reviewMessage(result.review)] : [];
  });
  const rows: Row[] = [];
  const loadBefore = loadavg()[0]!;
  try {
    await benchIngest(kafka, settings, file, 500); // warm-up: JIT, metadata, broker segments
    const cpuRuns = await repeat(() => benchValidateEncode(lines));
    rows.push({ name: 'validate + Avro encode (no Kafka)', batchSize: null, recordsPerSec: median(cpuRuns), runs: cpuRuns, note: 'JSON.parse + validateReview + codec.encode, one core' });
    const readRuns = await repeat(() => benchReadValidateEncode(file));
    rows.push({ name: 'read file + validate + encode (no Kafka)', batchSize: null, recordsPerSec: median(readRuns), runs: readRuns, note: 'ingest read path: readJsonl + validateReview + reviewMessage' });
    for (const batchSize of BATCH_SIZES) {
      const ingestRuns = await repeat(() => benchIngest(kafka, settings, file, batchSize));
      rows.push({ name: 'driftline ingest (file → Kafka)', batchSize, recordsPerSec: median(ingestRuns), runs: ingestRuns, note: 'read + validate + encode + idempotent send, 1 in flight' });
      const idemRuns = await repeat(() => benchPlain(kafka, settings, messages, batchSize, 'idempotent'));
      rows.push({ name: 'plain kafkajs, idempotent, sequential', batchSize, recordsPerSec: median(idemRuns), runs: idemRuns, note: 'same pre-encoded messages, one send at a time (same guarantees as ingest)' });
      const plainRuns = await repeat(() => benchPlain(kafka, settings, messages, batchSize, 'sequential'));
      rows.push({ name: 'plain kafkajs, not idempotent, sequential', batchSize, recordsPerSec: median(plainRuns), runs: plainRuns, note: 'same pre-encoded messages, one send at a time' });
      const concurrentRuns = await repeat(() => benchPlain(kafka, settings, messages, batchSize, 'concurrent'));
      rows.push({ name: 'plain kafkajs, all sends concurrent', batchSize, recordsPerSec: median(concurrentRuns), runs: concurrentRuns, note: 'same pre-encoded messages, no ordering guarantee: the ceiling' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const table = [
    `| case | batch | records/s (median of ${RUNS}) | runs |`,
    '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.name} | ${r.batchSize ?? '-'} | ${r.recordsPerSec.toLocaleString('en-US')} | ${r.runs.join(', ')} |`),
  ].join('\n');
  process.stdout.write(`ingest benchmark: ${lines.length.toLocaleString('en-US')} records (${messages.length.toLocaleString('en-US')} valid), broker ${settings.kafkaBrokers.join(',')}, load ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n\n${table}\n`);
  const result = {
    benchmark: 'ingest',
    date: new Date().toISOString(),
    records: lines.length,
    validRecords: messages.length,
    meanEncodedBytes: Math.round(messages.reduce((sum, m) => sum + (m.value as Buffer).length, 0) / messages.length),
    input: source,
    broker: settings.kafkaBrokers,
    runsPerRow: RUNS,
    rows,
    machine: machineInfo(),
    // The broker runs on the same machine; a 1-minute load above the core count means the figures are contended.
    loadAverage1m: { before: loadBefore, after: loadavg()[0]! },
  };
  writeResult('ingest', result);
  process.stdout.write(`\nwritten: bench/results/ingest.json\n`);
}

await main();
