/**
 * Ingest against the real broker: the shipped sample and the broken files go into unique topics; reading
 * them back proves every valid record is there exactly once, in line order per key, and every broken one
 * is on the dead-letter topic with its code, field, reason, line number and original bytes.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { repoPath } from '../../core/paths.js';
import { validateReview } from '../../core/validation.js';
import { ingestRecords, type IngestSummary } from '../../ingest/index.js';
import type { DeadLetter, ReviewEvent } from '../../schemas/types.js';
import type { BrokenCase } from '../../fixtures/make-sample.js';
import { createTestTopics, readAll, type ReadMessage, type TestTopics } from '../support/kafka.js';

const SAMPLE = repoPath('data', 'sample', 'reviews-sample.jsonl');
const BROKEN_JSONL = repoPath('data', 'broken', 'broken-reviews.jsonl');
const BROKEN_CSV = repoPath('data', 'broken', 'broken-reviews.csv');
const EXPECTED = JSON.parse(readFileSync(repoPath('data', 'broken', 'expected.json'), 'utf8')) as Record<string, BrokenCase[]>;
const ALL_CASES = [...EXPECTED['broken-reviews.jsonl']!.map((c) => ({ ...c, file: BROKEN_JSONL })), ...EXPECTED['broken-reviews.csv']!.map((c) => ({ ...c, file: BROKEN_CSV }))];

/** Lines of a file as raw bytes (1-based index = line number). */
function rawLines(path: string): Buffer[] {
  const bytes = readFileSync(path);
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return lines;
}

const sampleLines = readFileSync(SAMPLE, 'utf8').trim().split('\n');
const sampleRecords = sampleLines.map((line) => JSON.parse(line) as Record<string, unknown>);

let topics: TestTopics;
const summaries: Record<string, IngestSummary> = {};
let reviews: ReadMessage[];
let deadLetters: ReadMessage[];

beforeAll(async () => {
  topics = await createTestTopics('ingest');
  const options = { settings: topics.settings, kafka: topics.kafka, ingest: { batchSize: 200 } };
  for (const file of [SAMPLE, BROKEN_JSONL, BROKEN_CSV]) summaries[file] = await ingestRecords(file, options);
  reviews = await readAll(topics.reviews, { kafka: topics.kafka, idleMs: 3_000 });
  deadLetters = await readAll(topics.deadLetter, { kafka: topics.kafka, idleMs: 3_000 });
});

describe('ingest into a real Kafka broker', () => {
  it('summaries count what was read, published and dead-lettered', () => {
    expect(summaries[SAMPLE]).toMatchObject({ read: sampleLines.length, published: sampleLines.length, deadLettered: 0, interrupted: false, format: 'jsonl' });
    for (const [file, name] of [[BROKEN_JSONL, 'broken-reviews.jsonl'], [BROKEN_CSV, 'broken-reviews.csv']] as const) {
      const cases = EXPECTED[name]!;
      const byCode: Record<string, number> = {};
      for (const c of cases) if (c.expect !== 'valid') byCode[c.expect] = (byCode[c.expect] ?? 0) + 1;
      expect(summaries[file]).toMatchObject({ read: cases.length, published: cases.filter((c) => c.expect === 'valid').length, deadLettered: cases.filter((c) => c.expect !== 'valid').length, byErrorCode: byCode });
    }
    expect(summaries[BROKEN_JSONL]!.blankLines).toBe(1);
  });

  it('publishes reviews carrying U+FFFD (valid text) and counts them; the sample has one, the broken JSONL one', () => {
    const withFffd = sampleLines.filter((line) => line.includes('\\ufffd') || line.includes('\uFFFD')).length;
    expect(withFffd).toBe(1);
    expect(summaries[SAMPLE]!.withReplacementChar).toBe(withFffd);
    expect(summaries[BROKEN_JSONL]!.withReplacementChar).toBe(1);
    expect(summaries[BROKEN_CSV]!.withReplacementChar).toBe(0);
    const published = reviews.map((message) => codecFor('ReviewEvent').decode(message.value));
    expect(published.find((review) => review.review_id === 'broken-replacement-char')?.text).toContain('\uFFFD');
  });

  it('every valid record is on the reviews topic exactly once, as validated, with key and headers', () => {
    const validBroken = ALL_CASES.filter((c) => c.expect === 'valid');
    expect(reviews).toHaveLength(sampleLines.length + validBroken.length);
    const decoded = reviews.map((m) => ({ message: m, review: codecFor('ReviewEvent').decode(m.value) }));
    const ids = decoded.map((d) => d.review.review_id);
    expect(new Set(ids).size).toBe(ids.length);
    const byId = new Map(decoded.map((d) => [d.review.review_id, d]));
    for (const record of sampleRecords) {
      const found = byId.get(record.review_id as string);
      expect(found, `review ${String(record.review_id)}`).toBeDefined();
      const validated = validateReview(record);
      if (!validated.ok) throw validated.error;
      const { ingest_time_ms: _ignored, ...expected } = validated.review;
      expect(found!.review).toMatchObject(expected);
      expect(found!.message.key?.toString()).toBe(expected.product_id ?? expected.review_id);
      expect(found!.message.headers).toEqual({ 'content-type': 'avro/binary', schema: 'ReviewEvent' });
    }
    for (const c of validBroken) expect(byId.has(c.review_id!)).toBe(true);
    const partial = decoded.find((d) => d.review.review_id === 'broken-valid-partial')!;
    expect(partial.message.key?.toString()).toBe('broken-valid-partial');
  });

  it('per key, the topic order is the line order (keys with several reviews included)', () => {
    const lineOrder = new Map<string, string[]>();
    for (const record of sampleRecords) {
      const key = (record.product_id ?? record.review_id) as string;
      lineOrder.set(key, [...(lineOrder.get(key) ?? []), record.review_id as string]);
    }
    const topicOrder = new Map<string, string[]>();
    const partitionOfKey = new Map<string, Set<number>>();
    for (const message of reviews) {
      const key = message.key!.toString();
      topicOrder.set(key, [...(topicOrder.get(key) ?? []), codecFor('ReviewEvent').decode(message.value).review_id]);
      partitionOfKey.set(key, (partitionOfKey.get(key) ?? new Set()).add(message.partition));
    }
    expect([...lineOrder.values()].filter((ids) => ids.length > 1).length).toBeGreaterThan(50);
    for (const [key, ids] of lineOrder) expect(topicOrder.get(key), key).toEqual(ids);
    expect([...partitionOfKey.values()].every((partitions) => partitions.size === 1)).toBe(true);
    expect(new Set(reviews.map((m) => m.partition)).size).toBe(topics.settings.topicPartitions);
  });

  it('every broken record is dead-lettered once with its code, field, reason, line number and original bytes', () => {
    const invalid = ALL_CASES.filter((c) => c.expect !== 'valid');
    expect(deadLetters).toHaveLength(invalid.length);
    const records = deadLetters.map((m) => ({ message: m, record: codecFor('DeadLetter').decode(m.value) as DeadLetter }));
    const lines = { [BROKEN_JSONL]: rawLines(BROKEN_JSONL), [BROKEN_CSV]: rawLines(BROKEN_CSV) };
    for (const c of invalid) {
      const matches = records.filter((r) => r.record.source_file === c.file && r.record.source_line === c.line);
      expect(matches, `${c.kind} (line ${c.line})`).toHaveLength(1);
      const { record, message } = matches[0]!;
      expect({ kind: c.kind, code: record.error_code, field: record.field, reviewId: record.review_id }).toEqual({ kind: c.kind, code: c.expect, field: c.field, reviewId: c.review_id });
      expect(record.stage).toBe('ingest');
      expect(record.reason.startsWith(`${c.field}: `) || c.expect === 'RECORD_UNPARSEABLE').toBe(true);
      expect(record.reason.length).toBeGreaterThan(c.field!.length + 10);
      expect(message.headers).toMatchObject({ error_code: c.expect, stage: 'ingest' });
      const original = lines[c.file]![c.line - 1]!;
      if (original.length > 64 * 1024) {
        expect(record.raw.equals(original.subarray(0, 64 * 1024))).toBe(true);
        expect(record.reason).toContain(`cut to ${64 * 1024} of ${original.length} bytes`);
      } else if (c.file === BROKEN_JSONL) {
        expect(record.raw.equals(original), c.kind).toBe(true);
      } else {
        expect(record.raw.toString()).toBe(original.toString());
      }
    }
    const invalidUtf8 = records.find((r) => r.record.review_id === 'broken-invalid-utf8')!;
    expect(invalidUtf8.record.raw.includes(Buffer.from([0x80, 0xe2, 0x82]))).toBe(true);
  });
});

