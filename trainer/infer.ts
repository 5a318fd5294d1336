/**
 * A batch inference job: scores a JSONL file of reviews with one registered version (default: production),
 * optionally writes the predictions as JSONL, and records the job as an `infer_` run (the quality against
 * the star ratings, as the live monitoring measures it, the pictures and the drift report against the
 * version's reference baseline). Each line is checked by the validator ingest and the API use; a bad line is
 * counted under its error code (the first few with their line numbers) and skipped, never fatal.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { DriftlineError, type ErrorCode } from '../core/errors.js';
import type { ModelRegistry } from '../core/model/registry/index.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import type { Prediction } from '../core/model/types.js';
import { openDataFile, repoRelative } from '../core/paths.js';
import { decodeUtf8Escaping } from '../core/utf8.js';
import { validateReview } from '../core/validation.js';
import type { LabeledReview } from './data.js';
import { scoreAll } from './evaluate.js';
import { recordEvaluation } from './runs/hooks.js';
import type { RunStore } from './runs/store.js';

export interface BatchInferenceOptions {
  registry: ModelRegistry;
  name: string;
  /** Default: the production version. */
  version?: number;
  /** JSONL (or .jsonl.gz) of reviews, as ingest reads them. */
  file: string;
  /** Where to write one prediction per line (none when absent). */
  out?: string;
  /** The run store (null: no run). */
  runs: RunStore | null;
  warn: (message: string) => void;
}

export interface BatchInferenceResult {
  name: string;
  version: number;
  rows: number;
  /** Lines skipped, by error code. */
  invalid: Partial<Record<ErrorCode, number>>;
  /** The first few skipped lines: line number, code and why. */
  invalidExamples: Array<{ line: number; code: ErrorCode; message: string }>;
  out: string | null;
  runId: string | null;
  seconds: number;
}

const EXAMPLES_KEPT = 5;

interface ReadReviews {
  rows: LabeledReview[];
  fingerprint: string;
  invalid: Partial<Record<ErrorCode, number>>;
  invalidExamples: BatchInferenceResult['invalidExamples'];
}

/**
 * The file's lines as text, decoded as ingest decodes them (core/utf8.ts): bytes that are not UTF-8 stay
 * recognisable, so validation refuses them as TEXT_ENCODING instead of scoring U+FFFD in their place.
 */
async function* textLines(stream: AsyncIterable<Buffer>, hash: { update(chunk: Buffer): unknown }): AsyncGenerator<string> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    hash.update(chunk);
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let newline = data.indexOf(0x0a);
    while (newline >= 0) {
      const end = newline > 0 && data[newline - 1] === 0x0d ? newline - 1 : newline;
      yield decodeUtf8Escaping(data.subarray(0, end));
      data = data.subarray(newline + 1);
      newline = data.indexOf(0x0a);
    }
    pending = Buffer.from(data);
  }
  if (pending.length > 0) yield decodeUtf8Escaping(pending);
}

async function readReviews(file: string): Promise<ReadReviews> {
  const hash = createHash('sha256');
  const stream = openDataFile(file) as AsyncIterable<Buffer>;
  const result: ReadReviews = { rows: [], fingerprint: '', invalid: {}, invalidExamples: [] };
  const skip = (line: number, code: ErrorCode, message: string): void => {
    result.invalid[code] = (result.invalid[code] ?? 0) + 1;
    if (result.invalidExamples.length < EXAMPLES_KEPT) result.invalidExamples.push({ line, code, message });
  };
  const seen = new Set<string>();
  let lineNo = 0;
  try {
    for await (const line of textLines(stream, hash)) {
      lineNo++;
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        skip(lineNo, 'RECORD_UNPARSEABLE', `line ${lineNo} is not JSON`);
        continue;
      }
      const checked = validateReview(parsed);
      if (!checked.ok) {
        skip(lineNo, checked.error.code, checked.error.message);
        continue;
      }
      const { ingest_time_ms: _ingest, ...review } = checked.review;
      if (seen.has(review.review_id)) {
        skip(lineNo, 'DUPLICATE_REVIEW', `review_id ${JSON.stringify(review.review_id)} was already seen in this file`);
        continue;
      }
      seen.add(review.review_id);
      result.rows.push(review);
    }
  } catch (err) {
    throw new DriftlineError('REQUEST_INVALID', `cannot read ${file}: ${(err as Error).message}`, { field: '--data', cause: err });
  }
  result.fingerprint = hash.digest('hex');
  return result;
}

function predictionLine(row: LabeledReview, p: Prediction, name: string, version: number): string {
  return JSON.stringify({
    review_id: row.review_id,
    sentiment: p.sentiment,
    probabilities: p.probabilities,
    confidence: p.confidence,
    category: p.category,
    category_confidence: p.categoryConfidence,
    outlier_score: p.outlierScore,
    outlier_flag: p.outlierFlag,
    shift_score: p.shiftScore,
    rating_text_disagreement: p.ratingTextDisagreement,
    model_name: name,
    model_version: version,
  });
}

async function writePredictions(path: string, rows: readonly LabeledReview[], predictions: readonly Prediction[], name: string, version: number): Promise<void> {
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([err]) => Promise.reject(err as Error));
  for (let i = 0; i < rows.length; i++) {
    if (!out.write(`${predictionLine(rows[i]!, predictions[i]!, name, version)}\n`)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
}

export async function runBatchInference(options: BatchInferenceOptions): Promise<BatchInferenceResult> {
  const started = performance.now();
  const { registry, name } = options;
  const version = options.version ?? (await registry.productionVersion(name));
  if (version === null) throw new DriftlineError('MODEL_NOT_FOUND', `${name} has no production version; pass --version`, { field: '--version' });
  await registry.get(name, version);
  const read = await readReviews(options.file);
  if (read.rows.length === 0) throw new DriftlineError('REQUEST_INVALID', `${options.file} has no valid review (${JSON.stringify(read.invalid)})`, { field: '--data' });
  const runtime = await loadModelRuntime(await registry.localVersionDir(name, version), { name, version });
  let predictions: Prediction[];
  try {
    predictions = await scoreAll(runtime, read.rows);
  } finally {
    runtime.dispose();
  }
  if (options.out) await writePredictions(options.out, read.rows, predictions, name, version);
  const run = options.runs
    ? await recordEvaluation(options.runs, {
        kind: 'infer',
        registry,
        name,
        version,
        rows: read.rows,
        predictions,
        data: { files: [options.file], fingerprint: read.fingerprint },
        params: { version, predictionsWritten: options.out !== undefined },
        metrics: { invalid: read.invalid, invalidRows: Object.values(read.invalid).reduce((a, b) => a + (b ?? 0), 0) },
        warn: options.warn,
      })
    : null;
  return {
    name,
    version,
    rows: read.rows.length,
    invalid: read.invalid,
    invalidExamples: read.invalidExamples,
    out: options.out ? repoRelative(options.out) : null,
    runId: run?.id ?? null,
    seconds: (performance.now() - started) / 1000,
  };
}
