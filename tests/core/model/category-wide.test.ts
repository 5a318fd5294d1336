/** The accurate tier's wide category part (core/model/category-wide.ts): its file format and its logits. */
import { describe, expect, it } from 'vitest';
import { createFeaturizerConfig, featurizeBatch } from '../../../core/features/featurizer.js';
import { type CategoryWideModel, categoryWideLogits, parseCategoryWide, serializeCategoryWide, softmaxInPlace } from '../../../core/model/category-wide.js';
import { createWideScratch, wideBucket, wideRow } from '../../../core/model/wide-scoring.js';
import { expectCode } from './runtime-conformance.js';

const BUCKETS = 64;
const K = 3;

function model(): CategoryWideModel {
  return {
    idf: Float32Array.from({ length: BUCKETS }, (_, b) => (b % 5 === 0 ? 0 : 1 + (b % 7) / 10)),
    kernel: Float32Array.from({ length: BUCKETS * K }, (_, i) => Math.sin(i) / 2),
    bias: Float32Array.from([0.1, -0.2, 0.3]),
  };
}

describe('wide category part', () => {
  it('serializes and parses back to the same floats', () => {
    const m = model();
    const back = parseCategoryWide(serializeCategoryWide(m), BUCKETS, K, 'x');
    expect([Array.from(back.idf), Array.from(back.kernel), Array.from(back.bias)]).toEqual([Array.from(m.idf), Array.from(m.kernel), Array.from(m.bias)]);
    // From a buffer at an odd offset (a slice of a larger read) too.
    const bytes = serializeCategoryWide(m);
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    expect(Array.from(parseCategoryWide(padded.subarray(1), BUCKETS, K, 'x').kernel)).toEqual(Array.from(m.kernel));
  });

  it('MODEL_LOAD_FAILED, naming the file and the reason, for a file that does not fit the version', async () => {
    const bytes = serializeCategoryWide(model());
    const with32 = (at: number, value: number) => {
      const copy = bytes.slice();
      new DataView(copy.buffer).setUint32(at, value, true);
      return copy;
    };
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(16 + 4 * 3, Number.NaN, true);
    const cases: Array<[Uint8Array, number, number, RegExp]> = [
      [bytes.subarray(0, 10), BUCKETS, K, /shorter than its header/],
      [with32(0, 7), BUCKETS, K, /bad magic/],
      [with32(4, 9), BUCKETS, K, /format 9/],
      [bytes, BUCKETS * 2, K, /64 buckets, the featurizer hashes into 128/],
      [bytes, BUCKETS, K + 1, /3 classes, the category head has 4/],
      [bytes.subarray(0, bytes.length - 4), BUCKETS, K, /bytes, expected/],
      [nan, BUCKETS, K, /non-finite weight at float 3/],
    ];
    for (const [b, buckets, classes, why] of cases) {
      expect(() => parseCategoryWide(b, buckets, classes, 'accurate/category-wide.bin')).toThrow(why);
      await expectCode(Promise.resolve().then(() => parseCategoryWide(b, buckets, classes, 'f')), 'MODEL_LOAD_FAILED');
    }
  });

  it('logits are bias + kernel . (the TF-IDF row the stream model\'s wide part sees); softmaxInPlace turns them into probabilities', () => {
    const m = model();
    const config = createFeaturizerConfig({ buckets: BUCKETS });
    const batch = featurizeBatch([{ review_id: 'a', title: 'Great capo', text: 'The capo holds the strings, great capo.' }, { review_id: 'b', text: '' }], config);
    const logits = new Float64Array(2 * K);
    categoryWideLogits(batch, 0, m, createWideScratch(BUCKETS), logits, 0);
    categoryWideLogits(batch, 1, m, createWideScratch(BUCKETS), logits, K);
    const s = createWideScratch(BUCKETS);
    const n = wideRow(batch, 0, m.idf, s);
    expect(n).toBeGreaterThan(3);
    const expected = Array.from(m.bias, (b) => b);
    for (let j = 0; j < n; j++) for (let c = 0; c < K; c++) expected[c]! += m.kernel[wideBucket(s, j) * K + c]! * s.values[j]!;
    expected.forEach((z, c) => expect(logits[c]).toBeCloseTo(z, 6));
    // An empty review is its bias.
    expect(Array.from(logits.subarray(K))).toEqual(Array.from(m.bias, (b) => b));
    const probs = logits.slice(0, K);
    softmaxInPlace(probs, 0, K);
    const e = expected.map((z) => Math.exp(z));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => expect(probs[c]).toBeCloseTo(v / sum, 9));
  });
});