/** Runs the CLI in a child process (stdin and signals are per process). */
function runCli(args: string[], env: Record<string, string>, onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdin: NodeJS.WritableStream } {
  const child = spawn(process.execPath, ['--import', 'tsx', repoPath('tests', 'ingest', 'run-cli.ts'), 'ingest', ...args], {
    env: { ...process.env, DRIFTLINE_LOG_LEVEL: 'error', KAFKAJS_NO_PARTITIONER_WARNING: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, child);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, stdin: child.stdin };
}

describe('driftline ingest CLI', () => {
  let cliTopics: TestTopics;
  beforeAll(async () => {
    cliTopics = await createTestTopics('ingest-cli');
  });

  const envFor = (t: TestTopics): Record<string, string> => ({ DRIFTLINE_TOPIC_REVIEWS: t.reviews, DRIFTLINE_TOPIC_DEAD_LETTER: t.deadLetter });

  it('reads CSV from stdin and prints a JSON summary; bad records do not fail the run', async () => {
    const run = runCli(['--file', '-', '--format', 'csv', '--json', '--quiet'], envFor(cliTopics));
    run.stdin.end(readFileSync(BROKEN_CSV));
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as IngestSummary;
    expect(summary).toMatchObject({ source: 'stdin', format: 'csv', read: 10, published: 2, deadLettered: 8, interrupted: false });
  });

  it('SIGTERM stops reading, flushes what was read, and the summary matches the topic', async () => {
    const t = await createTestTopics('ingest-sigterm');
    let signalled = false;
    const run = runCli(['--file', '-', '--rate', '200', '--json'], { ...envFor(t), DRIFTLINE_INGEST_PROGRESS_MS: '200' }, (stderr, child) => {
      // After the first progress line some records are out and many are not yet read.
      if (!signalled && /ingest: \d/.test(stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    run.stdin.on('error', () => undefined); // the child stops reading stdin
    run.stdin.end(readFileSync(SAMPLE));
    const { code, stdout, stderr } = await run.done;
    expect(stderr).toContain('SIGTERM: stopping');
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as IngestSummary;
    expect(summary.interrupted).toBe(true);
    expect(summary.published).toBeGreaterThan(0);
    expect(summary.published).toBeLessThan(sampleLines.length);
    const onTopic = await readAll(t.reviews, { kafka: t.kafka, idleMs: 2_000 });
    expect(onTopic).toHaveLength(summary.published);
  });

  it('a missing input file is a usage error (exit 2) before Kafka is touched', async () => {
    const { code, stderr } = await runCli(['--file', repoPath('data', 'no-such-file.jsonl')], envFor(cliTopics)).done;
    expect(code).toBe(2);
    expect(stderr).toContain('NOT_FOUND');
  });
});
