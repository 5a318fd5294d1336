import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReferenceBaseline } from '../../core/drift/baseline.js';
import { openRegistry } from '../../core/model/registry/index.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { NUMERIC_FEATURES } from '../../core/features/featurizer.js';
import { runTrainingJob, type TrainingReport } from '../../trainer/pipeline.js';
import { TINY_PARAMS, syntheticReviews } from './fixtures.js';

let root: string;
let report: TrainingReport;
const lines: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-pipeline-'));
  report = await runTrainingJob({
    registry: openRegistry(join(root, 'registry')),
    name: 'tiny',
    rows: syntheticReviews(700, 31),
    params: TINY_PARAMS,
    reportPath: join(root, 'report.json'),
    progress: (line) => lines.push(line),
  });
}, 180_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('training job', () => {
  it('registers a staging version with held-out metrics, lineage and timings', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const record = await registry.get('tiny', report.version);
    expect(record.stage).toBe('staging');
    expect(record.metrics['macroF1']).toBe(report.heldOut.sentiment.macroF1);
    expect(record.metrics['confusion']).toEqual(report.heldOut.sentiment.confusion);
    expect(record.data_fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(record.params['seed']).toBe(TINY_PARAMS.seed);
    expect(record.timings['trainSeconds']).toBeGreaterThan(0);
    expect((await registry.runs('tiny')).map((r) => r.kind)).toContain('train');
  });

  it('evaluates on the held-out part only, side by side with the TF-IDF baseline', () => {
    expect(report.heldOut.rows).toBe(report.data.heldOutRows);
    expect(report.data.trainRows + report.data.validationRows + report.data.heldOutRows).toBe(700);
    expect(report.tfidfBaseline?.report.rows).toBe(report.data.heldOutRows);
    expect(Object.keys(report.heldOut.perSource).sort()).toEqual(['synthetic']);
    expect(report.outliers.auroc).toBeGreaterThan(0.5);
    expect(lines.some((l) => l.startsWith('epoch 1/'))).toBe(true);
    expect(lines.some((l) => l.includes('tfidf+LR'))).toBe(true);
  });

  it('writes a reference baseline over every monitored value, stamped with the version', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const baseline: ReferenceBaseline = await registry.baseline('tiny', report.version);
    expect(baseline.modelVersion).toBe(report.version);
    expect(baseline.rows).toBe(report.data.heldOutRows);
    for (const name of NUMERIC_FEATURES) expect(baseline.features[`feature.${name}`]?.kind).toBe('numeric');
    for (const name of ['rating', 'verified', 'category', 'prediction.sentiment']) expect(baseline.features[name]?.kind).toBe('categorical');
    expect(baseline.features['prediction.outlier_score']?.kind).toBe('numeric');
  });

  it('stores the held-out quality as the reference live windows are compared with (not the training-set quality)', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const baseline: ReferenceBaseline = await registry.baseline('tiny', report.version);
    const held = report.heldOut;
    expect(baseline.reference).toEqual({ accuracy: held.sentiment.accuracy, macroF1: held.sentiment.macroF1, meanConfidence: held.meanConfidence, outlierRate: held.outlierRate });
    // The reference confidence histogram is the held-out one too: its mean is the held-out mean confidence.
    const confidence = baseline.features['prediction.confidence'];
    expect(confidence?.kind === 'numeric' && Math.abs(confidence.mean - held.meanConfidence) < 1e-3).toBe(true);
  });

  it('fits the sentiment calibration on the validation rows, stores it in the baseline and checks it on the held-out rows', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const baseline: ReferenceBaseline = await registry.baseline('tiny', report.version);
    const fitted = report.calibration.fitted;
    expect(baseline.sentimentCalibration).toEqual(fitted);
    expect(fitted.method).toBe('prior-offsets-temperature');
    expect(fitted.rows).toBe(report.data.validationRows);
    expect(fitted.logOffsets).toEqual(report.wide.blend.logOffsets);
    expect(fitted.temperature).toBeGreaterThan(0);
    const check = report.calibration.heldOut;
    expect(check.rows).toBe(report.data.heldOutRows);
    expect(check.accuracy).toBeCloseTo(report.heldOut.sentiment.accuracy, 5);
    for (const value of [check.eceServed, check.eceCalibrated, check.estimatedAccuracyServed, check.estimatedAccuracyCalibrated, check.macroF1EstimateCalibrated]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
  });

  it('leaves a version directory the runtime loads and that passes its check', async () => {
    const registry = openRegistry(join(root, 'registry'));
    const runtime = await loadModelRuntime(registry.versionDir('tiny', report.version), { name: 'tiny', version: report.version });
    await runtime.check();
    const probe = syntheticReviews(100, 77);
    const label = (rating: number) => (rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive');
    const predictions = await runtime.score(probe);
    expect(predictions.filter((p, i) => p.sentiment === label(probe[i]!.rating)).length).toBeGreaterThan(70);
    runtime.dispose();
    const written = JSON.parse(await readFile(join(root, 'report.json'), 'utf8')) as TrainingReport;
    expect(written.version).toBe(report.version);
  });
});
