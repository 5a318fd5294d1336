import { describe, expect, it } from 'vitest';
import { createFeaturizerConfig, featurizeBatch } from '../../core/features/featurizer.js';
import { createWideScratch, softmax3, temperatureScale, wideBucket, wideProbabilities, wideRow } from '../../core/model/wide-scoring.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { sentimentLabel, splitByReviewId } from '../../trainer/data.js';
import { classificationReport } from '../../trainer/metrics.js';
import { fitIdf, foldTemperature, trainWide, tuneBlend } from '../../trainer/wide.js';
import { syntheticReviews } from './fixtures.js';

const config = createFeaturizerConfig({ buckets: 1 << 12, bigrams: false });
const review = (text: string) => ({ review_id: text, text });

describe('wide part features', () => {
  it('idf: rarer buckets weigh more, buckets under minDf are ignored (idf 0)', () => {
    const batch = featurizeBatch([review('good good'), review('good bad'), review('good fine')], config);
    const idf = fitIdf(batch, config.buckets, 2);
    const id = (word: string) => featurizeBatch([review(word)], config).ids[0]!;
    expect(idf[id('good')]).toBeCloseTo(Math.log(4 / 4) + 1, 6);
    expect(idf[id('bad')]).toBe(0);
    const loose = fitIdf(batch, config.buckets, 1);
    expect(loose[id('bad')]).toBeCloseTo(Math.log(4 / 2) + 1, 6);
  });

  it('rows are L2-normalised sublinear tf x idf over distinct ids', () => {
    const batch = featurizeBatch([review('good good good bad')], config);
    const idf = new Float32Array(config.buckets).fill(1);
    const scratch = createWideScratch(config.buckets);
    const n = wideRow(batch, 0, idf, scratch);
    expect(n).toBe(2);
    const buckets = [wideBucket(scratch, 0), wideBucket(scratch, 1)].sort((a, b) => a - b);
    expect(buckets).toEqual([...new Set(batch.ids)].sort((a, b) => a - b));
    const good = 1 + Math.log(3);
    const norm = Math.hypot(good, 1);
    const values = Array.from(scratch.values.subarray(0, 2)).sort((a, b) => b - a);
    expect(values[0]).toBeCloseTo(good / norm, 6);
    expect(values[1]).toBeCloseTo(1 / norm, 6);
  });
});

describe('wide part training', () => {
  const rows = syntheticReviews(1200, 17);
  const { rest, held } = splitByReviewId(rows, 0.2, 3);
  const { rest: fitRows, held: valRows } = splitByReviewId(rest, 0.15, 5);
  const labelled = (rs: typeof rows) => ({ batch: featurizeBatch(rs, config), sentiment: Int32Array.from(rs, (r) => sentimentLabel(r.rating)) });
  const params = { epochs: 4, learningRate: 0.2, l2: 1e-6, minDf: 2, classWeights: [1, 1, 1], seed: 9 };

  it('learns the synthetic sentiment on held-out rows and is repeatable', () => {
    const first = trainWide(labelled(fitRows), labelled(valRows), config.buckets, params);
    const second = trainWide(labelled(fitRows), labelled(valRows), config.buckets, params);
    expect(Buffer.from(second.wide.kernel.buffer).equals(Buffer.from(first.wide.kernel.buffer))).toBe(true);
    expect(Array.from(second.wide.bias)).toEqual(Array.from(first.wide.bias));
    const test = labelled(held);
    const probs = wideProbabilities(test.batch, first.wide, createWideScratch(config.buckets));
    const predicted = Int32Array.from({ length: held.length }, (_, r) => {
      let best = 0;
      for (let c = 1; c < 3; c++) if (probs[r * 3 + c]! > probs[r * 3 + best]!) best = c;
      return best;
    });
    expect(classificationReport(test.sentiment, predicted, SENTIMENTS).macroF1).toBeGreaterThan(0.85);
  });

  it('a temperature folded into the weights gives the temperature-scaled probabilities', () => {
    const kernel = Float32Array.from([1.5, -0.5, 0.25]);
    const bias = Float32Array.from([0.2, 0.1, -0.3]);
    const before = new Float32Array(3);
    softmax3(kernel[0]! + bias[0]!, kernel[1]! + bias[1]!, kernel[2]! + bias[2]!, before, 0);
    temperatureScale(before, 1.6);
    foldTemperature(kernel, bias, 1.6);
    const after = new Float32Array(3);
    softmax3(kernel[0]! + bias[0]!, kernel[1]! + bias[1]!, kernel[2]! + bias[2]!, after, 0);
    for (let c = 0; c < 3; c++) expect(after[c]).toBeCloseTo(before[c]!, 6);
  });

  it('the blend search picks the better model when one of them is useless', () => {
    const labels = Int32Array.from({ length: 300 }, (_, i) => i % 3);
    const good = new Float32Array(900);
    const uniform = new Float32Array(900).fill(1 / 3);
    for (let r = 0; r < 300; r++) for (let c = 0; c < 3; c++) good[r * 3 + c] = c === labels[r] ? 0.8 : 0.1;
    expect(tuneBlend(uniform, good, labels).blend.wideWeight).toBeGreaterThan(0);
    const deepGood = tuneBlend(good, uniform, labels);
    expect(deepGood.blend.wideWeight).toBe(0);
    expect(deepGood.after).toBe(1);
  });
});
