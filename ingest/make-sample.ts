/**
 * Regenerates data/sample/ and data/broken/ deterministically (same input → same bytes):
 *   npx tsx ingest/make-sample.ts [path/to/reviews.jsonl]   (default: data/reviews/reviews-dev-large.jsonl.gz)
 *
 * Sample: per source, the reviews with the smallest SHA-1(review_id) (≈8.5% of each source, at least
 * 10), so every source and its partial records (null product_id, title, ...) are represented the same
 * way on every run. Records that fail validation (a few real texts carry U+FFFD) are left out: the
 * sample is the valid set, data/broken/ is the invalid one. Sorted by ts, then review_id.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readShippedReviewLines, repoPath } from '../core/paths.js';
import { validateReview } from '../core/validation.js';
import type { ErrorCode } from '../core/errors.js';

const TARGET_SIZE = 3_000;
const MIN_PER_SOURCE = 10;
/** Fixed clock so validation (future timestamps) cannot change the selection over time. */
const VALIDATION_NOW_MS = Date.UTC(2026, 0, 1);

interface SourceReview {
  review_id: string;
  source: string | null;
  ts: string | null;
  [field: string]: unknown;
}

function idHash(reviewId: string): string {
  return createHash('sha1').update(reviewId).digest('hex');
}

export function selectSample(lines: string[], targetSize = TARGET_SIZE): string[] {
  const bySource = new Map<string, Array<{ line: string; review: SourceReview; hash: string }>>();
  for (const line of lines) {
    const review = JSON.parse(line) as SourceReview;
    if (!validateReview(review, { nowMs: VALIDATION_NOW_MS }).ok) continue;
    const group = bySource.get(review.source ?? '') ?? [];
    group.push({ line, review, hash: idHash(review.review_id) });
    bySource.set(review.source ?? '', group);
  }
  const fraction = targetSize / lines.length;
  const chosen: Array<{ line: string; review: SourceReview }> = [];
  for (const group of bySource.values()) {
    group.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    chosen.push(...group.slice(0, Math.max(MIN_PER_SOURCE, Math.round(group.length * fraction))));
  }
  chosen.sort((a, b) => (a.review.ts ?? '').localeCompare(b.review.ts ?? '') || a.review.review_id.localeCompare(b.review.review_id));
  return chosen.map((c) => c.line);
}

export interface BrokenCase {
  /** 1-based line in the file (CSV: the line where the record starts). */
  line: number;
  /** What is wrong, in words. */
  kind: string;
  /** Expected outcome: an error code, or 'valid' for the control records. */
  expect: ErrorCode | 'valid';
  field: string | null;
  review_id: string | null;
}

const BASE = {
  product_id: 'B000BROKEN',
  category: 'Broken_Examples',
  rating: 4,
  title: 'Works as described',
  text: 'Bought this for my sister and she uses it every day. Solid build, fair price.',
  ts: '2016-03-14T00:00:00Z',
  helpful_votes: 2,
  verified: true,
  source: 'driftline/broken-examples',
};

type Line = { kind: string; expect: ErrorCode | 'valid'; field: string | null; id: string | null; bytes: Buffer };

function jsonLine(kind: string, expect: ErrorCode | 'valid', field: string | null, record: Record<string, unknown>): Line {
  const id = typeof record.review_id === 'string' ? record.review_id : null;
  return { kind, expect, field, id, bytes: Buffer.from(JSON.stringify(record), 'utf8') };
}

function rawLine(kind: string, expect: ErrorCode, id: string | null, bytes: Buffer): Line {
  return { kind, expect, field: expect === 'RECORD_UNPARSEABLE' ? '(record)' : 'text', id, bytes };
}

function review(id: string, patch: Record<string, unknown>): Record<string, unknown> {
  return { review_id: `broken-${id}`, ...BASE, ...patch };
}

function withoutField(id: string, field: string): Record<string, unknown> {
  const record = review(id, {});
  delete record[field];
  return record;
}

