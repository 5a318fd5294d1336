/**
 * The teacher's sentence embeddings of a set of reviews, cached on disk under .cache/teacher/embeddings/ and keyed
 * by the exact encoder inputs (and the encoder files), so experiments and retraining never recompute them. The
 * cache is written in chunks: an interrupted run resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../../core/paths.js';
import { DriftlineError } from '../../core/errors.js';
import { ENCODER_DIM, ENCODER_MAX_TOKENS, type EncoderText, SentenceEncoder, encoderFiles, encoderInput } from '../../core/model/sentence-encoder.js';
import { teacherSettings } from '../config.js';

const CHUNK = 512;

export type TeacherFiles = ReturnType<typeof encoderFiles>;

export function teacherFiles(env: NodeJS.ProcessEnv = process.env): TeacherFiles {
  try {
    return encoderFiles(env);
  } catch (err) {
    throw new DriftlineError('TRAINING_FAILED', (err as Error).message, { cause: err });
  }
}

export function embeddingCacheKey(texts: readonly string[], files: TeacherFiles): string {
  const hash = createHash('sha256');
  hash.update(`v1 maxTokens=${ENCODER_MAX_TOKENS} model=${statSync(files.model).size} `);
  hash.update(readFileSync(files.tokenizer));
  for (const t of texts) hash.update(t).update('\u0000');
  return hash.digest('hex').slice(0, 32);
}

/**
 * Row-major [rows x 384] L2-normalised CLS vectors of `title + ". " + text`, in input order. A text any earlier
 * complete cache file already holds (another sample, split or subset of the same reviews) is read from it, so only
 * texts never embedded go through the encoder: a leave-one-source-out run after a full-file run embeds nothing.
 */
export async function teacherEmbeddings(rows: readonly EncoderText[], log: (msg: string) => void = () => {}): Promise<Float32Array> {
  const files = teacherFiles();
  const texts = rows.map(encoderInput);
  const dir = repoPath('.cache', 'teacher', 'embeddings');
  mkdirSync(dir, { recursive: true });
  const key = embeddingCacheKey(texts, files);
  const done = join(dir, `${key}.f32`);
  if (existsSync(done)) return readVectors(done, texts.length);
  const encoderKey = embeddingCacheKey([], files);
  const known = new KnownVectors(dir, encoderKey);
  const missing = [...new Set(texts.filter((t) => !known.has(t)))];
  if (missing.length < texts.length) log(`teacher: ${texts.length - missing.length} of ${texts.length} rows already embedded`);
  if (missing.length > 0) known.add(missing, await encodeInto(dir, embeddingCacheKey(missing, files), encoderKey, missing, log));
  const out = new Float32Array(texts.length * ENCODER_DIM);
  texts.forEach((t, row) => out.set(known.get(t), row * ENCODER_DIM));
  return out;
}

/** Encodes `texts` into the cache file `<key>.f32` (resuming a `.partial` one) and writes its text index. */
async function encodeInto(dir: string, key: string, encoderKey: string, texts: readonly string[], log: (msg: string) => void): Promise<Float32Array> {
  const done = join(dir, `${key}.f32`);
  const partial = `${done}.partial`;
  const rowBytes = ENCODER_DIM * 4;
  let start = existsSync(partial) ? Math.floor(statSync(partial).size / rowBytes) : 0;
  if (start > 0) log(`teacher: resuming ${partial} at row ${start}`);
  const files = teacherFiles();
  const encoder = await SentenceEncoder.open(files.model, files.tokenizer, teacherSettings.load().threads);
  try {
    const t0 = performance.now();
    for (; start < texts.length; start += CHUNK) {
      const vectors = await encoder.encode(texts.slice(start, start + CHUNK));
      appendFileSync(partial, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
      const doneRows = Math.min(start + CHUNK, texts.length);
      log(`teacher: ${doneRows}/${texts.length} rows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await encoder.dispose();
  }
  writeFileSync(join(dir, `${key}.texts`), [encoderKey, ...texts.map(textDigest)].join('\n'));
  renameSync(partial, done);
  return readVectors(done, texts.length);
}

function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}

/**
 * Every vector of the complete cache files that have a text index (`<key>.texts`: the encoder's own key on the first
 * line, then one text digest per row), by text digest; files written with another encoder or token limit are skipped.
 */
class KnownVectors {
  private readonly byDigest = new Map<string, Float32Array>();

  constructor(dir: string, encoderKey: string) {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.texts')) continue;
      const base = join(dir, name.slice(0, -'.texts'.length));
      const [fileEncoder, ...digests] = readFileSync(`${base}.texts`, 'utf8').split('\n');
      if (fileEncoder !== encoderKey || !existsSync(`${base}.f32`)) continue;
      this.add(digests, readVectors(`${base}.f32`, digests.length), false);
    }
  }

  has(text: string): boolean {
    return this.byDigest.has(textDigest(text));
  }

  get(text: string): Float32Array {
    const v = this.byDigest.get(textDigest(text));
    if (!v) throw new DriftlineError('TRAINING_FAILED', 'teacher cache: a text was neither cached nor encoded');
    return v;
  }

  add(keys: readonly string[], vectors: Float32Array, keysAreTexts = true): void {
    keys.forEach((k, row) => this.byDigest.set(keysAreTexts ? textDigest(k) : k, vectors.subarray(row * ENCODER_DIM, (row + 1) * ENCODER_DIM)));
  }
}

function readVectors(path: string, rows: number): Float32Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== rows * ENCODER_DIM * 4) throw new DriftlineError('TRAINING_FAILED', `${path}: ${bytes.byteLength} bytes, expected ${rows} rows`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
