/**
 * BERT word-piece tokenizer driven by a Hugging Face `tokenizer.json` (BertNormalizer + BertPreTokenizer +
 * WordPiece, as shipped with bge-small-en-v1.5). Hand-written because the npm tokenizer libraries either fetch
 * files from a model hub at run time or pull in a large transformer runtime; this one reads the local file only.
 * Used by the teacher (training time) and by the model tiers that work on word-piece ids.
 */
import { readFileSync } from 'node:fs';
import { DriftlineError } from '../errors.js';

export interface WordPieceOptions {
  /** Tokens per text including [CLS] and [SEP]. */
  maxTokens: number;
}

interface TokenizerJson {
  normalizer?: { type?: string; lowercase?: boolean; strip_accents?: boolean | null };
  model?: { type?: string; vocab?: Record<string, number>; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
}

const CONTROL_OR_INVALID = /[\u0000\ufffd\p{Cc}\p{Cf}]/u;
const WHITESPACE = /[\s\p{Zs}]/u;
const MARK = /\p{Mn}/gu;
const PUNCTUATION = /[\p{P}!-/:-@[-`{-~]/u;

/** CJK ideographs are split into single characters, as BERT does. */
function isCjk(code: number): boolean {
  return (
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x20000 && code <= 0x2a6df) ||
    (code >= 0x2a700 && code <= 0x2b81f) ||
    (code >= 0x2b820 && code <= 0x2ceaf) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0x2f800 && code <= 0x2fa1f)
  );
}

export class WordPieceTokenizer {
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  readonly padId: number;

  private constructor(
    readonly vocab: ReadonlyMap<string, number>,
    private readonly lowercase: boolean,
    private readonly stripAccents: boolean,
    private readonly prefix: string,
    private readonly maxCharsPerWord: number,
  ) {
    const id = (t: string) => {
      const v = vocab.get(t);
      if (v === undefined) throw new DriftlineError('MODEL_LOAD_FAILED', `tokenizer vocabulary lacks ${t}`);
      return v;
    };
    this.clsId = id('[CLS]');
    this.sepId = id('[SEP]');
    this.unkId = id('[UNK]');
    this.padId = id('[PAD]');
  }

  static fromFile(path: string): WordPieceTokenizer {
    let parsed: TokenizerJson;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as TokenizerJson;
    } catch (err) {
      throw new DriftlineError('MODEL_LOAD_FAILED', `cannot read tokenizer ${path}: ${(err as Error).message}`, { cause: err });
    }
    return WordPieceTokenizer.fromJson(parsed, path);
  }

  static fromJson(parsed: TokenizerJson, where = 'tokenizer.json'): WordPieceTokenizer {
    const model = parsed.model;
    if (model?.type !== 'WordPiece' || !model.vocab) throw new DriftlineError('MODEL_LOAD_FAILED', `${where}: not a WordPiece tokenizer`);
    const lowercase = parsed.normalizer?.lowercase ?? true;
    // Hugging Face's BertNormalizer strips accents whenever it lowercases unless strip_accents is set explicitly.
    const stripAccents = parsed.normalizer?.strip_accents ?? lowercase;
    return new WordPieceTokenizer(new Map(Object.entries(model.vocab)), lowercase, stripAccents, model.continuing_subword_prefix ?? '##', model.max_input_chars_per_word ?? 100);
  }

  get size(): number {
    return this.vocab.size;
  }

  /** Cleaned, lowercased, accent-stripped text split into words and single punctuation marks. */
  words(text: string): string[] {
    const out: string[] = [];
    let current = '';
    const flush = () => {
      if (current) out.push(current);
      current = '';
    };
    let normalized = text;
    if (this.lowercase) normalized = normalized.toLowerCase();
    if (this.stripAccents) normalized = normalized.normalize('NFD').replace(MARK, '');
    for (const ch of normalized) {
      const code = ch.codePointAt(0)!;
      if (WHITESPACE.test(ch)) flush();
      else if (CONTROL_OR_INVALID.test(ch)) continue;
      else if (PUNCTUATION.test(ch) || isCjk(code)) {
        flush();
        out.push(ch);
      } else current += ch;
    }
    flush();
    return out;
  }

  /** Greedy longest-match-first word pieces of one word; [UNK] when a word cannot be covered. */
  private pieces(word: string, out: number[]): void {
    const chars = [...word];
    if (chars.length > this.maxCharsPerWord) {
      out.push(this.unkId);
      return;
    }
    const start = out.length;
    let begin = 0;
    while (begin < chars.length) {
      let end = chars.length;
      let found = -1;
      while (begin < end) {
        const piece = (begin > 0 ? this.prefix : '') + chars.slice(begin, end).join('');
        const id = this.vocab.get(piece);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) {
        out.length = start;
        out.push(this.unkId);
        return;
      }
      out.push(found);
      begin = end;
    }
  }

  /** Word-piece ids without the special tokens, at most `limit` of them. */
  pieceIds(text: string, limit = Number.POSITIVE_INFINITY): number[] {
    const out: number[] = [];
    for (const word of this.words(text)) {
      this.pieces(word, out);
      if (out.length >= limit) break;
    }
    if (out.length > limit) out.length = limit;
    return out;
  }

  /** [CLS] pieces [SEP], truncated to maxTokens as the teacher was run. */
  encode(text: string, { maxTokens }: WordPieceOptions): number[] {
    return [this.clsId, ...this.pieceIds(text, Math.max(0, maxTokens - 2)), this.sepId];
  }
}
