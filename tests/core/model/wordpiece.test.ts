import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../../core/paths.js';
import { WordPieceTokenizer } from '../../../core/model/wordpiece.js';

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'un', '##aff', '##able', 'cafe', '!', '.', "'", 's', 'great', 'head', '##phones', '日', '本'];
const tiny = WordPieceTokenizer.fromJson({
  normalizer: { type: 'BertNormalizer', lowercase: true, strip_accents: null },
  model: { type: 'WordPiece', vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 },
});
const pieces = (t: WordPieceTokenizer, text: string, max = 256) => {
  const inverse = new Map([...t.vocab].map(([k, v]) => [v, k]));
  return t.encode(text, { maxTokens: max }).map((id) => inverse.get(id));
};

describe('WordPieceTokenizer', () => {
  it('lowercases, strips accents, splits punctuation and CJK, and adds [CLS]/[SEP]', () => {
    expect(pieces(tiny, "Great Café's HEADPHONES!")).toEqual(['[CLS]', 'great', 'cafe', "'", 's', 'head', '##phones', '!', '[SEP]']);
    expect(pieces(tiny, '日本')).toEqual(['[CLS]', '日', '本', '[SEP]']);
  });

  it('splits greedily longest-first and maps an uncoverable word to one [UNK]', () => {
    expect(pieces(tiny, 'unaffable')).toEqual(['[CLS]', 'un', '##aff', '##able', '[SEP]']);
    expect(pieces(tiny, 'unaffxable great')).toEqual(['[CLS]', '[UNK]', 'great', '[SEP]']);
  });

  it('drops control characters and treats tabs/newlines as spaces', () => {
    expect(pieces(tiny, 'great\u0000\tcafe\n.')).toEqual(['[CLS]', 'great', 'cafe', '.', '[SEP]']);
  });

  it('truncates to maxTokens including the special tokens', () => {
    expect(pieces(tiny, 'great great great great', 4)).toEqual(['[CLS]', 'great', 'great', '[SEP]']);
  });

  const real = repoPath('.cache/teacher/bge-small-en-v15-q/tokenizer.json');
  // Ids checked by hand against bge-small-en-v1.5's vocabulary (bert-base-uncased ids).
  it.skipIf(!existsSync(real))('matches bge-small-en-v1.5 ids (needs scripts/fetch-teacher.sh)', () => {
    const bge = WordPieceTokenizer.fromFile(real);
    expect(bge.size).toBe(30522);
    expect(bge.encode('Great product. Works fine!', { maxTokens: 256 })).toEqual([101, 2307, 4031, 1012, 2573, 2986, 999, 102]);
    expect(bge.encode("I didn't like the unaffordable headphones", { maxTokens: 256 })).toEqual([101, 1045, 2134, 1005, 1056, 2066, 1996, 14477, 4246, 8551, 3085, 2132, 19093, 102]);
  });
});
