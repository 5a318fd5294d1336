/**
 * The bad-input corpus through ingest, against the real broker: one JSONL and one CSV file, each bad record
 * between two valid reviews from the shipped Amazon 2018 dev set. Every bad record must be on the dead-letter topic with
 * its code, field, reason, line number and original bytes; every valid one on the reviews topic exactly once;
 * and the counts add up (read == published + dead-lettered, on the topics as in the summary).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { DEFAULT_MAX_RAW_BYTES } from '../../core/deadletter.js';
import { validateReview } from '../../core/validation.js';
import { ingestRecords, type IngestSummary } from '../../ingest/index.js';
import type { DeadLetter, ReviewEvent } from '../../schemas/types.js';
import { csvBytes, csvHeader, interleave, joinRecords, loadValidLines, type JsonRecord, type MixedInput } from '../support/corpus.js';
import { createTestTopics, readAll, type ReadMessage } from '../support/kafka.js';
import { rejection, rowsFor, type EntryPoint } from './bad-inputs.js';

type FileEntry = Extract<EntryPoint, 'jsonl' | 'csv'>;

interface FileRun {
  path: string;
  mixed: Array<MixedInput<Buffer>>;
  /** Line where each input of `mixed` starts. */
  lines: number[];
  valid: Map<string, JsonRecord>;
  summary: IngestSummary;
  reviews: Array<{ message: ReadMessage; review: ReviewEvent }>;
  deadLetters: Array<{ message: ReadMessage; letter: DeadLetter }>;
}

const dir = mkdtempSync(join(tmpdir(), 'driftline-corpus-ingest-'));
const runs = {} as Record<FileEntry, FileRun>;

async function ingestCorpusFile(entry: FileEntry, validOffset: number): Promise<FileRun> {
  const rows = rowsFor(entry);
  const validLines = loadValidLines(rows.length + 1, validOffset);
  const valid = validLines.map(({ line, record }) => ({ id: record.review_id as string, bytes: entry === 'jsonl' ? Buffer.from(line, 'utf8') : csvBytes(record) }));
  const mixed = interleave(valid, [...rows], (row, previousValidId) => {
    const bytes = row.renderFor(previousValidId);
    if (bytes === null) throw new Error(`${row.name}: a file line cannot be null`);
    return bytes;
  });
  const { bytes, lines } = joinRecords(
    mixed.map((input) => input.bytes),
    entry === 'csv' ? csvHeader() : undefined,
  );
  const path = join(dir, `corpus.${entry}`);
  writeFileSync(path, bytes);

  const topics = await createTestTopics(`corpus-${entry}`);
  const summary = await ingestRecords(path, { settings: topics.settings, kafka: topics.kafka, ingest: { batchSize: 20 } });
  const [reviewMessages, deadMessages] = await Promise.all([readAll(topics.reviews, { kafka: topics.kafka }), readAll(topics.deadLetter, { kafka: topics.kafka })]);
  return {
    path,
    mixed,
    lines,
    valid: new Map(validLines.map(({ record }) => [record.review_id as string, record])),
    summary,
    reviews: reviewMessages.map((message) => ({ message, review: codecFor('ReviewEvent').decode(message.value) })),
    deadLetters: deadMessages.map((message) => ({ message, letter: codecFor('DeadLetter').decode(message.value) })),
  };
}

beforeAll(async () => {
  runs.jsonl = await ingestCorpusFile('jsonl', 0);
  runs.csv = await ingestCorpusFile('csv', 100);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['jsonl', 'csv'] as const)('ingest %s: bad-input corpus', (entry) => {
  const rows = rowsFor(entry);
  const rejectedRows = rows.filter((row) => row.outcome.kind === 'rejected');
  const acceptedRows = rows.filter((row) => row.outcome.kind === 'accepted');

  it('counts add up: read == published + dead-lettered, in the summary and on the topics', () => {
    const run = runs[entry];
    const byCode: Record<string, number> = {};
    for (const row of rejectedRows) if (row.outcome.kind === 'rejected') byCode[row.outcome.code] = (byCode[row.outcome.code] ?? 0) + 1;
    expect(run.summary).toMatchObject({
      read: run.mixed.length,
      published: run.valid.size + acceptedRows.length,
      deadLettered: rejectedRows.length,
      byErrorCode: byCode,
      interrupted: false,
      format: entry,
    });
    expect(run.summary.published + run.summary.deadLettered).toBe(run.summary.read);
    expect(run.reviews).toHaveLength(run.summary.published);
    expect(run.deadLetters).toHaveLength(run.summary.deadLettered);
  });

  it('every valid review around the bad ones is published exactly once, with its content', () => {
    const run = runs[entry];
    const ids = run.reviews.map(({ review }) => review.review_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [id, record] of run.valid) {
      const published = run.reviews.find(({ review }) => review.review_id === id);
      expect(published, id).toBeDefined();
      const expected = validateReview(record);
      if (!expected.ok) throw expected.error;
      const { ingest_time_ms: _ignored, ...content } = expected.review;
      expect(published!.review).toMatchObject(content);
    }
  });

  it.each(rows)('$name ($what)', (row) => {
    const run = runs[entry];
    const index = run.mixed.findIndex((input) => input.kind === 'bad' && input.row === row.name);
    const input = run.mixed[index]!;
    const line = run.lines[index]!;
    const letters = run.deadLetters.filter(({ letter }) => letter.source_line === line);
    if (row.outcome.kind === 'accepted') {
      expect(letters).toHaveLength(0);
      return;
    }
    expect(letters, `dead letter for line ${line}`).toHaveLength(1);
    const { letter, message } = letters[0]!;
    expect(letter).toMatchObject({ stage: 'ingest', error_code: rejection(row.outcome).code, field: rejection(row.outcome).field, source_file: run.path, source_line: line, source_topic: null });
    expect(message.headers.error_code).toBe(rejection(row.outcome).code);
    expect(letter.reason.length).toBeGreaterThan(10);
    // The original bytes, exactly (invalid UTF-8 included, JSONL and CSV alike); a huge line is kept cut, and the reason says so.
    const sent = input.bytes;
    if (sent.length > DEFAULT_MAX_RAW_BYTES) {
      expect(Buffer.compare(letter.raw, sent.subarray(0, DEFAULT_MAX_RAW_BYTES))).toBe(0);
      expect(letter.reason).toContain(`cut to ${DEFAULT_MAX_RAW_BYTES} of ${sent.length} bytes`);
    } else {
      expect(Buffer.compare(letter.raw, sent), `raw bytes of ${row.name}`).toBe(0);
    }
  });

  it('no dead letter points at a valid review', () => {
    const run = runs[entry];
    const validLines = new Set(run.mixed.flatMap((input, i) => (input.kind === 'valid' ? [run.lines[i]] : [])));
    expect(run.deadLetters.filter(({ letter }) => validLines.has(letter.source_line ?? -1))).toEqual([]);
  });
});