function brokenJsonl(): Line[] {
  const longText = 'This review goes on and on about the same thing. '.repeat(Math.ceil((1024 * 1024) / 50));
  // Invalid UTF-8 written as raw bytes: a lone continuation byte and a truncated 3-byte sequence.
  const invalidUtf8 = Buffer.concat([
    Buffer.from('{"review_id":"broken-invalid-utf8","product_id":"B000BROKEN","rating":2,"text":"Broke after a week ', 'utf8'),
    Buffer.from([0x80, 0xe2, 0x82]),
    Buffer.from(' never again","ts":"2016-03-14T00:00:00Z"}', 'utf8'),
  ]);
  return [
    jsonLine('valid control record', 'valid', null, review('valid-1', {})),
    jsonLine('valid partial record (nulls, key falls back to review_id)', 'valid', null, review('valid-partial', { product_id: null, title: null, helpful_votes: null, verified: null })),
    rawLine('not JSON (cut off)', 'RECORD_UNPARSEABLE', null, Buffer.from('{"review_id": "broken-bad-json", "rating": 5, "text": "unterminated', 'utf8')),
    rawLine('JSON but not an object', 'RECORD_UNPARSEABLE', null, Buffer.from('[1, 2, 3]', 'utf8')),
    jsonLine('missing review_id', 'FIELD_MISSING', 'review_id', withoutField('no-id', 'review_id')),
    jsonLine('review_id is a number', 'FIELD_TYPE', 'review_id', { ...review('x', {}), review_id: 12345 }),
    jsonLine('rating 0', 'FIELD_RANGE', 'rating', review('rating-0', { rating: 0 })),
    jsonLine('rating 6', 'FIELD_RANGE', 'rating', review('rating-6', { rating: 6 })),
    jsonLine('rating as the string "5"', 'FIELD_TYPE', 'rating', review('rating-string', { rating: '5' })),
    jsonLine('rating 4.5', 'FIELD_RANGE', 'rating', review('rating-fraction', { rating: 4.5 })),
    jsonLine('missing rating', 'FIELD_MISSING', 'rating', withoutField('no-rating', 'rating')),
    jsonLine('empty text', 'TEXT_EMPTY', 'text', review('empty-text', { text: '' })),
    jsonLine('white-space-only text', 'TEXT_EMPTY', 'text', review('blank-text', { text: '  \n\t  ' })),
    jsonLine('null text', 'FIELD_MISSING', 'text', review('null-text', { text: null })),
    jsonLine('1 MB text', 'TEXT_TOO_LONG', 'text', review('huge-text', { text: longText })),
    rawLine('invalid UTF-8 bytes in text', 'TEXT_ENCODING', 'broken-invalid-utf8', invalidUtf8),
    jsonLine('U+FFFD replacement character in text', 'TEXT_ENCODING', 'text', review('replacement-char', { text: 'Great value \uFFFD would buy again' })),
    jsonLine('lone surrogate in text', 'TEXT_ENCODING', 'text', review('lone-surrogate', { text: 'Great value \uD800 would buy again' })),
    jsonLine('timestamp in 2999', 'TIMESTAMP_INVALID', 'ts', review('ts-2999', { ts: '2999-01-01T00:00:00Z' })),
    jsonLine('timestamp in 1970', 'TIMESTAMP_INVALID', 'ts', review('ts-1970', { ts: '1970-01-01T00:00:00Z' })),
    jsonLine('timestamp not ISO-8601', 'TIMESTAMP_INVALID', 'ts', review('ts-words', { ts: 'last tuesday' })),
    jsonLine('ts is a number', 'FIELD_TYPE', 'ts', review('ts-number', { ts: 1458000000 })),
    jsonLine('helpful_votes is a string', 'FIELD_TYPE', 'helpful_votes', review('votes-string', { helpful_votes: 'many' })),
    jsonLine('helpful_votes negative', 'FIELD_RANGE', 'helpful_votes', review('votes-negative', { helpful_votes: -1 })),
    jsonLine('verified is a string', 'FIELD_TYPE', 'verified', review('verified-string', { verified: 'yes' })),
    jsonLine('product_id is a number', 'FIELD_TYPE', 'product_id', review('product-number', { product_id: 42 })),
    jsonLine('title is an object', 'FIELD_TYPE', 'title', review('title-object', { title: { en: 'hi' } })),
    jsonLine('duplicate review_id (same as line 1)', 'DUPLICATE_REVIEW', 'review_id', review('valid-1', { text: 'A second copy of the same review id.' })),
  ];
}

function writeJsonl(path: string, lines: Line[]): BrokenCase[] {
  const cases: BrokenCase[] = [];
  const parts: Buffer[] = [];
  let lineNo = 0;
  for (const [index, line] of lines.entries()) {
    // One blank line in the middle: ingest skips it, and line numbers must still count it.
    if (index === 3) {
      parts.push(Buffer.from('\n'));
      lineNo++;
    }
    lineNo++;
    parts.push(line.bytes, Buffer.from('\n'));
    cases.push({ line: lineNo, kind: line.kind, expect: line.expect, field: line.expect === 'valid' ? null : line.field, review_id: line.id });
  }
  writeFileSync(path, Buffer.concat(parts));
  return cases;
}

