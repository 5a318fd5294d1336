import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import {
  NUMERIC_FEATURES,
  createFeaturizerConfig,
  createTokenScratch,
  featureMap,
  featurizeBatch,
  fitNumericScaling,
  normalizeText,
  parseFeaturizerConfig,
  scanTokens,
  tokenize,
} from '../../../core/features/featurizer.js';
import { hashString } from '../../../core/features/hash.js';
import type { ReviewInput } from '../../../core/review.js';
import { syntheticReviews } from '../../trainer/fixtures.js';

const config = createFeaturizerConfig({ buckets: 1 << 12, maxTokens: 64 });

function rowSlice(batch: ReturnType<typeof featurizeBatch>, row: number) {
  return {
    ids: Array.from(batch.ids.subarray(batch.offsets[row], batch.offsets[row + 1])),
    raw: Array.from(batch.numericRaw.subarray(row * NUMERIC_FEATURES.length, (row + 1) * NUMERIC_FEATURES.length)),
    scaled: Array.from(batch.numericScaled.subarray(row * NUMERIC_FEATURES.length, (row + 1) * NUMERIC_FEATURES.length)),
  };
}

describe('normalizeText', () => {
  it('lowercases, applies NFKC and strips HTML tags, entities and URLs', () => {
    expect(normalizeText('<b>GREAT</b> buy &amp; see https://example.com/x?y=1 or www.shop.com now')).toBe(' great  buy & see   or   now');
    expect(normalizeText('Ｇｒｅａｔ ﬁt')).toBe('great fit');
  });
});

describe('tokenize / scanTokens', () => {
  it('keeps inner apostrophes and ! ? as tokens', () => {
    expect(tokenize("don't buy!! it's bad? 5 stars")).toEqual(["don't", 'buy', '!', '!', "it's", 'bad', '?', '5', 'stars']);
  });

  it('handles non-ASCII letters as word characters', () => {
    expect(tokenize('très bien — naïve café')).toEqual(['très', 'bien', 'naïve', 'café']);
  });

  it('computes the same hash as hashString for every token, during the scan', () => {
    const text = "it's a great, great product! 100% worth it?";
    const scratch = createTokenScratch(64);
    const count = scanTokens(text, 77, 64, scratch);
    const tokens = tokenize(text);
    expect(count).toBe(tokens.length);
    tokens.forEach((token, i) => expect(scratch.hashes[i]).toBe(hashString(token, 77)));
  });

  it('stops at maxTokens', () => {
    expect(tokenize('a b c d e f', 3)).toEqual(['a', 'b', 'c']);
  });
});

