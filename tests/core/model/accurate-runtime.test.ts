/**
 * The accurate tier (core/model/accurate-runtime.ts): the shared ModelRuntime conformance suite over the worker
 * pool wrapped with the sentence encoder (blend weight 0, so its predictions must equal the stream model's bit
 * for bit while the encoder runs on every call), then what only this tier has: the blend and its log offsets, the head
 * file's checks (format 2, and format 1 still read as zero offsets), the star-rating head of format 5.
 * Needs the encoder (scripts/fetch-teacher.sh); skipped without it.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCURATE_HEAD_FILE, ACCURATE_HEAD_FORMAT, type AccurateHead, blendPrediction, categoryHeadPrediction, headProbabilities, streamCategoryLogits, parseAccurateHead, tieredRuntimeLoader } from '../../../core/model/accurate-runtime.js';
import { writeModelArtifacts } from '../../../core/model/artifacts.js';
import { CATEGORY_WIDE_FILE, serializeCategoryWide } from '../../../core/model/category-wide.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import type { RuntimeLoader } from '../../../core/model/service.js';
import type { ModelRuntime, Prediction } from '../../../core/model/types.js';
import { loadWorkerRuntime } from '../../../core/model/worker-runtime.js';
import { repoPath } from '../../../core/paths.js';
import type { TrainResult } from '../../../trainer/train.js';
import { categoryWideLogitRows } from '../../../trainer/category-wide.js';
import { trainTiny } from '../../trainer/fixtures.js';
import { describeRuntimeConformance, expectCode, probe } from './runtime-conformance.js';

const silent = pino({ level: 'silent' });
const meta = { name: 'tiny', version: 1 };
const encoderPresent = existsSync(repoPath('.cache/teacher/bge-small-en-v15-q/model.onnx'));
const env = { ...process.env, DRIFTLINE_MODEL_TIER: 'accurate' };
let trained: TrainResult;
let dir: string;
let headFile: string;

/** A head that says "negative" for everything (bias only), mixed in with weight w, then the log offsets. */
function head(blendWeight: number, logOffsets: number[] = [0, 0, 0]): AccurateHead {
  return { format: ACCURATE_HEAD_FORMAT, encoder: { name: 'test', dim: ENCODER_DIM }, weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [5, 0, 0], blendWeight, logOffsets };
}

/** A star-rating head (format 5) with zero weights: its star probabilities are softmax(bias). */
function starHead(blendWeight: number, bias: number[]): AccurateHead {
  return { ...head(blendWeight), labels: 'stars', weights: new Array<number>(5 * ENCODER_DIM).fill(0), bias };
}

function streamPrediction(probabilities: Prediction['probabilities']): Prediction {
  return {
    review_id: 'r1',
    sentiment: 'positive',
    probabilities,
    confidence: probabilities.positive,
    category: 'Books',
    categoryConfidence: 0.9,
    outlierScore: 0.3,
    outlierFlag: false,
    shiftScore: 0.2,
    ratingTextDisagreement: false,
    features: { length: 1 },
  };
}