const CSV_HEADER = 'review_id,product_id,category,rating,title,text,ts,helpful_votes,verified,source';

function csvRows(): Array<Omit<BrokenCase, 'line'> & { row: string }> {
  const tail = '2016-03-14T00:00:00Z,3,true,driftline/broken-examples';
  return [
    { kind: 'valid control row', expect: 'valid', field: null, review_id: 'csv-valid-1', row: `csv-valid-1,B000CSV,Broken_Examples,5,Nice,"Does the job, no complaints",${tail}` },
    { kind: 'valid row, multi-line quoted text, empty optional cells', expect: 'valid', field: null, review_id: 'csv-valid-multiline', row: 'csv-valid-multiline,,,2,,"First line\nsecond line with ""quotes""",2016-03-15T00:00:00Z,,,' },
    { kind: 'rating is a word', expect: 'FIELD_TYPE', field: 'rating', review_id: 'csv-rating-word', row: `csv-rating-word,B000CSV,Broken_Examples,five,Nice,Good,${tail}` },
    { kind: 'rating 7', expect: 'FIELD_RANGE', field: 'rating', review_id: 'csv-rating-7', row: `csv-rating-7,B000CSV,Broken_Examples,7,Nice,Good,${tail}` },
    { kind: 'empty text', expect: 'TEXT_EMPTY', field: 'text', review_id: 'csv-empty-text', row: `csv-empty-text,B000CSV,Broken_Examples,3,Nice,,${tail}` },
    { kind: 'verified is maybe', expect: 'FIELD_TYPE', field: 'verified', review_id: 'csv-verified', row: 'csv-verified,B000CSV,Broken_Examples,3,Nice,Good,2016-03-14T00:00:00Z,3,maybe,driftline/broken-examples' },
    { kind: 'timestamp in 2999', expect: 'TIMESTAMP_INVALID', field: 'ts', review_id: 'csv-ts-2999', row: 'csv-ts-2999,B000CSV,Broken_Examples,3,Nice,Good,2999-01-01T00:00:00Z,3,true,driftline/broken-examples' },
    { kind: 'missing review_id', expect: 'FIELD_MISSING', field: 'review_id', review_id: null, row: `,B000CSV,Broken_Examples,3,Nice,Good,${tail}` },
    { kind: 'too few columns (no rating)', expect: 'FIELD_MISSING', field: 'rating', review_id: 'csv-short-row', row: 'csv-short-row,B000CSV,Broken_Examples' },
    { kind: 'duplicate review_id', expect: 'DUPLICATE_REVIEW', field: 'review_id', review_id: 'csv-valid-1', row: `csv-valid-1,B000CSV,Broken_Examples,4,Again,Second copy,${tail}` },
  ];
}

function writeCsv(path: string): BrokenCase[] {
  const cases: BrokenCase[] = [];
  const lines = [CSV_HEADER];
  let lineNo = 1;
  for (const { row, ...rest } of csvRows()) {
    cases.push({ line: lineNo + 1, ...rest });
    lines.push(row);
    lineNo += row.split('\n').length;
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return cases;
}

function main(): void {
  // Default input: the 35,436 reviews shipped in data/reviews/ (the sample is drawn from them).
  const input = process.argv[2];
  const lines = input ? readFileSync(input, 'utf8').split('\n').filter((l) => l.trim() !== '') : readShippedReviewLines();
  const sample = selectSample(lines);
  const samplePath = repoPath('data', 'sample', 'reviews-sample.jsonl');
  mkdirSync(dirname(samplePath), { recursive: true });
  writeFileSync(samplePath, `${sample.join('\n')}\n`);

  const brokenDir = repoPath('data', 'broken');
  mkdirSync(brokenDir, { recursive: true });
  const jsonlCases = writeJsonl(join(brokenDir, 'broken-reviews.jsonl'), brokenJsonl());
  const csvCases = writeCsv(join(brokenDir, 'broken-reviews.csv'));
  const expected = { 'broken-reviews.jsonl': jsonlCases, 'broken-reviews.csv': csvCases };
  writeFileSync(join(brokenDir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
  process.stdout.write(`sample: ${sample.length} reviews → ${samplePath}\nbroken: ${jsonlCases.length} JSONL + ${csvCases.length} CSV records → ${brokenDir}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
