/**
 * The corpus table itself: it covers every kind of bad input the issue lists, each row is renderable where it
 * applies, and — without Kafka — each rendered input read by the real readers (ingest's readJsonl/readCsv,
 * the scorer's decodeReview) and core/validation.ts gets the code and field the table promises. The
 * integration tests then check the same rows end to end.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../core/errors.js';
import { validateReview } from '../../core/validation.js';
import { readCsv, readJsonl, type InputRecord } from '../../ingest/index.js';
import { decodeReview } from '../../scorer/pipeline.js';
import { csvHeader } from '../support/corpus.js';
import { CORPUS, ENTRY_POINTS, rejection, rowsFor, type EntryPoint } from './bad-inputs.js';

/** The kinds of malformed input the issue asks for, by row name. */
const REQUIRED_ROWS = [
  'avro-truncated', 'avro-corrupt-body', 'avro-bad-magic', 'avro-unknown-fingerprint',
  'rating-string', 'text-number',
  'no-review-id', 'no-text', 'no-rating',
  'text-empty', 'text-whitespace', 'text-1mb', 'text-invalid-utf8', 'text-replacement-char', 'text-lone-surrogate',
  'category-20kb', 'product-id-too-long', 'title-too-long', 'source-too-long',
  'rating-0', 'rating-6', 'rating-4.5', 'rating-minus-1',
  'ts-2999', 'ts-1970', 'event-time-9e15', 'ingest-time-9e15', 'ingest-time-negative',
  'duplicate-id',
];

const PREVIOUS_ID = 'corpus-previous-valid';
/** Rows of inputs that look broken but are valid (an older rule refused them): accepted at every entry point. */
const VALID_LOOKALIKES = ['text-replacement-char'];

async function readOne(records: AsyncGenerator<InputRecord>): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}

/** What ingest's reader + validation make of one rendered record: an error code/field, or accepted. */
async function ingestVerdict(entry: 'jsonl' | 'csv', bytes: Buffer): Promise<{ code: string; field: string | null } | 'accepted'> {
  const stream = Readable.from([entry === 'csv' ? Buffer.concat([Buffer.from(`${csvHeader()}\n`), bytes, Buffer.from('\n')]) : bytes]);
  const records = await readOne(entry === 'csv' ? readCsv(stream) : readJsonl(stream, 4 * 1024 * 1024));
  expect(records).toHaveLength(1);
  const record = records[0]!;
  if (record.error) return { code: record.error.code, field: record.error.field ?? null };
  const result = validateReview(record.value);
  return result.ok ? 'accepted' : { code: result.error.code, field: result.error.field ?? null };
}

describe('the bad-input corpus table', () => {
  it('covers every kind of bad input the issue lists, with unique names', () => {
    const names = CORPUS.map((row) => row.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of REQUIRED_ROWS) expect(names, name).toContain(name);
  });

  it.each(CORPUS)('$name: one outcome per entry point, a renderer exactly where it applies, known codes', (row) => {
    expect(Object.keys(row.expect).sort()).toEqual([...ENTRY_POINTS].sort());
    for (const entry of ENTRY_POINTS) {
      const outcome = row.expect[entry];
      expect(row.render[entry] !== undefined, `${entry} renderer`).toBe(outcome.kind !== 'not-applicable');
      if (outcome.kind === 'rejected') {
        expect(ERROR_CODES[outcome.code]).toBeDefined();
        expect(ERROR_CODES[outcome.code].http).toBeGreaterThanOrEqual(400);
        expect(ERROR_CODES[outcome.code].http).toBeLessThan(500);
      } else {
        expect(outcome.why.length).toBeGreaterThan(10);
      }
    }
    // Every row is bad somewhere (a row accepted everywhere would test nothing), except the valid look-alikes.
    expect(ENTRY_POINTS.some((entry) => row.expect[entry].kind === 'rejected')).toBe(!VALID_LOOKALIKES.includes(row.name));
  });

  describe.each(['jsonl', 'csv'] as const)('%s rows through ingest\'s reader and validation', (entry: Extract<EntryPoint, 'jsonl' | 'csv'>) => {
    it.each(rowsFor(entry))('$name', async (row) => {
      const verdict = await ingestVerdict(entry, row.renderFor(PREVIOUS_ID)!);
      if (row.outcome.kind === 'accepted') return expect(verdict).toBe('accepted');
      const { code, field } = rejection(row.outcome);
      // A duplicate is valid alone: it is the second sighting of the id that ingest refuses.
      if (code === 'DUPLICATE_REVIEW') return expect(verdict).toBe('accepted');
      expect(verdict).toEqual({ code, field });
    });
  });

  describe('scorer rows through the scorer\'s decodeReview', () => {
    it.each(rowsFor('scorer'))('$name', (row) => {
      const decoded = decodeReview(row.renderFor(PREVIOUS_ID));
      // A repeated id decodes fine alone: the scorer's dedupe leaves out its second sighting.
      if (row.outcome.kind === 'accepted' || row.outcome.kind === 'deduplicated') return expect(decoded.ok).toBe(true);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) expect({ code: decoded.error.code, field: decoded.error.field ?? null }).toEqual(rejection(row.outcome));
    });
  });
});
