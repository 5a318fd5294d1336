import { describe, expect, it } from 'vitest';
import { REFERENCE_TFIDF_PARAMS, TfidfModel } from '../../../trainer/baseline-tfidf.js';
import type { LabeledReview } from '../../../trainer/data.js';
import { tuneBlendWeight } from '../../../trainer/teacher/evaluate.js';
import { argmaxRows, fitSoftmax, softmaxProbabilities } from '../../../trainer/teacher/softmax-regression.js';
import { leaveSourceOut, randomSplit, sampleRows } from '../../../trainer/teacher/splits.js';
import { poolRows, tokenizeRows } from '../../../trainer/teacher/students.js';
import { seededRandom } from '../../../core/model/prng.js';

function review(i: number, text: string, rating: number, source: string): LabeledReview {
  return { review_id: `r${i}`, text, rating, title: null, product_id: null, category: null, helpful_votes: null, verified: null, event_time_ms: null, source };
}

const words = { 0: ['awful', 'broken', 'refund'], 1: ['okay', 'average', 'fine'], 2: ['great', 'love', 'perfect'] } as const;
const rows = Array.from({ length: 300 }, (_, i) => {
  const label = (i % 10 === 0 ? 1 : i % 3 === 0 ? 0 : 2) as 0 | 1 | 2;
  const w = words[label];
  return review(i, `${w[i % 3]} product ${w[(i + 1) % 3]} item number ${i}`, [1, 3, 5][label]!, i % 4 === 0 ? 'src/a' : 'src/b');
});

describe('evaluation splits', () => {
  it('leave-one-source-out keeps the held-out source entirely out of training', () => {
    const split = leaveSourceOut(rows, 'src/a');
    expect(split.test.length).toBe(75);
    expect(split.test.every((i) => rows[i]!.source === 'src/a')).toBe(true);
    expect(split.train.some((i) => rows[i]!.source === 'src/a')).toBe(false);
  });

  it('the random split and the sample are deterministic and disjoint', () => {
    const a = randomSplit(rows, 0.2);
    expect(randomSplit(rows, 0.2)).toEqual(a);
    expect(new Set([...a.train, ...a.test]).size).toBe(rows.length);
    expect(a.test.length).toBeGreaterThan(30);
    const sample = sampleRows(rows, 0.5);
    expect(sampleRows(rows, 0.5)).toEqual(sample);
    expect(sample.length).toBeGreaterThan(100);
    expect(sample.length).toBeLessThan(200);
  });
});

describe('softmax regression head', () => {
  it('separates three Gaussian clusters and class balancing lifts the rare class recall', () => {
    const random = seededRandom(3);
    const n = 600;
    const dim = 4;
    const x = new Float32Array(n * dim);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 20 === 0 ? 1 : i % 2;
      if (y[i] === 1 && i % 20 !== 0) y[i] = 2;
      for (let d = 0; d < dim; d++) x[i * dim + d] = (d === y[i] ? 1 : 0) + 2 * (random() - 0.5);
    }
    const all = Array.from({ length: n }, (_, i) => i);
    const balanced = argmaxRows(softmaxProbabilities(fitSoftmax(x, dim, all, y, 3), x, all), 3);
    const plain = argmaxRows(softmaxProbabilities(fitSoftmax(x, dim, all, y, 3, { c: 10, balanced: false, iterations: 300, learningRate: 0.05 }), x, all), 3);
    const recall = (pred: Int32Array, c: number) => all.filter((i) => y[i] === c && pred[i] === c).length / all.filter((i) => y[i] === c).length;
    expect(recall(balanced, 0)).toBeGreaterThan(0.6);
    expect(recall(balanced, 2)).toBeGreaterThan(0.6);
    const predictedRare = (pred: Int32Array) => pred.filter((c) => c === 1).length;
    expect(predictedRare(balanced)).toBeGreaterThan(predictedRare(plain));
  });
});

describe('blend weight', () => {
  it('puts the weight on the model that is right', () => {
    const actual = Int32Array.from([0, 1, 2, 2, 1, 0]);
    const right = Float32Array.from([...actual].flatMap((c) => [0, 1, 2].map((k) => (k === c ? 0.8 : 0.1))));
    const wrong = Float32Array.from([...actual].flatMap((c) => [0, 1, 2].map((k) => (k === (c + 1) % 3 ? 0.9 : 0.05))));
    expect(tuneBlendWeight(actual, right, wrong)).toBeGreaterThan(0.5);
    expect(tuneBlendWeight(actual, wrong, right)).toBeLessThan(0.5);
  });
});

