/**
 * The accurate tier's tuning (trainer/teacher/attach-accurate.ts): blend weight and log offsets chosen together on
 * validation rows through the runtime's own blend (blendPrediction), and the version's split params read from its
 * registry record. The end-to-end attach needs the teacher and real data: it is run by attach-cli (docs/models.md).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCURATE_HEAD_FORMAT, type AccurateHead, blendPrediction, headProbabilities, parseAccurateHead } from '../../../core/model/accurate-runtime.js';
import { seededRandom } from '../../../core/model/prng.js';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import type { Prediction } from '../../../core/model/types.js';
import { SENTIMENTS } from '../../../schemas/types.js';
import type { LabeledReview } from '../../../trainer/data.js';
import { classificationReport } from '../../../trainer/metrics.js';
import { HOLDOUT_SALT } from '../../../trainer/pipeline.js';
import { fitHead, tuneWeightAndOffsets, versionSplit } from '../../../trainer/teacher/attach-accurate.js';

const head: AccurateHead = { format: ACCURATE_HEAD_FORMAT, encoder: { name: 'test', dim: ENCODER_DIM }, weights: [], bias: [0, 0, 0], blendWeight: 1, logOffsets: [0, 0, 0] };

function row(i: number, label: number): LabeledReview {
  return { review_id: `r${i}`, text: 't', rating: [1, 3, 5][label]!, title: null, product_id: null, category: null, helpful_votes: null, verified: null, event_time_ms: null, source: 's' };
}

function prediction(i: number, p: number[]): Prediction {
  const probabilities = { negative: p[0]!, neutral: p[1]!, positive: p[2]! };
  const best = p.indexOf(Math.max(...p));
  return { review_id: `r${i}`, sentiment: SENTIMENTS[best]!, probabilities, confidence: p[best]!, category: null, categoryConfidence: null, outlierScore: 0, outlierFlag: false, shiftScore: 0, ratingTextDisagreement: false, features: {} };
}

function normalise(p: number[]): number[] {
  const sum = p[0]! + p[1]! + p[2]!;
  return p.map((x) => x / sum);
}

/**
 * Validation rows where the stream model under-predicts neutral (its neutral probability is systematically too low)
 * and is noisy, and an independent head that knows the sentiment with noise of its own.
 */
function fixture(n: number, seed: number) {
  const random = seededRandom(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : i % 2));
  const rows = Array.from(labels, (l, i) => row(i, l === 1 ? 1 : l === 0 ? 0 : 2));
  const actual = Int32Array.from(labels, (l) => (l === 1 ? 1 : l === 0 ? 0 : 2));
  const stream = Array.from(actual, (label, i) => {
    const p = [0.2 + 0.4 * random(), 0.1 + 0.2 * random(), 0.2 + 0.4 * random()];
    p[label]! += label === 1 ? 0.1 : 0.2;
    return prediction(i, normalise(p));
  });
  const heads = Array.from(actual, (label) => {
    const p = [0.2 + 0.4 * random(), 0.2 + 0.4 * random(), 0.2 + 0.4 * random()];
    p[label]! += 0.3;
    return normalise(p);
  });
  return { rows, actual, stream, heads };
}

function macroF1(actual: Int32Array, predictions: readonly Prediction[]): number {
  return classificationReport(actual, Int32Array.from(predictions, (p) => SENTIMENTS.indexOf(p.sentiment)), SENTIMENTS).macroF1;
}

describe('accurate tier tuning', () => {
  it('picks a weight and offsets that beat the stream model alone, and the served blend reproduces the tuned macro-F1', () => {
    const { rows, actual, stream, heads } = fixture(600, 11);
    const tuned = tuneWeightAndOffsets(head, actual, stream, heads, rows);
    expect(tuned.blendWeight).toBeGreaterThan(0);
    expect(tuned.logOffsets).toHaveLength(3);
    expect(tuned.logOffsets[2]).toBe(0);
    const served = stream.map((p, i) => blendPrediction({ ...head, ...tuned }, p, heads[i]!, rows[i]!.rating, 0.9));
    expect(served.some((p) => p.sentiment === 'neutral')).toBe(true);
    expect(macroF1(actual, served)).toBeCloseTo(tuned.macroF1, 3);
    expect(tuned.macroF1).toBeGreaterThan(macroF1(actual, stream) + 0.1);
    // And what it learnt carries over to fresh rows of the same kind.
    const fresh = fixture(600, 12);
    const freshServed = fresh.stream.map((p, i) => blendPrediction({ ...head, ...tuned }, p, fresh.heads[i]!, fresh.rows[i]!.rating, 0.9));
    expect(macroF1(fresh.actual, freshServed)).toBeGreaterThan(macroF1(fresh.actual, fresh.stream) + 0.1);
  });

  it('with a head that knows nothing better, the weight stays 0 and only offsets are tuned', () => {
    const { rows, actual, stream } = fixture(300, 13);
    const uninformed = stream.map((p) => SENTIMENTS.map((s) => p.probabilities[s]));
    const tuned = tuneWeightAndOffsets(head, actual, stream, uninformed, rows);
    expect(tuned.blendWeight).toBe(0);
    expect(tuned.logOffsets[1]).toBeGreaterThan(0);
  });
});

describe('version split params', () => {
  it('come from the version registry record, with the fallbacks for what it lacks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'driftline-attach-split-'));
    try {
      const fallback = { holdout: 0.2, validationFraction: 0.1, seed: 42 };
      expect(await versionSplit(dir, fallback)).toEqual({ ...fallback, holdoutSalt: HOLDOUT_SALT });
      await writeFile(join(dir, 'registry-record.json'), JSON.stringify({ params: { holdout: 0.25, holdoutSalt: 7, seed: 9 } }));
      expect(await versionSplit(dir, fallback)).toEqual({ holdout: 0.25, holdoutSalt: 7, validationFraction: 0.1, seed: 9 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the sentiment heads', () => {
  // 60 reviews whose vector says its star rating in dimension (rating - 1), plus a shared constant dimension.
  const rows = Array.from({ length: 60 }, (_, i) => ({ ...row(i, 0), rating: (i % 5) + 1 }));
  const vectors = new Float32Array(rows.length * ENCODER_DIM);
  rows.forEach((r, i) => {
    vectors[i * ENCODER_DIM + r.rating - 1] = 0.8;
    vectors[i * ENCODER_DIM + 10] = 0.6;
  });

  it('fits a three-sentiment head and a five-row star head over the same vectors; both are valid head files', () => {
    const sentiment = fitHead('sentiment', rows, vectors);
    const stars = fitHead('stars', rows, vectors);
    expect([sentiment.labels, sentiment.weights.length, sentiment.bias.length]).toEqual([undefined, 3 * ENCODER_DIM, 3]);
    expect([stars.labels, stars.weights.length, stars.bias.length]).toEqual(['stars', 5 * ENCODER_DIM, 5]);
    for (const h of [sentiment, stars]) {
      expect(parseAccurateHead(JSON.parse(JSON.stringify(h)), 'head.json')).toEqual(h);
      rows.forEach((r, i) => {
        const p = headProbabilities(h, vectors, i);
        expect(p.indexOf(Math.max(...p))).toBe(r.rating <= 2 ? 0 : r.rating === 3 ? 1 : 2);
      });
    }
  });
});