describe('featurizeBatch', () => {
  const reviews = syntheticReviews(50, 3);

  it('is deterministic and row-independent: a review gives bit-identical features alone or inside a batch', () => {
    const batch = featurizeBatch(reviews, config);
    const again = featurizeBatch(reviews, config);
    expect(Buffer.from(again.ids.buffer).equals(Buffer.from(batch.ids.buffer))).toBe(true);
    expect(Buffer.from(again.numericScaled.buffer).equals(Buffer.from(batch.numericScaled.buffer))).toBe(true);
    for (const row of [0, 17, 49]) {
      const alone = featurizeBatch([reviews[row]!], config);
      expect(rowSlice(alone, 0)).toEqual(rowSlice(batch, row));
      expect(featureMap(alone, 0)).toEqual(featureMap(batch, row));
    }
  });

  it('tokenizes raw plain ASCII exactly like its normalised (lower-cased) form', () => {
    const texts = ["GREAT Product, Don't BUY!! It's 100% OK?", 'MiXeD CaSe 42 Words', "O'NEIL's amp"];
    for (const text of texts) {
      const raw = featurizeBatch([{ review_id: 'r', text, title: text }], config);
      const lowered = featurizeBatch([{ review_id: 'l', text: normalizeText(text), title: normalizeText(text) }], config);
      expect(Array.from(raw.ids)).toEqual(Array.from(lowered.ids));
    }
    const html = featurizeBatch([{ review_id: 'h', text: 'GREAT <b>Buy</b> &amp; see https://x.io' }], config);
    const clean = featurizeBatch([{ review_id: 'c', text: 'great buy & see' }], config);
    expect(Array.from(html.ids)).toEqual(Array.from(clean.ids));
  });

  it('never uses the rating', () => {
    const base: ReviewInput = { review_id: 'r', text: 'Works fine, I guess.', rating: 1 };
    const a = featurizeBatch([base], config);
    const b = featurizeBatch([{ ...base, rating: 5 }], config);
    expect(rowSlice(a, 0)).toEqual(rowSlice(b, 0));
  });

  it('names the features of a map in NUMERIC_FEATURES order, each with its own raw value', () => {
    const batch = { size: 1, ids: new Int32Array(0), offsets: new Int32Array(2), numericRaw: Float64Array.from(NUMERIC_FEATURES, (_, f) => f + 0.5), numericScaled: new Float32Array(NUMERIC_FEATURES.length) };
    const map = featureMap(batch, 0);
    expect(Object.keys(map)).toEqual([...NUMERIC_FEATURES]);
    expect(Object.values(map)).toEqual(NUMERIC_FEATURES.map((_, f) => f + 0.5));
  });

  it('computes the numeric features by their definitions', () => {
    const review: ReviewInput = { review_id: 'n', text: 'GOOD stuff!! Really? 42', title: 'Nice', helpful_votes: null, verified: null };
    const f = featureMap(featurizeBatch([review], config), 0);
    expect(f.text_chars).toBe(23);
    expect(f.text_words).toBe(4); // good, stuff, really, 42
    expect(f.title_chars).toBe(4);
    expect(f.exclaim_ratio).toBeCloseTo(2 / 23, 12);
    expect(f.question_ratio).toBeCloseTo(1 / 23, 12);
    expect(f.upper_ratio).toBeCloseTo(5 / 15, 12); // G O O D R of 15 letters
    expect(f.digit_ratio).toBeCloseTo(2 / 23, 12);
    expect(f.nonascii_ratio).toBe(0);
    expect(f.mean_word_len).toBeCloseTo((4 + 5 + 6 + 2) / 4, 12);
    expect(f.unique_word_ratio).toBe(1);
    expect(f.helpful_log1p).toBe(-1);
    expect(f.verified).toBe(-1);
    const g = featureMap(featurizeBatch([{ ...review, helpful_votes: 3, verified: false }], config), 0);
    expect(g.helpful_log1p).toBeCloseTo(Math.log1p(3), 12);
    expect(g.verified).toBe(0);
    const h = featureMap(featurizeBatch([{ ...review, helpful_votes: Number.NaN }], config), 0);
    expect(h.helpful_log1p).toBe(-1);
  });

  it('gives finite features and no ids for texts without any word', () => {
    const batch = featurizeBatch([{ review_id: 'e', text: '😀 … —' }, { review_id: 'f', text: '' }], config);
    expect(batch.offsets[2]).toBe(0);
    expect(Array.from(batch.numericScaled).every(Number.isFinite)).toBe(true);
  });

  it('puts unigrams and bigrams into the bucket range, title tokens first', () => {
    const batch = featurizeBatch([{ review_id: 'x', text: 'alpha beta gamma', title: 'delta' }], config);
    // title: 1 unigram; text: 3 unigrams + 2 bigrams
    expect(batch.offsets[1]).toBe(6);
    for (const id of batch.ids) expect(id >= 0 && id < config.buckets).toBe(true);
    expect(batch.ids[0]).toBe(hashString('delta', config.hashSeed) & (config.buckets - 1));
  });

  it('scales numeric features with the fitted training statistics', () => {
    const fitted = fitNumericScaling(config, reviews);
    const batch = featurizeBatch(reviews, fitted);
    const width = NUMERIC_FEATURES.length;
    const words = NUMERIC_FEATURES.indexOf('text_words');
    let mean = 0;
    for (let r = 0; r < reviews.length; r++) mean += batch.numericScaled[r * width + words]!;
    expect(Math.abs(mean / reviews.length)).toBeLessThan(1e-5);
  });
});

describe('parseFeaturizerConfig', () => {
  it('accepts a saved config and rejects unknown or broken ones with MODEL_LOAD_FAILED', () => {
    const saved = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
    expect(parseFeaturizerConfig(saved)).toEqual(config);
    for (const broken of [{ ...saved, formatVersion: 99 }, { ...saved, buckets: 1000 }, { ...saved, kind: 'bert' }, null, { ...saved, numeric: { ...(saved.numeric as object), std: [0] } }]) {
      try {
        parseFeaturizerConfig(broken);
        expect.unreachable('should have thrown');
      } catch (err) {
        expect(err).toBeInstanceOf(DriftlineError);
        expect((err as DriftlineError).code).toBe('MODEL_LOAD_FAILED');
      }
    }
  });
});
