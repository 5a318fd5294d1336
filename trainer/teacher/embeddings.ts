/**
 * The teacher's sentence embeddings of a set of reviews, cached on disk under .cache/teacher/embeddings/ and keyed
 * by the exact encoder inputs (and the encoder files), so experiments and retraining never recompute them. The
 * cache is written in chunks: an interrupted run resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
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

/** Row-major [rows x 384] L2-normalised CLS vectors of `title + ". " + text`, in input order. */
export async function teacherEmbeddings(rows: readonly EncoderText[], log: (msg: string) => void = () => {}): Promise<Float32Array> {
  const files = teacherFiles();
  const texts = rows.map(encoderInput);
  const dir = repoPath('.cache', 'teacher', 'embeddings');
  mkdirSync(dir, { recursive: true });
  const key = embeddingCacheKey(texts, files);
  const done = join(dir, `${key}.f32`);
  const partial = `${done}.partial`;
  const rowBytes = ENCODER_DIM * 4;
  if (existsSync(done)) return readVectors(done, texts.length);
  let start = existsSync(partial) ? Math.floor(statSync(partial).size / rowBytes) : 0;
  if (start > 0) log(`teacher: resuming ${partial} at row ${start}`);
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
  renameSync(partial, done);
  return readVectors(done, texts.length);
}

function readVectors(path: string, rows: number): Float32Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength !== rows * ENCODER_DIM * 4) throw new DriftlineError('TRAINING_FAILED', `${path}: ${bytes.byteLength} bytes, expected ${rows} rows`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
