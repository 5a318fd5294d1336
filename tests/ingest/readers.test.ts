/** Input reading and CLI parsing of ingest, without Kafka (publishing is covered by ingest.int.test.ts). */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseIngestArgs } from '../../ingest/cli.js';
import { convertCsvRow, detectFormat, readCsv, readJsonl, reviewKey, type InputRecord } from '../../ingest/index.js';
import { validateReview } from '../../core/validation.js';

async function collect(records: AsyncGenerator<InputRecord>): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}

/** A byte stream delivered in the given chunks (to cut lines and UTF-8 sequences at awkward places). */
function chunked(...chunks: Array<string | Buffer>): Readable {
  return Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}

describe('readJsonl', () => {
  it('numbers physical lines (blank lines count, are skipped and reported), handles CRLF and a missing final newline', async () => {
    let blanks = 0;
    const records = await collect(readJsonl(chunked('{"a":1}\r\n\n   \n{"a":', '2}\n{"a":3}'), 1024, () => blanks++));
    expect(records.map((r) => [r.line, r.value, r.raw.toString()])).toEqual([
      [1, { a: 1 }, '{"a":1}'],
      [4, { a: 2 }, '{"a":2}'],
      [5, { a: 3 }, '{"a":3}'],
    ]);
    expect(blanks).toBe(2);
  });

  it('a line that is not JSON is RECORD_UNPARSEABLE with its raw bytes', async () => {
    const [bad, good] = await collect(readJsonl(chunked('{"review_id": "x", "text": "cut\n{"ok":true}\n'), 1024));
    expect(bad!.error?.code).toBe('RECORD_UNPARSEABLE');
    expect(bad!.error?.message).toMatch(/^line 1 is not JSON/);
    expect(bad!.raw.toString()).toBe('{"review_id": "x", "text": "cut');
    expect(good!.value).toEqual({ ok: true });
  });

  it('keeps invalid UTF-8 bytes as they were in raw; the decoded text carries them as lone surrogates, so validation says TEXT_ENCODING', async () => {
    const line = Buffer.concat([Buffer.from('{"review_id":"u","rating":3,"text":"bad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}\n')]);
    // Split inside the invalid sequence: decoding must happen per line, not per chunk.
    const [record] = await collect(readJsonl(chunked(line.subarray(0, 40), line.subarray(40)), 1024));
    expect(record!.raw.equals(line.subarray(0, line.length - 1))).toBe(true);
    const result = validateReview(record!.value);
    expect(!result.ok && result.error.code).toBe('TEXT_ENCODING');
  });

  it('a multi-byte character split across chunks decodes intact', async () => {
    const line = Buffer.from('{"text":"café 😀"}\n', 'utf8');
    const [record] = await collect(readJsonl(chunked(line.subarray(0, 12), line.subarray(12, 17), line.subarray(17)), 1024));
    expect(record!.value).toEqual({ text: 'café 😀' });
  });

  it('a line over the limit is cut and dead-lettered, and the next line is read normally', async () => {
    const long = `{"text":"${'x'.repeat(5_000)}"}`;
    const records = await collect(readJsonl(chunked(long.slice(0, 1_000), long.slice(1_000), '\n{"next":1}\n'), 2_048));
    expect(records).toHaveLength(2);
    expect(records[0]!.error?.code).toBe('RECORD_UNPARSEABLE');
    expect(records[0]!.error?.message).toContain(`${long.length} bytes`);
    expect(records[0]!.raw.length).toBe(2_048);
    expect(records[1]).toMatchObject({ line: 2, value: { next: 1 } });
  });

  it('strips a UTF-8 byte-order mark on the first line', async () => {
    const [record] = await collect(readJsonl(chunked('\uFEFF{"a":1}\n'), 1024));
    expect(record!.value).toEqual({ a: 1 });
  });
});

