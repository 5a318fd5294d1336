/** The wide category part of both tiers (core/model/category-wide.ts): its file format, its logits and the stream tier's blend. */
import { describe, expect, it } from 'vitest';
import { createFeaturizerConfig, featurizeBatch } from '../../../core/features/featurizer.js';
import { type CategoryWideModel, blendCategoryRow, categoryWideLogits, collectedRowCategoryLogits, parseCategoryWide, quantizeCategoryKernel, quantizedCategorySteps, serializeCategoryWide, softmaxInPlace } from '../../../core/model/category-wide.js';
import { collectWideRow, createServingScratch, createWideScratch, packWide, wideBucket, wideRow } from '../../../core/model/wide-scoring.js';
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

  it('quantizes each class to int8 multiples of a power-of-two step, exact float32 numbers within half a step, and finds the steps back', () => {
    const k = 3;
    const kernel = Float32Array.from({ length: BUCKETS * k }, (_, i) => (i % k === 2 ? 0 : Math.sin(i * 1.3) * (i % k === 0 ? 5 : 0.01)));
    const quantized = quantizeCategoryKernel(kernel, k);
    const steps = quantizedCategorySteps(quantized, k)!;
    expect(steps).not.toBeNull();
    // The smallest power of two that fits the class's largest |weight| into 127 steps.
    for (const c of [0, 1]) {
      const max = Math.max(...Array.from(kernel.filter((_, i) => i % k === c), Math.abs));
      expect(Number.isInteger(Math.log2(steps[c]!))).toBe(true);
      expect([max / steps[c]! <= 127, max / (steps[c]! / 2) > 127]).toEqual([true, true]);
    }
    quantized.forEach((w, i) => {
      const level = w / steps[i % k]!;
      expect(Number.isInteger(level) && Math.abs(level) <= 127).toBe(true);
      expect(Math.fround(w)).toBe(w);
      expect(Math.abs(w - kernel[i]!)).toBeLessThanOrEqual(steps[i % k]! / 2);
    });
    // An all-zero class stays zero; a kernel that was not quantized has no steps.
    expect(Array.from(quantized.filter((_, i) => i % k === 2))).toEqual(new Array(BUCKETS).fill(0));
    expect(quantizedCategorySteps(kernel, k)).toBeNull();
    expect(quantizeCategoryKernel(quantized, k)).toEqual(quantized);
  });

  it('of a serving scratch\'s collected row, gives the generic logits bit for bit: from its int8 blocks (quantized kernel, every class count) or from the kernel table', () => {
    const config = createFeaturizerConfig({ buckets: BUCKETS });
    const reviews = [
      { review_id: 'a', title: 'Great capo', text: 'The capo holds the strings, great capo.' },
      { review_id: 'b', text: '' },
      { review_id: 'c', text: 'dryer vent kit fits the dryer vent, range hood parts too, vent vent vent' },
    ];
    const batch = featurizeBatch(reviews, config);
    const dim = 4;
    const embedding = Float32Array.from({ length: BUCKETS * dim }, (_, i) => Math.cos(i) / 3);
    for (const k of [1, 2, 3, 4, 5, 7, 14]) {
      const raw = Float32Array.from({ length: BUCKETS * k }, (_, i) => Math.sin(i * 1.7) / 2);
      for (const kernel of [quantizeCategoryKernel(raw, k), raw]) {
        const m: CategoryWideModel = { idf: model().idf, kernel, bias: Float32Array.from({ length: k }, (_, c) => c / 10 - 0.2) };
        const steps = quantizedCategorySteps(kernel, k);
        const serving = createServingScratch(BUCKETS, embedding, dim, steps ? { kernel, classes: k, steps } : undefined);
        expect(serving.categoryBytes !== null).toBe(kernel !== raw);
        packWide(serving, { idf: m.idf, kernel: new Float32Array(BUCKETS * 3), bias: new Float32Array(3) });
        const served = new Float64Array(reviews.length * k);
        const generic = new Float64Array(reviews.length * k);
        for (let r = 0; r < reviews.length; r++) {
          collectWideRow(batch, r, serving);
          collectedRowCategoryLogits(serving, m, served, r * k);
          categoryWideLogits(batch, r, m, createWideScratch(BUCKETS), generic, r * k);
        }
        expect(Array.from(served), `${k} classes, ${kernel === raw ? 'table' : 'int8 blocks'}`).toEqual(Array.from(generic));
      }
    }
    // Int8 blocks keep a 16-wide embedding's block at 96 bytes (two cache lines) with 14 classes.
    const q = quantizeCategoryKernel(Float32Array.from({ length: BUCKETS * 14 }, (_, i) => Math.sin(i)), 14);
    expect(createServingScratch(BUCKETS, new Float32Array(BUCKETS * 16), 16, { kernel: q, classes: 14, steps: quantizedCategorySteps(q, 14)! }).stride * 4).toBe(96);
  });

  it('refuses a scratch packed for another class count (MODEL_SCORING_FAILED)', async () => {
    const q = quantizeCategoryKernel(Float32Array.from({ length: BUCKETS * 2 }, (_, i) => Math.sin(i)), 2);
    const serving = createServingScratch(BUCKETS, new Float32Array(BUCKETS * 4), 4, { kernel: q, classes: 2, steps: quantizedCategorySteps(q, 2)! });
    const three = { ...model(), kernel: new Float32Array(BUCKETS * 3) };
    await expectCode(Promise.resolve().then(() => collectedRowCategoryLogits(serving, three, new Float64Array(3), 0)), 'MODEL_SCORING_FAILED');
  });

  it('blends softmax(w ln p_head + (1 - w) wide logits + offsets) into the head row, by hand', () => {
    const head = Float32Array.from([0.7, 0.2, 0.1, 0.5, 0.25, 0.25]);
    const wide = Float64Array.from([0.3, 1.2, -0.4, 2, 0, -1]);
    const blend = { headWeight: 0.3, logOffsets: [0.1, -0.2, 0] };
    const expected = [0, 1].map((r) => {
      const z = [0, 1, 2].map((c) => 0.3 * Math.log(head[r * 3 + c]!) + 0.7 * wide[r * 3 + c]! + blend.logOffsets[c]!);
      const e = z.map((x) => Math.exp(x));
      return e.map((x) => x / e.reduce((a, b) => a + b, 0));
    });
    for (let r = 0; r < 2; r++) blendCategoryRow(head, r * 3, wide, r * 3, 3, blend);
    expected.flat().forEach((p, i) => expect(head[i]).toBeCloseTo(p, 6));
    // Weight 1 with no offsets is the head alone.
    const alone = Float32Array.from([0.6, 0.3, 0.1]);
    blendCategoryRow(alone, 0, Float64Array.from([5, -5, 0]), 0, 3, { headWeight: 1, logOffsets: [0, 0, 0] });
    [0.6, 0.3, 0.1].forEach((p, c) => expect(alone[c]).toBeCloseTo(p, 6));
  });
});
