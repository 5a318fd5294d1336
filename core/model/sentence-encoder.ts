/**
 * The pretrained sentence encoder (bge-small-en-v1.5, int8 ONNX) run with onnxruntime-node: the CLS vector of
 * `title + ". " + text`, L2-normalised. The trainer uses it as the teacher; the accurate tier runs it per review.
 * Batches are sorted by length so that padding stays small.
 */
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DriftlineError } from '../errors.js';
import { repoPath } from '../paths.js';
import { modelSettings } from './config.js';
import { WordPieceTokenizer } from './wordpiece.js';

export const ENCODER_DIM = 384;
export const ENCODER_MAX_TOKENS = 256;
const BATCH = 32;

export interface EncoderText {
  title?: string | null;
  text: string;
}

/** The encoder's input text; the same for the teacher at training time and the accurate tier. */
export function encoderInput(review: EncoderText): string {
  return review.title ? `${review.title}. ${review.text}` : review.text;
}

/** The encoder's files under DRIFTLINE_ENCODER_DIR; MODEL_LOAD_FAILED naming the fetch script when absent. */
export function encoderFiles(env: NodeJS.ProcessEnv = process.env): { model: string; tokenizer: string } {
  const { encoderDir } = modelSettings.load(env);
  const base = isAbsolute(encoderDir) ? encoderDir : repoPath(encoderDir);
  const files = { model: join(base, 'model.onnx'), tokenizer: join(base, 'tokenizer.json') };
  if (!existsSync(files.model) || !existsSync(files.tokenizer)) {
    throw new DriftlineError('MODEL_LOAD_FAILED', `the sentence encoder is not in ${base}: run scripts/fetch-teacher.sh first`);
  }
  return files;
}

export class SentenceEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly tokenizer: WordPieceTokenizer,
    readonly maxTokens: number,
  ) {}

  static async open(modelPath: string, tokenizerPath: string, threads = 2, maxTokens = ENCODER_MAX_TOKENS): Promise<SentenceEncoder> {
    const tokenizer = WordPieceTokenizer.fromFile(tokenizerPath);
    try {
      // No spinning: on a shared machine onnxruntime's spinning worker threads steal the CPU they wait for.
      const session = await ort.InferenceSession.create(modelPath, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      });
      return new SentenceEncoder(session, tokenizer, maxTokens);
    } catch (err) {
      throw new DriftlineError('MODEL_LOAD_FAILED', `cannot open the sentence encoder ${modelPath}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** One L2-normalised 384-dim vector per text, row-major, in input order. */
  async encode(texts: readonly string[]): Promise<Float32Array> {
    const ids = texts.map((t) => this.tokenizer.encode(t, { maxTokens: this.maxTokens }));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length);
    const out = new Float32Array(texts.length * ENCODER_DIM);
    for (let start = 0; start < order.length; start += BATCH) {
      const batch = order.slice(start, start + BATCH);
      const cls = await this.runBatch(batch.map((i) => ids[i]!));
      batch.forEach((row, k) => out.set(cls.subarray(k * ENCODER_DIM, (k + 1) * ENCODER_DIM), row * ENCODER_DIM));
    }
    return out;
  }

  private async runBatch(batch: number[][]): Promise<Float32Array> {
    const width = Math.max(...batch.map((b) => b.length));
    const inputIds = new BigInt64Array(batch.length * width);
    const mask = new BigInt64Array(batch.length * width);
    batch.forEach((tokens, r) => {
      for (let c = 0; c < tokens.length; c++) {
        inputIds[r * width + c] = BigInt(tokens[c]!);
        mask[r * width + c] = 1n;
      }
    });
    const dims = [batch.length, width];
    const result = await this.session.run({
      input_ids: new ort.Tensor('int64', inputIds, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(batch.length * width), dims),
    });
    const output = result.last_hidden_state;
    if (!output) throw new DriftlineError('MODEL_SCORING_FAILED', 'the sentence encoder returned no last_hidden_state');
    const hidden = output.data as Float32Array;
    const cls = new Float32Array(batch.length * ENCODER_DIM);
    for (let r = 0; r < batch.length; r++) {
      const row = hidden.subarray(r * width * ENCODER_DIM, r * width * ENCODER_DIM + ENCODER_DIM);
      let norm = 0;
      for (let d = 0; d < ENCODER_DIM; d++) norm += row[d]! * row[d]!;
      norm = Math.sqrt(norm) || 1;
      for (let d = 0; d < ENCODER_DIM; d++) cls[r * ENCODER_DIM + d] = row[d]! / norm;
    }
    return cls;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
