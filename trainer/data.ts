/** Labelled training data: reading JSONL, sentiment labels from ratings, the deterministic split. */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { hashString } from '../core/features/hash.js';
import { DriftlineError } from '../core/errors.js';
import { openDataFile, repoRelative } from '../core/paths.js';
import type { LabeledReview } from '../core/review.js';
import { FIELD_MAX_CHARS } from '../core/validation.js';

export type { LabeledReview };

/** 1-2 stars negative (0), 3 neutral (1), 4-5 positive (2). */
export function sentimentLabel(rating: number): 0 | 1 | 2 {
  return rating <= 2 ? 0 : rating === 3 ? 1 : 2;
}

/** The source family (`blitzer2007-mds/books` -> `blitzer2007-mds`), for per-source quality. */
export function sourceFamily(source: string | null): string {
  return source ? source.split('/')[0]! : '(none)';
}

/** One labelled review from a parsed JSON object (dataset JSONL shape); TRAINING_FAILED naming `where` if unusable. */
export function toReview(value: unknown, where: string): LabeledReview {
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object') throw new DriftlineError('TRAINING_FAILED', `${where}: not a JSON object`);
  const { review_id: id, text, rating } = v;
  if (typeof id !== 'string' || typeof text !== 'string' || typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new DriftlineError('TRAINING_FAILED', `${where}: review_id, text and an integer rating 1-5 are required`);
  }
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  // Baseline categories become drift segments, i.e. Redis keys and ClickHouse values: the same bound as validation.
  const category = str(v.category);
  if (category !== null && category.length > FIELD_MAX_CHARS.category) {
    throw new DriftlineError('TRAINING_FAILED', `${where}: category is ${category.length} characters, the limit is ${FIELD_MAX_CHARS.category}`);
  }
  const ts = typeof v.ts === 'string' ? Date.parse(v.ts) : typeof v.event_time_ms === 'number' ? v.event_time_ms : Number.NaN;
  return {
    review_id: id,
    text,
    rating,
    title: str(v.title),
    product_id: str(v.product_id),
    category,
    helpful_votes: typeof v.helpful_votes === 'number' ? v.helpful_votes : null,
    verified: typeof v.verified === 'boolean' ? v.verified : null,
    event_time_ms: Number.isFinite(ts) ? ts : null,
    source: str(v.source),
  };
}

export interface LoadedData {
  rows: LabeledReview[];
  /** sha256 over the files' bytes (decompressed, for `.gz` files), in the order given. */
  fingerprint: string;
  /** The files read, named relative to the repository when inside it (reports are the same on every clone). */
  files: string[];
}

/** Reads JSONL files (`.jsonl.gz` gunzipped); a malformed line fails the training job (training data must be clean). Duplicate ids are dropped. */
export async function loadLabeledJsonl(files: string[]): Promise<LoadedData> {
  const hash = createHash('sha256');
  const rows: LabeledReview[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const stream = openDataFile(file);
    stream.on('data', (chunk) => hash.update(chunk));
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let lineNo = 0;
    try {
      for await (const line of lines) {
        lineNo++;
        if (line.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch (err) {
          throw new DriftlineError('TRAINING_FAILED', `${file}:${lineNo}: not JSON`, { cause: err });
        }
        const review = toReview(parsed, `${file}:${lineNo}`);
        if (seen.has(review.review_id)) continue;
        seen.add(review.review_id);
        rows.push(review);
      }
    } catch (err) {
      if (err instanceof DriftlineError) throw err;
      throw new DriftlineError('TRAINING_FAILED', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { rows, fingerprint: hash.digest('hex'), files: files.map(repoRelative) };
}

/** Deterministic split by review id: the same review always lands on the same side. */
export function splitByReviewId<T extends { review_id: string }>(rows: readonly T[], fraction: number, salt: number): { rest: T[]; held: T[] } {
  const rest: T[] = [];
  const held: T[] = [];
  for (const row of rows) (hashString(row.review_id, salt) / 4294967296 < fraction ? held : rest).push(row);
  return { rest, held };
}