describe('accurate head file and blend (no encoder needed)', () => {
  const where = 'accurate/head.json';

  it('format 1 (before log offsets) is still read, as zero offsets; formats 2 to 5 must carry three finite offsets', () => {
    const { logOffsets: _, ...v1 } = { ...head(0.4), format: 1 };
    expect(parseAccurateHead(v1, where).logOffsets).toEqual([0, 0, 0]);
    expect(parseAccurateHead(head(0.4, [0.1, 0.5, 0]), where).logOffsets).toEqual([0.1, 0.5, 0]);
    for (const bad of [{ ...v1, format: 2 }, { ...head(0.4), logOffsets: [0, 1] }, { ...head(0.4), logOffsets: [0, Number.NaN, 0] }, { ...head(0.4), format: 6 }]) {
      expect(() => parseAccurateHead(bad, where)).toThrow(/accurate\/head.json: (logOffsets|format)/);
    }
  });

  it('weight 0 and zero offsets return the stream probabilities bit for bit', () => {
    const p = streamPrediction({ negative: 0.1 + 1e-9, neutral: 0.3 / 7, positive: 1 - 0.1 - 1e-9 - 0.3 / 7 });
    const out = blendPrediction(head(0), p, [0.9, 0.05, 0.05], 5, 0.9);
    expect(out.probabilities).toEqual(p.probabilities);
    for (const s of ['negative', 'neutral', 'positive'] as const) expect(Object.is(out.probabilities[s], p.probabilities[s])).toBe(true);
    expect([out.sentiment, out.confidence]).toEqual([p.sentiment, p.confidence]);
  });

  it('applies the offsets to the blend: normalise(mix * exp(offsets)), and they can move the argmax to neutral', () => {
    const p = streamPrediction({ negative: 0.2, neutral: 0.3, positive: 0.5 });
    const headProbs = [0.4, 0.3, 0.3];
    const plain = blendPrediction(head(0.5), p, headProbs, 4, 0.9);
    expect(plain.sentiment).toBe('positive');
    const offsets = [0, 0.6, 0];
    const mix = [0.3, 0.3, 0.4].map((x, c) => x * Math.exp(offsets[c]!));
    const sum = mix[0]! + mix[1]! + mix[2]!;
    const shifted = blendPrediction(head(0.5, offsets), p, headProbs, 4, 0.9);
    expect(shifted.probabilities.negative).toBeCloseTo(mix[0]! / sum, 12);
    expect(shifted.probabilities.neutral).toBeCloseTo(mix[1]! / sum, 12);
    expect(shifted.probabilities.positive).toBeCloseTo(mix[2]! / sum, 12);
    expect([shifted.sentiment, shifted.confidence]).toEqual(['neutral', shifted.probabilities.neutral]);
    expect([shifted.category, shifted.outlierScore, shifted.features]).toEqual([p.category, p.outlierScore, p.features]);
  });

  it('format 5: a star-rating head has five rows, and its probabilities are folded into the three sentiments', () => {
    const stars = starHead(0.4, [1, 2, 0.5, 3, 2.5]);
    expect(parseAccurateHead(stars, where).labels).toBe('stars');
    for (const [bad, why] of [
      [{ ...stars, format: 4 }, /labels needs format 5/],
      [{ ...stars, labels: 'ratings' }, /labels 'ratings', expected one of sentiment, stars/],
      [{ ...stars, weights: new Array<number>(3 * ENCODER_DIM).fill(0) }, /weights must be 5 x dim/],
      [{ ...stars, bias: [0, 0, 0] }, /bias must be 5 finite numbers/],
      [{ ...head(0.4), bias: [0, 0, 0, 0, 0] }, /bias must be 3 finite numbers/],
    ] as const) {
      expect(() => parseAccurateHead(bad, where)).toThrow(why);
    }
    const vectors = new Float32Array(2 * ENCODER_DIM);
    vectors[ENCODER_DIM + 7] = 1;
    const weights = new Array<number>(5 * ENCODER_DIM).fill(0);
    weights[2 * ENCODER_DIM + 7] = 3; // the second review reads dimension 7, which the 3-star row weighs
    const headed = { ...stars, weights };
    const star = (bias: number[]) => {
      const e = bias.map(Math.exp);
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    for (const [row, bias] of [[0, [1, 2, 0.5, 3, 2.5]], [1, [1, 2, 3.5, 3, 2.5]]] as const) {
      const p = star([...bias]);
      const folded = headProbabilities(headed, vectors, row);
      expect(folded).toHaveLength(3);
      expect(folded[0]).toBeCloseTo(p[0]! + p[1]!, 12);
      expect(folded[1]).toBeCloseTo(p[2]!, 12);
      expect(folded[2]).toBeCloseTo(p[3]! + p[4]!, 12);
    }
    // A three-sentiment head is not folded: its softmax is returned as it is.
    headProbabilities(head(0.4), vectors, 0).forEach((p, c) => expect(p).toBeCloseTo(star([5, 0, 0])[c]!, 12));
  });

  it('an optional category head: checked for shape, and its softmax picks the class with its probability', () => {
    const category = { classes: ['Books', 'DVD', 'other'], weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [0, 2, 1] };
    expect(parseAccurateHead({ ...head(0.4), category }, where).category).toEqual(category);
    for (const bad of [
      { ...category, classes: ['Books', 'Books', 'other'] },
      { ...category, classes: ['Books'] },
      { ...category, weights: [1, 2] },
      { ...category, bias: [0, Number.POSITIVE_INFINITY, 0] },
      { ...category, logOffsets: [0, 1] },
      { ...category, logOffsets: [0, Number.NaN, 0] },
    ]) {
      expect(() => parseAccurateHead({ ...head(0.4), category: bad }, where)).toThrow(/accurate\/head.json: category\./);
    }
    const vectors = new Float32Array(2 * ENCODER_DIM);
    vectors[ENCODER_DIM + 5] = 1;
    const weights = new Array<number>(3 * ENCODER_DIM).fill(0);
    weights[5] = 4; // Books reads dimension 5: the second row is Books
    const first = categoryHeadPrediction({ ...category, weights }, vectors, 0);
    expect(first.category).toBe('DVD');
    expect(first.categoryConfidence).toBeCloseTo(Math.exp(2) / (1 + Math.exp(2) + Math.exp(1)), 12);
    const second = categoryHeadPrediction({ ...category, weights }, vectors, 1);
    expect(second.category).toBe('Books');
    expect(second.categoryConfidence).toBeCloseTo(Math.exp(4) / (Math.exp(4) + Math.exp(2) + Math.exp(1)), 12);
    // Per-class log offsets are added to the logits: +2.5 on 'other' makes it win the first row (1 + 2.5 > 2).
    const offset = { ...category, weights, logOffsets: [0, 0, 2.5] };
    expect(parseAccurateHead({ ...head(0.4), category: offset }, where).category).toEqual(offset);
    const moved = categoryHeadPrediction(offset, vectors, 0);
    expect(moved.category).toBe('other');
    expect(moved.categoryConfidence).toBeCloseTo(Math.exp(3.5) / (1 + Math.exp(2) + Math.exp(3.5)), 12);
    expect(categoryHeadPrediction({ ...category, weights, logOffsets: [0, 0, 0] }, vectors, 1)).toEqual(second);
  });

  it('format 3: the category head may name its wide part, whose logits are blended in with the head\'s weight', () => {
    const category = { classes: ['Books', 'DVD', 'other'], weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [0, 2, 1], logOffsets: [0, 0, 0.5] };
    const wide = { file: CATEGORY_WIDE_FILE, teacherWeight: 0.25 };
    expect(parseAccurateHead({ ...head(0.4), category: { ...category, wide } }, where).category?.wide).toEqual(wide);
    expect(() => parseAccurateHead({ ...head(0.4), format: 2, category: { ...category, wide } }, where)).toThrow(/category.wide needs format 3/);
    for (const bad of [{ ...wide, file: '../../etc/passwd' }, { ...wide, teacherWeight: 1.5 }, { ...wide, teacherWeight: Number.NaN }, null]) {
      expect(() => parseAccurateHead({ ...head(0.4), category: { ...category, wide: bad } }, where)).toThrow(/accurate\/head.json: category.wide/);
    }
    const vectors = new Float32Array(ENCODER_DIM);
    const wideLogits = Float64Array.from([9, 9, 9, 4, 0, 0]); // the second triple is this review's
    const served = categoryHeadPrediction({ ...category, wide }, vectors, 0, wideLogits, 3);
    const z = [0.25 * 0 + 0.75 * 4, 0.25 * 2 + 0.75 * 0, 0.25 * 1 + 0.75 * 0 + 0.5];
    const sum = z.reduce((a, b) => a + Math.exp(b), 0);
    expect(served.category).toBe('Books');
    expect(served.categoryConfidence).toBeCloseTo(Math.exp(z[0]!) / sum, 12);
    // Without the wide logits (or without a wide part) the head alone is served, offsets included.
    expect(categoryHeadPrediction({ ...category, wide }, vectors, 0)).toEqual(categoryHeadPrediction(category, vectors, 0));
    expect(categoryHeadPrediction(category, vectors, 0, wideLogits, 3).category).toBe('DVD');
  });

  it('format 4: the category head may blend with the stream model\'s distribution instead (ln p_stream as the partner)', () => {
    const category = { classes: ['Books', 'DVD', 'other'], weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [0, 2, 1], logOffsets: [0, 0, 0.5] };
    const stream = { teacherWeight: 0.25 };
    expect(parseAccurateHead({ ...head(0.4), category: { ...category, stream } }, where).category?.stream).toEqual(stream);
    expect(() => parseAccurateHead({ ...head(0.4), format: 3, category: { ...category, stream } }, where)).toThrow(/category.stream needs format 4/);
    expect(() => parseAccurateHead({ ...head(0.4), category: { ...category, stream, wide: { file: CATEGORY_WIDE_FILE, teacherWeight: 0.5 } } }, where)).toThrow(/both wide and stream/);
    for (const bad of [{ teacherWeight: -0.1 }, { teacherWeight: '0.5' }, null]) {
      expect(() => parseAccurateHead({ ...head(0.4), category: { ...category, stream: bad } }, where)).toThrow(/category.stream.teacherWeight must be in \[0, 1\]/);
    }
    const streamed = { ...streamPrediction({ negative: 0.1, neutral: 0.1, positive: 0.8 }), categoryProbabilities: [0.7, 0.2, 0.1] };
    const logits = streamCategoryLogits([streamed], 3);
    expect(Array.from(logits)).toEqual([Math.log(0.7), Math.log(0.2), Math.log(0.1)]);
    const served = categoryHeadPrediction({ ...category, stream }, new Float32Array(ENCODER_DIM), 0, logits, 0);
    const z = [0.75 * Math.log(0.7), 0.25 * 2 + 0.75 * Math.log(0.2), 0.25 * 1 + 0.75 * Math.log(0.1) + 0.5];
    const sum = z.reduce((a, b) => a + Math.exp(b), 0);
    expect(served.category).toBe('Books');
    expect(served.categoryConfidence).toBeCloseTo(Math.exp(z[0]!) / sum, 12);
    // A prediction without the distribution, or with another class count, cannot be blended.
    expect(() => streamCategoryLogits([streamPrediction({ negative: 0.1, neutral: 0.1, positive: 0.8 })], 3)).toThrow(/returned no category probabilities/);
    expect(() => streamCategoryLogits([streamed], 4)).toThrow(/returned 3 category probabilities/);
  });

  it('flags rating-text disagreement on the offset blend', () => {
    const p = streamPrediction({ negative: 0.5, neutral: 0.2, positive: 0.3 });
    expect(blendPrediction(head(0, [0, 0, 0]), p, [1, 0, 0], 5, 0.6).ratingTextDisagreement).toBe(false);
    expect(blendPrediction(head(0, [1, 0, 0]), p, [1, 0, 0], 5, 0.6).ratingTextDisagreement).toBe(true);
    expect(blendPrediction(head(0, [1, 0, 0]), p, [1, 0, 0], null, 0.6).ratingTextDisagreement).toBe(false);
  });
});

async function withHead(versionDir: string, h: unknown): Promise<void> {
  await mkdir(join(versionDir, 'accurate'), { recursive: true });
  await writeFile(join(versionDir, ACCURATE_HEAD_FILE), JSON.stringify(h));
}

const accurateLoader = tieredRuntimeLoader((d, m) => loadWorkerRuntime(d, m, { threads: 2, logger: silent }), env);
/** The suite's corrupted copies are written from the bundle alone: give them this version's head file too. */
const loadWithHead: RuntimeLoader = async (versionDir, versionMeta) => {
  if (existsSync(versionDir) && !existsSync(join(versionDir, ACCURATE_HEAD_FILE))) {
    await mkdir(join(versionDir, 'accurate'), { recursive: true });
    await copyFile(headFile, join(versionDir, ACCURATE_HEAD_FILE));
  }
  return accurateLoader(versionDir, versionMeta);
};

beforeAll(async () => {
  if (!encoderPresent) return;
  trained = await trainTiny();
  dir = await mkdtemp(join(tmpdir(), 'driftline-accurate-model-'));
  await writeModelArtifacts(trained.bundle, dir);
  await withHead(dir, head(0));
  headFile = join(dir, ACCURATE_HEAD_FILE);
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

if (encoderPresent) describeRuntimeConformance('accurate tier (worker pool + sentence encoder)', loadWithHead, () => ({ trained, dir }));

describe.skipIf(!encoderPresent)('accurate tier', () => {
  let stream: ModelRuntime;
  beforeAll(async () => {
    stream = await loadModelRuntime(dir, meta);
  });
  afterAll(() => stream?.dispose());

  it('blends the encoder head into the stream model by the head file weight', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-blend-'));
    await writeModelArtifacts(trained.bundle, copy);
    await withHead(copy, head(0.5));
    const accurate = await accurateLoader(copy, meta);
    try {
      await accurate.check();
      const slice = probe.slice(0, 10);
      const [mine, base] = [await accurate.score(slice), await stream.score(slice)];
      const negative = Math.exp(5) / (Math.exp(5) + 2);
      mine.forEach((p, i) => {
        expect(p.probabilities.negative).toBeCloseTo(0.5 * negative + 0.5 * base[i]!.probabilities.negative, 5);
        expect(p.probabilities.positive).toBeCloseTo(0.5 * ((1 - negative) / 2) + 0.5 * base[i]!.probabilities.positive, 5);
        expect(p.category).toBe(base[i]!.category);
        expect(p.outlierScore).toBe(base[i]!.outlierScore);
      });
      for (const p of mine) {
        const best = (['negative', 'neutral', 'positive'] as const).reduce((a, b) => (p.probabilities[b] > p.probabilities[a] ? b : a));
        expect([p.sentiment, p.confidence]).toEqual([best, p.probabilities[best]]);
      }
    } finally {
      accurate.dispose();
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('serves a star-rating head folded into the three sentiments before the blend', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-stars-'));
    await writeModelArtifacts(trained.bundle, copy);
    await withHead(copy, starHead(0.5, [4, 4, 1, 0, 0]));
    const accurate = await accurateLoader(copy, meta);
    try {
      const slice = probe.slice(0, 10);
      const [mine, base] = [await accurate.score(slice), await stream.score(slice)];
      const sum = 2 * Math.exp(4) + Math.exp(1) + 2;
      const folded = { negative: (2 * Math.exp(4)) / sum, neutral: Math.exp(1) / sum, positive: 2 / sum };
      mine.forEach((p, i) => {
        for (const s of ['negative', 'neutral', 'positive'] as const) expect(p.probabilities[s]).toBeCloseTo(0.5 * folded[s] + 0.5 * base[i]!.probabilities[s], 5);
      });
    } finally {
      accurate.dispose();
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('serves the head file log offsets on the blend, and reads a format-1 head file as zero offsets', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-offsets-'));
    await writeModelArtifacts(trained.bundle, copy);
    const slice = probe.slice(0, 10);
    try {
      await withHead(copy, head(0.5, [0, 0.8, -0.3]));
      const offset = await accurateLoader(copy, meta);
      const shifted = await offset.score(slice);
      offset.dispose();
      const { logOffsets: _, ...v1 } = { ...head(0.5), format: 1 };
      await withHead(copy, v1);
      const legacy = await accurateLoader(copy, meta);
      const plain = await legacy.score(slice);
      legacy.dispose();
      shifted.forEach((p, i) => {
        const q = plain[i]!.probabilities;
        const scaled = [q.negative, q.neutral * Math.exp(0.8), q.positive * Math.exp(-0.3)];
        const sum = scaled[0]! + scaled[1]! + scaled[2]!;
        expect(p.probabilities.negative).toBeCloseTo(scaled[0]! / sum, 9);
        expect(p.probabilities.neutral).toBeCloseTo(scaled[1]! / sum, 9);
        expect(p.probabilities.positive).toBeCloseTo(scaled[2]! / sum, 9);
      });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('with a category head in the file, the category and its confidence are the head\'s; the rest stays the stream model\'s', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-category-'));
    await writeModelArtifacts(trained.bundle, copy);
    const classes = ['Zzz', 'Yyy'];
    await withHead(copy, { ...head(0), category: { classes, weights: new Array<number>(2 * ENCODER_DIM).fill(0), bias: [0, 3] } });
    const accurate = await accurateLoader(copy, meta);
    try {
      const slice = probe.slice(0, 6);
      const [mine, base] = [await accurate.score(slice), await stream.score(slice)];
      mine.forEach((p, i) => {
        expect([p.category, p.categoryConfidence]).toEqual(['Yyy', Math.exp(3) / (1 + Math.exp(3))].map((x, k) => (k === 1 ? expect.closeTo(x as number, 12) : x)));
        expect({ ...p, category: base[i]!.category, categoryConfidence: base[i]!.categoryConfidence }).toEqual(base[i]);
      });
    } finally {
      accurate.dispose();
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('with a wide category part, the category is the head x wide blend the trainer measured (categoryWideLogitRows)', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-category-wide-'));
    await writeModelArtifacts(trained.bundle, copy);
    const classes = ['Zzz', 'Yyy', 'Xxx'];
    const buckets = trained.bundle.featurizer.buckets;
    // A wide part with weights of ±5 scattered over buckets and classes: the winning class depends on the words.
    const wide = { idf: new Float32Array(buckets).fill(1), kernel: Float32Array.from({ length: buckets * 3 }, (_, i) => ((i * 7919) % 11) - 5), bias: Float32Array.from([0, 0.5, 0]) };
    const category = { classes, weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [0, 1, 0], wide: { file: CATEGORY_WIDE_FILE, teacherWeight: 0.5 } };
    await withHead(copy, { ...head(0), category });
    try {
      await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED'); // the head names a file that is not there
      await writeFile(join(copy, 'accurate', CATEGORY_WIDE_FILE), serializeCategoryWide(wide));
      const accurate = await accurateLoader(copy, meta);
      try {
        await accurate.check();
        const slice = probe.slice(0, 8);
        const [mine, base] = [await accurate.score(slice), await stream.score(slice)];
        const logits = categoryWideLogitRows(wide, slice.map((r) => ({ ...r, rating: 5, category: null, source: 's' })), trained.bundle.featurizer);
        const vectors = new Float32Array(slice.length * ENCODER_DIM); // the head's weights are 0: its vectors do not matter
        mine.forEach((p, i) => {
          const expected = categoryHeadPrediction(category, vectors, i, logits, i * 3);
          expect([p.category, p.categoryConfidence]).toEqual([expected.category, expect.closeTo(expected.categoryConfidence, 12)]);
          expect({ ...p, category: base[i]!.category, categoryConfidence: base[i]!.categoryConfidence }).toEqual(base[i]);
        });
        expect(new Set(mine.map((p) => p.category)).size).toBeGreaterThan(1);
      } finally {
        accurate.dispose();
      }
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('with the stream partner, the category is the head x stream-distribution blend, the distribution is not passed on, and the classes must be the version\'s', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-category-stream-'));
    await writeModelArtifacts(trained.bundle, copy);
    const classes = trained.bundle.manifest.categories;
    const k = classes.length;
    const category = { classes, weights: new Array<number>(k * ENCODER_DIM).fill(0), bias: classes.map((_, c) => (c === 0 ? 1 : 0)), stream: { teacherWeight: 0.4 } };
    try {
      await withHead(copy, { ...head(0), category: { ...category, classes: [...classes].reverse() } });
      await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED'); // another class order than the version's
      await withHead(copy, { ...head(0), category });
      const accurate = await accurateLoader(copy, meta);
      try {
        await accurate.check();
        const slice = probe.slice(0, 8);
        const [mine, base] = [await accurate.score(slice), await stream.score(slice, { categoryProbabilities: true })];
        const logits = streamCategoryLogits(base, k);
        const vectors = new Float32Array(slice.length * ENCODER_DIM); // the head's weights are 0: its vectors do not matter
        mine.forEach((p, i) => {
          const expected = categoryHeadPrediction(category, vectors, i, logits, i * k);
          expect([p.category, p.categoryConfidence]).toEqual([expected.category, expect.closeTo(expected.categoryConfidence, 12)]);
          expect(p.categoryProbabilities).toBeUndefined();
          const { categoryProbabilities: _distribution, ...rest } = base[i]!;
          expect({ ...p, category: rest.category, categoryConfidence: rest.categoryConfidence }).toEqual(rest);
        });
      } finally {
        accurate.dispose();
      }
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('MODEL_LOAD_FAILED for a version without a head, or a head of another format or shape', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-bad-'));
    await writeModelArtifacts(trained.bundle, copy);
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await withHead(copy, { ...head(0.5), format: 0 });
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await withHead(copy, { ...head(0.5), weights: [1, 2, 3] });
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await withHead(copy, { ...head(0.5), logOffsets: undefined });
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await rm(copy, { recursive: true, force: true });
  });

  it('the fast tier (default) ignores the head file and loads the stream model alone', async () => {
    const loader = tieredRuntimeLoader(async () => stream, { ...process.env, DRIFTLINE_MODEL_TIER: 'fast' });
    expect(await loader(dir, meta)).toBe(stream);
  });
});