describe('readCsv and convertCsvRow', () => {
  it('converts typed columns and reports the line where each record starts', async () => {
    const csv = 'review_id,product_id,rating,text,ts,helpful_votes,verified\n' + 'a,P1,5,"two\nlines",2016-01-01,3,true\n' + 'b,,4,plain,,,FALSE\n';
    const records = await collect(readCsv(chunked(csv)));
    expect(records.map((r) => r.line)).toEqual([2, 4]);
    expect(records[0]!.value).toEqual({ review_id: 'a', product_id: 'P1', rating: 5, text: 'two\nlines', ts: '2016-01-01', helpful_votes: 3, verified: true });
    expect(records[1]!.value).toEqual({ review_id: 'b', product_id: null, rating: 4, text: 'plain', ts: null, helpful_votes: null, verified: false });
    expect(records[0]!.raw.toString()).toBe('a,P1,5,"two\nlines",2016-01-01,3,true');
  });

  it('cells that do not convert stay strings, so validation names the column', () => {
    const row = convertCsvRow({ review_id: 'x', rating: 'five', text: '  ', helpful_votes: '1.5', verified: 'maybe', event_time_ms: '1458000000000' });
    expect(row).toEqual({ review_id: 'x', rating: 'five', text: '  ', helpful_votes: 1.5, verified: 'maybe', event_time_ms: 1_458_000_000_000 });
    const result = validateReview(row);
    expect(!result.ok && [result.error.code, result.error.field]).toEqual(['FIELD_TYPE', 'rating']);
  });

  it('keeps each record\'s bytes exactly as sent (invalid UTF-8 included) and decodes cells as UTF-8', async () => {
    const bad = Buffer.concat([Buffer.from('r2,4,"caf'), Buffer.from([0xc3, 0x28]), Buffer.from(' ok"')]);
    const file = Buffer.concat([Buffer.from('review_id,rating,text,título\nr1,5,"Ça marche, très bien",x\n'), bad, Buffer.from('\n')]);
    // Cut inside the multi-byte 'é' of the header and inside the invalid sequence.
    const records = await collect(readCsv(chunked(file.subarray(0, 28), file.subarray(28, file.length - 9), file.subarray(file.length - 9))));
    expect(records.map((r) => r.line)).toEqual([2, 3]);
    expect(records[0]!.value).toMatchObject({ review_id: 'r1', rating: 5, text: 'Ça marche, très bien', título: 'x' });
    expect(records[0]!.raw.toString('utf8')).toBe('r1,5,"Ça marche, très bien",x');
    expect(Buffer.compare(records[1]!.raw, bad)).toBe(0);
    // Invalid bytes become U+DC80 + byte (core/utf8.ts), never U+FFFD, which is valid text.
    expect((records[1]!.value as { text: string }).text).toBe('caf\uDCC3( ok');
  });

  it('strips a UTF-8 byte-order mark, even one split across chunks', async () => {
    const records = await collect(readCsv(chunked(Buffer.from([0xef, 0xbb]), Buffer.from([0xbf]), 'review_id,text\nr1,hello\n')));
    expect(records.map((r) => [r.line, r.value])).toEqual([[2, { review_id: 'r1', text: 'hello' }]]);
  });

  it('a record csv-parse cannot read is RECORD_UNPARSEABLE and reading goes on to the end', async () => {
    const csv = 'review_id,rating,text\nok1,5,fine\nbad,5,"never closed\n';
    const records = await collect(readCsv(chunked(csv)));
    expect(records[0]!.value).toEqual({ review_id: 'ok1', rating: 5, text: 'fine' });
    expect(records[1]!.error?.code).toBe('RECORD_UNPARSEABLE');
    expect(records[1]!.raw.toString()).toContain('never closed');
  });
});

describe('keys, formats and CLI arguments', () => {
  it('keys by product_id, else review_id', () => {
    const base = { review_id: 'r', product_id: 'p', category: null, rating: 5, title: null, text: 't', event_time_ms: null, helpful_votes: null, verified: null, source: null, ingest_time_ms: 0 };
    expect(reviewKey(base)).toBe('p');
    expect(reviewKey({ ...base, product_id: null })).toBe('r');
  });

  it('detects the format from the extension unless given', () => {
    expect(detectFormat('x/reviews.CSV')).toBe('csv');
    expect(detectFormat('reviews.jsonl')).toBe('jsonl');
    expect(detectFormat('-')).toBe('jsonl');
    expect(detectFormat('-', 'csv')).toBe('csv');
  });

  it('parses flags', () => {
    expect(parseIngestArgs(['--file', 'a.csv', '-t', 'T', '--rate', '250.5', '-b', '100', '--format', 'csv', '-q', '--json', '--dead-letter-topic', 'D'])).toEqual({
      file: 'a.csv', format: 'csv', topic: 'T', deadLetterTopic: 'D', overrides: { rate: 250.5, batchSize: 100 }, quiet: true, json: true,
    });
    expect(parseIngestArgs(['-f', '-'])).toMatchObject({ file: '-', overrides: {}, quiet: false, json: false });
  });

  it.each([
    [[], /--file is required/],
    [['--file', 'a', '--batch-size', '0'], /--batch-size must be an integer >= 1/],
    [['--file', 'a', '--batch-size', '2.5'], /--batch-size must be an integer/],
    [['--file', 'a', '--rate', 'fast'], /--rate must be a number >= 0/],
    [['--file', 'a', '--format', 'xml'], /--format must be one of jsonl, csv/],
    [['--file', 'a', '--bogus'], /bogus/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseIngestArgs(argv)).toThrow(message);
  });
});