describe('reference TF-IDF + LR and the student table', () => {
  it('char 2-5 grams add features and the probabilities sum to 1', () => {
    const train = rows.filter((_, i) => i % 5 !== 0);
    const test = rows.filter((_, i) => i % 5 === 0);
    const words12 = TfidfModel.train(train, { ...REFERENCE_TFIDF_PARAMS, charGrams: undefined });
    const withChars = TfidfModel.train(train, REFERENCE_TFIDF_PARAMS);
    expect(withChars.features).toBeGreaterThan(words12.features);
    const probs = withChars.predictProbabilities(test);
    for (let i = 0; i < test.length; i++) expect(probs[i * 3]! + probs[i * 3 + 1]! + probs[i * 3 + 2]!).toBeCloseTo(1, 5);
  });

  it('pools a review as the L2-normalised SIF-weighted mean of its known words', () => {
    const tok = tokenizeRows(rows);
    const dim = 2;
    const table = new Float32Array(tok.vocab.length * dim);
    tok.vocab.forEach((w, i) => table.set(w === 'great' ? [1, 0] : [0, 1], i * dim));
    const pooled = poolRows(table, dim, tok);
    for (let r = 0; r < rows.length; r++) expect(Math.hypot(pooled[r * dim]!, pooled[r * dim + 1]!)).toBeCloseTo(1, 5);
    const withGreat = rows.findIndex((r) => r.text.includes('great'));
    const withoutGreat = rows.findIndex((r) => !r.text.includes('great'));
    expect(pooled[withGreat * dim]).toBeGreaterThan(0);
    expect(pooled[withoutGreat * dim]).toBe(0);
  });
});

describe('a choice row', () => {
  it('takes the tuned model with the better validation macro-F1, with its test figures', async () => {
    const { evaluateSplit } = await import('../../../trainer/teacher/evaluate.js');
    const labelOf = (i: number) => (rows[i]!.rating === 1 ? 0 : rows[i]!.rating === 3 ? 1 : 2);
    // 'right' predicts every row's label, 'wrong' predicts the next label: validation can tell them apart.
    const predictor = (shift: number) => ({
      name: shift === 0 ? 'right' : 'wrong',
      fitPredict: (_train: readonly number[], test: readonly number[]) => Float32Array.from({ length: test.length * 3 }, (_, k) => ((labelOf(test[Math.floor(k / 3)]!) + shift) % 3 === k % 3 ? 0.8 : 0.1)),
    });
    const split = randomSplit(rows, 0.2);
    const blends = [
      { name: 'wrong blend', parts: ['wrong', 'wrong'] as [string, string] },
      { name: 'right blend', parts: ['right', 'wrong'] as [string, string] },
    ];
    const choice = { name: 'as served + log offsets', among: ['wrong blend', 'right blend'] };
    const result = await evaluateSplit(rows, split, [predictor(1), predictor(0)], blends, () => {}, { choices: [choice] });
    expect(result.models['right blend + log offsets']!.validationMacroF1).toBe(1);
    expect(result.models['wrong blend + log offsets']!.validationMacroF1).toBeLessThan(1);
    expect(result.models[choice.name]).toEqual({ ...result.models['right blend + log offsets']!, chosen: 'right blend + log offsets' });
    await expect(evaluateSplit(rows, split, [predictor(1), predictor(0)], blends, () => {}, { choices: [{ name: 'x', among: ['nothing'] }] })).rejects.toThrow(/nothing has no tuned row/);
  });

  it('is measured in the results table against the tuned reference when it chose a tuned model, whatever its name', async () => {
    const { resultsTable } = await import('../../../trainer/teacher/evaluate.js');
    const report = (macroF1: number) => ({
      rows: 1,
      accuracy: macroF1,
      macroF1,
      perClass: Object.fromEntries(['negative', 'neutral', 'positive'].map((c) => [c, { precision: macroF1, recall: macroF1, f1: macroF1, support: 1 }])),
      confusion: [],
      classes: ['negative', 'neutral', 'positive'],
      seconds: 0,
    });
    const table = resultsTable(
      [{ split: 's', trainRows: 1, testRows: 1, models: { ref: report(0.5), 'ref + log offsets': report(0.6), 'm + log offsets': report(0.7), 'as served': { ...report(0.7), chosen: 'm + log offsets' } } }],
      'ref',
    );
    const delta = (name: string) => table.split('\n').find((line) => line.includes(`| ${name} |`))!.split('|')[4]!.trim();
    expect(delta('m + log offsets')).toBe('+0.100');
    expect(delta('as served')).toBe('+0.100');
  });
});
