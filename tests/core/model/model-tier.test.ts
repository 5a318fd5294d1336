/**
 * DRIFTLINE_MODEL_TIER in the model service: 'fast' (default) serves the stream model as loaded; 'accurate'
 * loads every version through the accurate tier, so a version without an accurate head is refused with
 * MODEL_LOAD_FAILED and never served. (The accurate runtime itself: accurate-runtime.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { createModelService } from '../../../core/model/service.js';
import type { ModelRuntime, Prediction } from '../../../core/model/types.js';
import type { ReviewInput } from '../../../core/review.js';

const silent = pino({ level: 'silent' });

class StreamRuntime implements ModelRuntime {
  readonly backend = 'fake';
  constructor(
    readonly name: string,
    readonly version: number,
  ) {}
  async score(reviews: readonly ReviewInput[]): Promise<Prediction[]> {
    return reviews.map((r) => ({ review_id: r.review_id, sentiment: 'positive', probabilities: { negative: 0, neutral: 0, positive: 1 }, confidence: 1, category: null, categoryConfidence: null, outlierScore: 0, outlierFlag: false, shiftScore: 0, ratingTextDisagreement: false, features: {} }));
  }
  async check(): Promise<void> {}
  dispose(): void {}
}

let dir: string;
let registry: ModelRegistry;
const saved = process.env.DRIFTLINE_MODEL_TIER;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-tier-'));
  // The versions here have no model files (a fake runtime serves them): promoted without the runtime's load check.
  registry = openRegistry(dir, { verifyArtifacts: async () => undefined });
  const { version } = await registry.register({
    name: 'sentiment',
    writeArtifacts: async () => {},
    metrics: { macroF1: 0.5 },
    baseline: { formatVersion: 1, modelName: 'sentiment', modelVersion: 0, createdAtMs: 0, rows: 0, features: {}, reference: { accuracy: 0, macroF1: 0, meanConfidence: 0, outlierRate: 0 } },
    featurizer: null,
    dataFingerprint: 'x',
    params: {},
    timings: {},
  });
  await registry.promote('sentiment', version, { force: true, actor: 'test' });
});
afterEach(async () => {
  if (saved === undefined) delete process.env.DRIFTLINE_MODEL_TIER;
  else process.env.DRIFTLINE_MODEL_TIER = saved;
  await rm(dir, { recursive: true, force: true });
});

function service() {
  return createModelService({ registry, modelName: 'sentiment', loadRuntime: async (_d, m) => new StreamRuntime(m.name, m.version), logger: silent, disposeGraceMs: 0, reconcileIntervalMs: 0 });
}

describe('DRIFTLINE_MODEL_TIER', () => {
  it('fast (the default) serves the stream model as loaded', async () => {
    delete process.env.DRIFTLINE_MODEL_TIER;
    const s = service();
    try {
      const runtime = await s.loadProduction();
      expect(runtime.backend).toBe('fake');
      expect((await runtime.score([{ review_id: 'r1', text: 'fine' }]))[0]!.probabilities).toEqual({ negative: 0, neutral: 0, positive: 1 });
    } finally {
      await s.close();
    }
  });

  it('accurate refuses a version that has no accurate head (MODEL_LOAD_FAILED), and serves nothing', async () => {
    process.env.DRIFTLINE_MODEL_TIER = 'accurate';
    const s = service();
    try {
      const err = await s.loadProduction().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DriftlineError);
      expect((err as DriftlineError).code).toBe('MODEL_LOAD_FAILED');
      expect(s.isReady()).toBe(false);
    } finally {
      await s.close();
    }
  });
});
