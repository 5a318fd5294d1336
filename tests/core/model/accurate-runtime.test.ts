/**
 * The accurate tier (core/model/accurate-runtime.ts): the shared ModelRuntime conformance suite over the worker
 * pool wrapped with the sentence encoder (blend weight 0, so its predictions must equal the stream model's bit
 * for bit while the encoder runs on every call), then what only this tier has: the blend, its head file's checks.
 * Needs the encoder (scripts/fetch-teacher.sh); skipped without it.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCURATE_HEAD_FILE, ACCURATE_HEAD_FORMAT, type AccurateHead, tieredRuntimeLoader } from '../../../core/model/accurate-runtime.js';
import { writeModelArtifacts } from '../../../core/model/artifacts.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import type { RuntimeLoader } from '../../../core/model/service.js';
import type { ModelRuntime } from '../../../core/model/types.js';
import { loadWorkerRuntime } from '../../../core/model/worker-runtime.js';
import { repoPath } from '../../../core/paths.js';
import type { TrainResult } from '../../../trainer/train.js';
import { trainTiny } from '../../trainer/fixtures.js';
import { describeRuntimeConformance, expectCode, probe } from './runtime-conformance.js';

const silent = pino({ level: 'silent' });
const meta = { name: 'tiny', version: 1 };
const encoderPresent = existsSync(repoPath('.cache/teacher/bge-small-en-v15-q/model.onnx'));
const env = { ...process.env, DRIFTLINE_MODEL_TIER: 'accurate' };
let trained: TrainResult;
let dir: string;
let headFile: string;

/** A head that says "negative" for everything (bias only), mixed in with weight w. */
function head(blendWeight: number): AccurateHead {
  return { format: ACCURATE_HEAD_FORMAT, encoder: { name: 'test', dim: ENCODER_DIM }, weights: new Array<number>(3 * ENCODER_DIM).fill(0), bias: [5, 0, 0], blendWeight };
}

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
        expect(p.probabilities.negative).toBeCloseTo(0.5 * negative + 0.5 * base[i].probabilities.negative, 5);
        expect(p.probabilities.positive).toBeCloseTo(0.5 * ((1 - negative) / 2) + 0.5 * base[i].probabilities.positive, 5);
        expect(p.category).toBe(base[i].category);
        expect(p.outlierScore).toBe(base[i].outlierScore);
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

  it('MODEL_LOAD_FAILED for a version without a head, or a head of another format or shape', async () => {
    const copy = await mkdtemp(join(tmpdir(), 'driftline-accurate-bad-'));
    await writeModelArtifacts(trained.bundle, copy);
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await withHead(copy, { ...head(0.5), format: 0 });
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await withHead(copy, { ...head(0.5), weights: [1, 2, 3] });
    await expectCode(accurateLoader(copy, meta), 'MODEL_LOAD_FAILED');
    await rm(copy, { recursive: true, force: true });
  });

  it('the fast tier (default) ignores the head file and loads the stream model alone', async () => {
    const loader = tieredRuntimeLoader(async () => stream, { ...process.env, DRIFTLINE_MODEL_TIER: 'fast' });
    expect(await loader(dir, meta)).toBe(stream);
  });
});
