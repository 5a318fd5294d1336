/**
 * The input side of ingest: JSONL and CSV readers that yield one InputRecord per record (a record that
 * cannot be parsed is yielded with its error, never thrown), and opening a source (file, gzip, stdin, stream).
 */
import { stat } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { extname } from 'node:path';
import { parse as parseCsv, type CsvError } from 'csv-parse';
import { DriftlineError } from '../core/errors.js';
import { isGzipName, openDataFile } from '../core/paths.js';
import { decodeUtf8Escaping } from '../core/utf8.js';
import type { InputFormat, IngestSource, InputRecord } from './types.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const UTF8_BOM = '\uFEFF';

function unparseable(message: string): DriftlineError {
  return new DriftlineError('RECORD_UNPARSEABLE', message, { field: '(record)' });
}

function parseJsonLine(line: number, raw: Buffer): InputRecord | null {
  // Bytes that are not UTF-8 become lone surrogates (not U+FFFD, which is valid text): validation reports them as TEXT_ENCODING.
  let text = decodeUtf8Escaping(raw);
  if (line === 1 && text.startsWith(UTF8_BOM)) text = text.slice(1);
  if (text.trim() === '') return null;
  try {
    return { line, raw, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { line, raw, error: unparseable(`line ${line} is not JSON: ${(err as Error).message}`) };
  }
}

/**
 * Splits a byte stream into lines without decoding first, so a dead letter keeps the exact original bytes
 * (invalid UTF-8 included). A line over maxLineBytes is not buffered whole: its head is kept and the rest skipped.
 */
export async function* readJsonl(stream: Readable, maxLineBytes: number, onBlank: () => void = () => undefined): AsyncGenerator<InputRecord> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let oversized = 0;
  let line = 0;
  const finishLine = (): InputRecord | null => {
    line++;
    let raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    if (oversized > 0) {
      const total = oversized;
      oversized = 0;
      return { line, raw, error: unparseable(`line ${line} is ${total} bytes, over the ${maxLineBytes}-byte line limit`) };
    }
    if (raw.length > 0 && raw[raw.length - 1] === CARRIAGE_RETURN) raw = raw.subarray(0, raw.length - 1);
    const record = parseJsonLine(line, raw);
    if (record === null) onBlank();
    return record;
  };
  const keep = (piece: Buffer): void => {
    if (oversized > 0 || partBytes + piece.length > maxLineBytes) {
      if (oversized === 0) oversized = partBytes;
      oversized += piece.length;
      const room = maxLineBytes - partBytes;
      if (room > 0) {
        parts.push(piece.subarray(0, room));
        partBytes += room;
      }
      return;
    }
    parts.push(piece);
    partBytes += piece.length;
  };
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    let start = 0;
    for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
      // A view, not a copy: a pushed chunk belongs to the reader (stream contract), and lines die with their batch.
      keep(buffer.subarray(start, end));
      const record = finishLine();
      if (record) yield record;
      start = end + 1;
    }
    if (start < buffer.length) keep(buffer.subarray(start));
  }
  if (partBytes > 0 || oversized > 0) {
    const record = finishLine();
    if (record) yield record;
  }
}

const INTEGER_COLUMNS = new Set(['rating', 'helpful_votes', 'event_time_ms']);
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * CSV cells are strings; convert the typed columns the way JSON would carry them. A cell that does not
 * convert stays a string, so validation reports FIELD_TYPE naming the column. Empty cells are null,
 * except text (empty text is TEXT_EMPTY, not missing).
 */
export function convertCsvRow(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    const value = cell.trim();
    if (column === 'text') out[column] = cell;
    else if (value === '') out[column] = null;
    else if (INTEGER_COLUMNS.has(column)) out[column] = NUMBER_PATTERN.test(value) ? Number(value) : cell;
    else if (column === 'verified') out[column] = /^(true|1|yes)$/i.test(value) ? true : /^(false|0|no)$/i.test(value) ? false : cell;
    else out[column] = cell;
  }
  return out;
}

interface CsvParsed {
  record: Record<string, string>;
  info: { lines: number };
  raw: string;
}

