/**
 * The stream model's Predictions on ~200 shipped reviews and hand-made edge cases, bit for bit, against a
 * golden recorded by the code BEFORE the model-speed change (commit 2d7cb0d, issues #11 and #15: scratch
 * buffers, fused loops, fewer allocations in the featurizer and the runtime). Every field, every double:
 * JSON keeps doubles exactly, and the comparison goes through the same JSON. The runtime conformance suite
 * compares a loaded runtime with the in-memory one, which run the same code; this holds the code itself.
 * The golden belongs to the committed models/default (its digest is in the golden): when that model is
 * replaced, re-record with known-good code (record-prediction-golden.ts).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import type { ModelRuntime } from '../../../core/model/types.js';
import { GOLDEN_FILE, GOLDEN_MODEL_DIR, type PredictionGolden, goldenBatches, modelDigest, scoreGoldenBatches } from './prediction-golden.js';

const golden = JSON.parse(gunzipSync(readFileSync(GOLDEN_FILE)).toString('utf8')) as PredictionGolden;

describe('stream model predictions against the recorded golden', () => {
  let runtime: ModelRuntime;
  beforeAll(async () => {
    runtime = await loadModelRuntime(GOLDEN_MODEL_DIR, { name: 'golden', version: 1 });
  }, 60_000);
  afterAll(() => runtime?.dispose());

  it('is the golden of the committed model (re-record it when models/default changes)', () => {
    expect(modelDigest(GOLDEN_MODEL_DIR), `models/default differs from the model the golden was recorded with (${golden.recordedBy})`).toBe(golden.modelDigest);
    expect(golden.batches.map((b) => b.predictions.length)).toEqual(goldenBatches().map((b) => b.reviews.length));
  });

  it('predicts exactly the recorded Predictions, sentences included', async () => {
    const actual = JSON.parse(JSON.stringify(await scoreGoldenBatches(runtime))) as PredictionGolden['batches'];
    for (const [b, batch] of golden.batches.entries()) {
      for (const [r, expected] of batch.predictions.entries()) expect(actual[b]!.predictions[r], `batch ${b} row ${r} (${expected.review_id})`).toEqual(expected);
    }
    expect(actual).toEqual(golden.batches);
  });

  it('gives a review the same prediction alone as inside a batch of the golden', async () => {
    const [first] = golden.batches;
    for (const r of [0, 57, first!.predictions.length - 1]) {
      const review = goldenBatches()[0]!.reviews[r]!;
      const [alone] = JSON.parse(JSON.stringify(await runtime.score([review]))) as PredictionGolden['batches'][number]['predictions'];
      expect(alone!.features).toEqual(first!.predictions[r]!.features);
      expect(alone!.outlierScore).toBe(first!.predictions[r]!.outlierScore);
    }
  });
});
