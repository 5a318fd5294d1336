import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../core/model/prng.js';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import { type Candidate, evaluateSplit } from '../../../trainer/teacher/evaluate.js';
import { principalProjection, project, splitVocabulary } from '../../../trainer/teacher/fast-students.js';
import type { LabeledReview } from '../../../trainer/data.js';

describe('fast students: the split vocabulary', () => {
  it('takes words and SIF weights from the training rows only, and drops unknown words of other rows', () => {
    const tokens = [['good', 'cable'], ['good', 'cable'], ['good', 'plug'], ['strange', 'good']];
    const tok = splitVocabulary(tokens, [0, 1, 2]);
    expect(tok.vocab).toEqual(['good']);
    expect(Array.from(tok.ids[3]!)).toEqual([0]);
    const wider = splitVocabulary([...tokens, ['cable'], ['cable']], [0, 1, 2, 4, 5]);
    expect(wider.vocab).toEqual(['cable', 'good']);
    // The more frequent word ('cable', 4 of 8 training tokens) gets the smaller SIF weight.
    expect(wider.sif[0]!).toBeLessThan(wider.sif[1]!);
    expect(wider.sif[0]!).toBeCloseTo(1e-3 / (1e-3 + 4 / 8), 6);
  });
});

describe('fast students: the principal projection', () => {
  it('finds the directions of largest variance, orthonormal, and projects the centred vectors on them', () => {
    const random = seededRandom(5);
    const n = 400;
    const vectors = new Float32Array(n * ENCODER_DIM);
    for (let r = 0; r < n; r++) {
      for (let d = 0; d < ENCODER_DIM; d++) vectors[r * ENCODER_DIM + d] = 0.01 * (random() - 0.5) + (d === 7 ? 1 : 0);
      vectors[r * ENCODER_DIM + 3] = 3 * (random() - 0.5);
      vectors[r * ENCODER_DIM + 10] = 1.5 * (random() - 0.5);
    }
    const rows = Array.from({ length: n }, (_, i) => i);
    const p = principalProjection(vectors, rows, 2);
    expect(Math.abs(p.directions[3]!)).toBeGreaterThan(0.99);
    expect(Math.abs(p.directions[ENCODER_DIM + 10]!)).toBeGreaterThan(0.99);
    let dot = 0;
    for (let d = 0; d < ENCODER_DIM; d++) dot += p.directions[d]! * p.directions[ENCODER_DIM + d]!;
    expect(Math.abs(dot)).toBeLessThan(1e-6);
    expect(p.mean[7]!).toBeCloseTo(1, 2);
    const projected = project(vectors, n, p);
    expect(Math.abs(projected[0]!)).toBeCloseTo(Math.abs(vectors[3]! - p.mean[3]!), 1);
  });
});

describe('evaluateSplit with innerFit "blends"', () => {
  it('refits on the inner training rows only the candidates a blend needs', async () => {
    const rows: LabeledReview[] = Array.from({ length: 100 }, (_, i) => ({ review_id: `r${i}`, text: 't', rating: [1, 3, 5][i % 3]!, title: null, product_id: null, category: null, helpful_votes: null, verified: null, event_time_ms: null, source: 's' }));
    const calls = new Map<string, number>();
    const constant = (name: string): Candidate => ({
      name,
      fitPredict: async (_train, test) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return Float32Array.from({ length: test.length * 3 }, (_, k) => (k % 3 === 2 ? 0.6 : 0.2));
      },
    });
    const split = { name: 'random', train: rows.slice(0, 80).map((_, i) => i), test: rows.slice(80).map((_, i) => 80 + i) };
    const result = await evaluateSplit(rows, split, [constant('a'), constant('b'), constant('c')], [{ name: 'a+b', parts: ['a', 'b'] }], () => {}, { innerFit: 'blends' });
    expect(calls.get('a')).toBe(2);
    expect(calls.get('c')).toBe(1);
    expect(Object.keys(result.models)).toEqual(['a', 'b', 'c', 'a+b', 'a + log offsets', 'b + log offsets', 'a+b + log offsets']);
  });
});

describe('the stream model as a candidate, cached', () => {
  it('trains through the trainer and the runtime, returns probabilities per test row, and a second call reads the cache', async () => {
    const { loadTf } = await import('../../../core/model/tf.js');
    const { streamCandidate } = await import('../../../trainer/teacher/stream-candidate.js');
    const { cachedCandidate } = await import('../../../trainer/teacher/cached-candidate.js');
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const words = [['awful', 'broken', 'refund'], ['okay', 'average', 'fine'], ['great', 'love', 'perfect']];
    const rows: LabeledReview[] = Array.from({ length: 400 }, (_, i) => {
      const label = i % 5 === 0 ? 1 : i % 2;
      const cls = label === 1 ? 1 : label === 0 ? 0 : 2;
      const w = words[i % 5 === 0 ? 1 : i % 2 === 0 ? 0 : 2]!;
      return { review_id: `s${i}`, text: `${w[i % 3]} thing ${w[(i + 1) % 3]} here ${i}`, rating: [1, 3, 5][cls === 1 ? 1 : i % 2 === 0 ? 0 : 2]!, title: null, product_id: null, category: null, helpful_votes: null, verified: null, event_time_ms: null, source: 's' };
    });
    const { tf, backend } = await loadTf();
    const dir = mkdtempSync(join(tmpdir(), 'fast-tier-'));
    try {
      let trainings = 0;
      const inner = streamCandidate(tf, backend, rows, { epochs: 1, autoencoderEpochs: 1 }, () => trainings++);
      const cached = cachedCandidate(inner, rows, 'test', dir);
      const train = rows.map((_, i) => i).filter((i) => i % 4 !== 0);
      const test = rows.map((_, i) => i).filter((i) => i % 4 === 0);
      const probs = await cached.fitPredict(train, test);
      expect(probs.length).toBe(test.length * 3);
      for (let r = 0; r < test.length; r++) expect(probs[r * 3]! + probs[r * 3 + 1]! + probs[r * 3 + 2]!).toBeCloseTo(1, 4);
      const correct = test.filter((row, r) => {
        const p = [probs[r * 3]!, probs[r * 3 + 1]!, probs[r * 3 + 2]!];
        return p.indexOf(Math.max(...p)) === [0, 0, 1, 2, 2][rows[row]!.rating - 1];
      }).length;
      expect(correct / test.length).toBeGreaterThan(0.8);
      expect(readdirSync(dir)).toHaveLength(1);
      const again = await cached.fitPredict(train, test);
      expect(trainings).toBe(1);
      expect(Array.from(again)).toEqual(Array.from(probs));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
