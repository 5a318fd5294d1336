/** A tiny baseline and a one-file model version for registry tests that never load a real model. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReferenceBaseline } from '../../../core/drift/baseline.js';
import type { RegisterInput } from '../../../core/model/registry/index.js';

export function fakeBaseline(): ReferenceBaseline {
  return {
    formatVersion: 1,
    modelName: 'placeholder',
    modelVersion: 0,
    createdAtMs: 1_700_000_000_000,
    rows: 3,
    features: { 'feature.length': { kind: 'numeric', edges: [1, 2], counts: [1, 1, 1], total: 3, mean: 2, min: 1, max: 3 } },
    reference: { accuracy: 0.9, macroF1: 0.8, meanConfidence: 0.7, outlierRate: 0.01 },
  };
}

/** A version whose only artifact is model.bin holding `marker`; without macroF1 its metrics have none. */
export function fakeRegisterInput(name: string, macroF1: number | undefined, marker = 'weights'): RegisterInput {
  return {
    name,
    writeArtifacts: async (dir) => writeFile(join(dir, 'model.bin'), marker),
    metrics: macroF1 === undefined ? { accuracy: 0.5 } : { macroF1, accuracy: 0.9 },
    baseline: fakeBaseline(),
    featurizer: { kind: 'hashing', buckets: 16 },
    dataFingerprint: 'sha256:abc',
    params: { epochs: 1 },
    timings: { trainMs: 12 },
  };
}
