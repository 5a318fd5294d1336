/** The accurate tier's category question (trainer/teacher/category-head.ts) on synthetic topics. */
import { describe, expect, it } from 'vitest';
import { createFeaturizerConfig } from '../../../core/features/featurizer.js';
import { CATEGORY_WIDE_FILE } from '../../../core/model/category-wide.js';
import { seededRandom } from '../../../core/model/prng.js';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import type { Prediction } from '../../../core/model/types.js';
import type { LabeledReview } from '../../../trainer/data.js';
import { CATEGORY_MODELS, categoryTable, compareCategoryHeads } from '../../../trainer/teacher/category-head.js';

const CLASSES = ['Books', 'Kitchen', 'other'];
const TOPICS = ['Books', 'Kitchen', 'Garden', 'Toys'];
const WORDS: Record<string, string[]> = { Books: ['novel', 'chapter', 'author'], Kitchen: ['pan', 'knife', 'oven'], Garden: ['hose', 'seeds', 'soil'], Toys: ['lego', 'doll', 'puzzle'] };

function rows(n: number, seed: number): { rows: LabeledReview[]; vectors: Float32Array } {
  const random = seededRandom(seed);
  const out: LabeledReview[] = [];
  const vectors = new Float32Array(n * ENCODER_DIM);
  for (let i = 0; i < n; i++) {
    const topic = TOPICS[i % 4]!;
    const w = WORDS[topic]!;
    // Every 10th row has no category: it is not scored.
    out.push({ review_id: `${seed}-${i}`, text: `${w[i % 3]} ${w[(i + 1) % 3]} good`, rating: 5, title: null, product_id: null, category: i % 10 === 9 ? null : topic, helpful_votes: null, verified: null, event_time_ms: null, source: 's' });
    for (let d = 0; d < ENCODER_DIM; d++) vectors[i * ENCODER_DIM + d] = (d % 4 === i % 4 ? 0.5 : 0) + 0.2 * random();
  }
  return { rows: out, vectors };
}

function prediction(category: string | null): Prediction {
  return { review_id: 'r', sentiment: 'positive', probabilities: { negative: 0, neutral: 0, positive: 1 }, confidence: 1, category, categoryConfidence: 1, outlierScore: 0, outlierFlag: false, shiftScore: 0, ratingTextDisagreement: false, features: {} };
}

describe('category head comparison', () => {
  it('scores all three models on the same rows and classes; categories that are no class count as other', () => {
    const fit = rows(240, 1);
    const test = rows(80, 2);
    // A stream model that always says Books, and says nothing for every 8th row (a miss).
    const stream = test.rows.map((_, i) => prediction(i % 8 === 0 ? null : 'Books'));
    const { comparison: result, head } = compareCategoryHeads(CLASSES, fit, fit.rows, { ...test, stream });
    expect(result.heldOutRows).toBe(72);
    expect(result.fitRows).toBe(216);
    const teacher = result.models[CATEGORY_MODELS.teacher]!;
    expect(teacher.perClass.other?.support).toBe(36);
    expect(teacher.macroF1).toBeGreaterThan(0.95);
    expect(result.models[CATEGORY_MODELS.tfidf]!.macroF1).toBeGreaterThan(0.9);
    const streamReport = result.models[CATEGORY_MODELS.stream]!;
    expect(streamReport.perClass.Kitchen?.f1).toBe(0);
    expect(streamReport.perClass.Books?.recall).toBeLessThan(1);
    expect(categoryTable(result)).toContain(`| **macro-F1** (72) |`);
    expect(head.classes).toEqual(CLASSES);
    expect([head.weights.length, head.bias.length]).toEqual([3 * ENCODER_DIM, 3]);
    expect(head.logOffsets).toBeUndefined();
    expect(result.models[CATEGORY_MODELS.teacherOffsets]).toBeUndefined();
  });

  it('with validation rows, tunes the head log offsets there and reports the head with them beside the plain one', () => {
    const fit = rows(240, 1);
    const test = rows(80, 2);
    const stream = test.rows.map(() => prediction('Books'));
    const { comparison, head } = compareCategoryHeads(CLASSES, fit, fit.rows, { ...test, stream }, rows(80, 3));
    expect(head.logOffsets).toHaveLength(CLASSES.length);
    expect(head.logOffsets!.at(-1)).toBe(0); // the last class is the reference
    const tuned = comparison.models[CATEGORY_MODELS.teacherOffsets]!;
    expect(tuned.macroF1).toBeGreaterThan(0.95);
    expect(categoryTable(comparison)).toContain('+ log offsets');
  });

  it('with the wide part: trained on the words, blended where validation says so, and served through the head', () => {
    // Teacher vectors of pure noise: only the words tell the topic, so the blend must lean on the wide part.
    const noisy = (n: number, seed: number) => {
      const r = rows(n, seed);
      const random = seededRandom(seed + 100);
      return { rows: r.rows, vectors: Float32Array.from(r.vectors, () => random()) };
    };
    const fit = noisy(240, 1);
    const test = noisy(80, 2);
    const stream = test.rows.map(() => prediction('Books'));
    const logs: string[] = [];
    const { comparison, head, wideModel } = compareCategoryHeads(CLASSES, fit, fit.rows, { ...test, stream }, noisy(80, 3), { featurizer: createFeaturizerConfig({ buckets: 1024 }), log: (m) => logs.push(m) });
    expect(comparison.wide?.teacherWeight).toBeLessThan(1);
    expect(head.wide).toEqual({ file: CATEGORY_WIDE_FILE, teacherWeight: comparison.wide?.teacherWeight });
    expect([wideModel?.idf.length, wideModel?.kernel.length, wideModel?.bias.length]).toEqual([1024, 1024 * CLASSES.length, CLASSES.length]);
    const served = comparison.models[CATEGORY_MODELS.blend]!;
    expect(comparison.models[CATEGORY_MODELS.wide]!.macroF1).toBeGreaterThan(0.9);
    expect(served.macroF1).toBeGreaterThan(comparison.models[CATEGORY_MODELS.teacher]!.macroF1 + 0.2);
    expect(logs.some((m) => m.includes('wide category part: epoch 6/6'))).toBe(true);
    expect(categoryTable(comparison)).toContain('geometric blend');
  });
});
