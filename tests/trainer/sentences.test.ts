import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featurizeBatch } from '../../core/features/featurizer.js';
import { readSentenceModel, writeModelArtifacts } from '../../core/model/artifacts.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { loadTf } from '../../core/model/tf.js';
import { createWideScratch, wideProbabilities } from '../../core/model/wide-scoring.js';
import type { ModelRuntime } from '../../core/model/types.js';
import { splitByReviewId } from '../../trainer/data.js';
import { attachSentenceModel, sentencesOf, type SentenceReport } from '../../trainer/sentences.js';
import type { TrainResult } from '../../trainer/train.js';
import { syntheticReviews, trainTiny } from './fixtures.js';

let trained: TrainResult;
let report: SentenceReport;
let withSentences: string;
let without: string;
let runtime: ModelRuntime;
let plain: ModelRuntime;
const scratch: string[] = [];

beforeAll(async () => {
  trained = await trainTiny();
  const { tf } = await loadTf();
  without = await mkdtemp(join(tmpdir(), 'driftline-nosent-'));
  withSentences = await mkdtemp(join(tmpdir(), 'driftline-sent-'));
  scratch.push(without, withSentences);
  await writeModelArtifacts(trained.bundle, without);
  const { rest, held } = splitByReviewId(syntheticReviews(1_500, 9), 0.2, 77);
  report = attachSentenceModel(tf, trained.bundle, rest, held);
  await writeModelArtifacts(trained.bundle, withSentences);
  runtime = await loadModelRuntime(withSentences, { name: 'tiny', version: 1 });
  plain = await loadModelRuntime(without, { name: 'tiny', version: 1 });
}, 180_000);

afterAll(async () => {
  runtime?.dispose();
  plain?.dispose();
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

describe('sentence model', () => {
  it('splits reviews into sentences that inherit their review\'s label', () => {
    const set = sentencesOf([{ review_id: 'a', text: 'Great pan! Love it. Broke later?', rating: 5, source: null }, { review_id: 'b', text: 'Okay.', rating: 3, source: null }], 20);
    expect(set.inputs.map((s) => s.text)).toEqual(['Great pan!', 'Love it.', 'Broke later?', 'Okay.']);
    expect([...set.labels]).toEqual([2, 2, 2, 1]);
    expect(sentencesOf([{ review_id: 'c', text: 'One. Two. Three.', rating: 1, source: null }], 2).inputs).toHaveLength(2);
  });

  it('learns the sentence-level signal and reports both models on the same held-out sentences', () => {
    expect(report.sentences).toBeGreaterThan(0);
    expect(report.sentenceModel.rows).toBe(report.sentences);
    expect(report.reviewModel.rows).toBe(report.sentences);
    // The synthetic words carry the label in every sentence: far above chance (1/3).
    expect(report.sentenceModel.macroF1).toBeGreaterThan(0.6);
  });

  it('is stored beside the version (sentences/) and read back only when present', async () => {
    expect((await stat(join(withSentences, 'sentences', 'weights.bin'))).size).toBeGreaterThan(0);
    expect(await readSentenceModel(without, trained.bundle.featurizer.buckets)).toBeUndefined();
    const read = await readSentenceModel(withSentences, trained.bundle.featurizer.buckets);
    expect(read?.kernel).toEqual(trained.bundle.sentences?.kernel);
  });

  it('options.sentences uses the sentence model when the version has one, the review model otherwise', async () => {
    const review = { review_id: 's', text: 'The pan is perfect and I love it. But the kettle broke, awful! Okay.' };
    const [p] = await runtime.score([review], { sentences: true });
    const sentenceInputs = (p?.sentences ?? []).map((s, i) => ({ review_id: `x${i}`, text: s.text }));
    const featurizer = trained.bundle.featurizer;
    const expected = wideProbabilities(featurizeBatch(sentenceInputs, featurizer), trained.bundle.sentences!, createWideScratch(featurizer.buckets));
    p?.sentences?.forEach((s, i) => {
      expect(s.probabilities.negative).toBe(expected[i * 3]);
      expect(s.probabilities.positive).toBe(expected[i * 3 + 2]);
    });
    const [q] = await plain.score([review], { sentences: true });
    const [whole] = await plain.score([{ review_id: 'w', text: 'The pan is perfect and I love it.' }]);
    expect(q?.sentences?.[0]?.probabilities).toEqual(whole?.probabilities);
    // The review-level prediction itself does not change with a sentence model.
    const [withModel] = await runtime.score([review]);
    const [withoutModel] = await plain.score([review]);
    expect(withModel?.probabilities).toEqual(withoutModel?.probabilities);
  });
});