function newlinesIn(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

/**
 * csv-parse decodes as latin1: one character per byte, so `raw` turns back into exactly the bytes that
 * were sent (invalid UTF-8 included, for the dead letter) and quotes, commas and newlines — all ASCII,
 * never part of a UTF-8 multi-byte sequence — are found just as they would be in UTF-8. Cells and header
 * names are then decoded as UTF-8 (invalid bytes become lone surrogates, core/utf8.ts, which validation
 * reports as TEXT_ENCODING, as for JSONL).
 */
const CSV_PARSE_ENCODING = 'latin1';
const UTF8_BOM_BYTES = Buffer.from(UTF8_BOM, 'utf8');

function fromCsvParse(text: string): Buffer {
  return Buffer.from(text, CSV_PARSE_ENCODING);
}

function utf8FromCsvParse(text: string): string {
  return decodeUtf8Escaping(fromCsvParse(text));
}

/**
 * Drops a leading UTF-8 byte-order mark. csv-parse's own `bom` option would switch its decoding back to
 * UTF-8 when it sees one, which would lose the byte-exact raw records.
 */
async function* withoutUtf8Bom(stream: Readable): AsyncGenerator<Buffer> {
  let head: Buffer | null = Buffer.alloc(0);
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    if (head === null) {
      yield buffer;
      continue;
    }
    head = Buffer.concat([head, buffer]);
    if (head.length < UTF8_BOM_BYTES.length && UTF8_BOM_BYTES.subarray(0, head.length).equals(head)) continue; // not decided yet
    yield head.subarray(0, UTF8_BOM_BYTES.length).equals(UTF8_BOM_BYTES) ? head.subarray(UTF8_BOM_BYTES.length) : head;
    head = null;
  }
  if (head !== null && head.length > 0) yield head;
}

/** CSV with a header row (csv-parse); a record that cannot be parsed is yielded as RECORD_UNPARSEABLE and parsing goes on. */
export async function* readCsv(stream: Readable): AsyncGenerator<InputRecord> {
  const skipped: InputRecord[] = [];
  const parser = parseCsv({
    columns: (header: string[]) => header.map(utf8FromCsvParse),
    encoding: CSV_PARSE_ENCODING,
    bom: false,
    info: true,
    raw: true,
    skip_empty_lines: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined, raw: string | undefined) => {
      const line = typeof err?.lines === 'number' ? err.lines : 0;
      skipped.push({ line, raw: fromCsvParse(raw ?? ''), error: unparseable(`CSV record at line ${line} cannot be parsed: ${err?.message ?? 'unknown error'}`) });
      return undefined;
    },
  });
  pipeline(Readable.from(withoutUtf8Bom(stream)), parser, () => undefined); // errors surface through the iteration below
  for await (const parsed of parser as AsyncIterable<CsvParsed>) {
    // info.lines is the line where the record ended; a quoted multi-line text started earlier.
    const trailing = parsed.raw.endsWith('\n') ? 1 : 0;
    const line = parsed.info.lines - (newlinesIn(parsed.raw) - trailing);
    // csv-parse reports skipped records while parsing ahead: emit the ones before this record, in line order.
    while (skipped.length > 0 && skipped[0]!.line < line) yield skipped.shift()!;
    const cells = Object.fromEntries(Object.entries(parsed.record).map(([column, cell]) => [column, utf8FromCsvParse(cell)]));
    yield { line, raw: fromCsvParse(parsed.raw.slice(0, parsed.raw.length - trailing).replace(/\r$/, '')), value: convertCsvRow(cells) };
  }
  yield* skipped.splice(0);
}

export function sourceName(source: IngestSource): string {
  if (typeof source !== 'string') return source.name;
  return source === '-' ? 'stdin' : source;
}

export function openSource(source: IngestSource): Readable {
  if (typeof source !== 'string') return source.stream;
  return source === '-' ? process.stdin : openDataFile(source);
}

export function detectFormat(source: IngestSource, explicit?: InputFormat): InputFormat {
  if (explicit) return explicit;
  const name = sourceName(source);
  return extname(isGzipName(name) ? name.slice(0, -3) : name).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

/** Fails before touching Kafka when the input file cannot be read (a typo should not create topics). */
export async function assertReadable(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new DriftlineError('NOT_FOUND', `cannot read input ${path}: ${(err as Error).message}`, { cause: err, field: 'file' });
  }
}
