import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyThresholdsJson, defaultDriftThresholds, loadDriftThresholds, thresholdFor } from '../../../core/drift/config.js';
import { DriftlineError } from '../../../core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'drift-thresholds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('drift thresholds', () => {
  it('has the documented defaults', () => {
    const t = defaultDriftThresholds();
    expect(t.metrics.psi).toEqual({ amber: 0.1, red: 0.25 });
    expect(t.metrics.js_distance).toEqual({ amber: 0.1, red: 0.2 });
    expect(t.metrics.ks).toEqual({ amber: 0.1, red: 0.2 });
    expect(t.metrics.wasserstein).toEqual({ amber: 0.1, red: 0.25 });
    expect(t.metrics.chi_square).toEqual({ amber: 0.1, red: 0.2 });
    expect(t.metrics.kl_divergence).toEqual({ amber: 0.05, red: 0.125 });
    expect(t.metrics.confidence_drop).toEqual({ amber: 0.05, red: 0.1 });
    expect(t.metrics.outlier_rate).toEqual({ amber: 0.05, red: 0.1 });
    expect(t.outlierRatio).toEqual({ amber: 2, red: 4 });
    expect(t.metrics.macro_f1).toEqual({ amber: 0.05, red: 0.1 });
    expect(t).toMatchObject({ alpha: 0.01, pAdjust: 'holm', hysteresisWindows: 2 });
  });

  it('reads environment variables', () => {
    const t = loadDriftThresholds({ DRIFTLINE_DRIFT_PSI_AMBER: '0.2', DRIFTLINE_DRIFT_PSI_RED: '0.5', DRIFTLINE_DRIFT_P_ADJUST: 'bonferroni', DRIFTLINE_DRIFT_MIN_SAMPLES: '50' });
    expect(t.metrics.psi).toEqual({ amber: 0.2, red: 0.5 });
    expect(t.pAdjust).toBe('bonferroni');
    expect(t.minSamples).toBe(50);
    expect(loadDriftThresholds({ DRIFTLINE_DRIFT_KL_AMBER: '0.07', DRIFTLINE_DRIFT_KL_RED: '0.3' }).metrics.kl_divergence).toEqual({ amber: 0.07, red: 0.3 });
    expect(applyThresholdsJson(defaultDriftThresholds(), '{"metrics": {"kl_divergence": {"red": 0.2}}}').metrics.kl_divergence).toEqual({ amber: 0.05, red: 0.2 });
  });

  it('refuses red below amber and bad values with CONFIG_INVALID', () => {
    expect(() => loadDriftThresholds({ DRIFTLINE_DRIFT_KS_AMBER: '0.3', DRIFTLINE_DRIFT_KS_RED: '0.2' })).toThrow(DriftlineError);
    expect(() => loadDriftThresholds({ DRIFTLINE_DRIFT_P_ADJUST: 'fdr' })).toThrow(/DRIFTLINE_DRIFT_P_ADJUST/);
  });

  it('a JSON file overrides the environment, also per feature', () => {
    const file = join(dir, 'thresholds.json');
    writeFileSync(file, JSON.stringify({ metrics: { psi: { red: 0.3 } }, alpha: 0.05, hysteresisWindows: 3, features: { 'feature.text_length': { psi: { amber: 0.2, red: 0.4 } } } }));
    const t = loadDriftThresholds({ DRIFTLINE_DRIFT_THRESHOLDS_FILE: file, DRIFTLINE_DRIFT_PSI_AMBER: '0.12' });
    expect(t.metrics.psi).toEqual({ amber: 0.12, red: 0.3 });
    expect(t.alpha).toBe(0.05);
    expect(t.hysteresisWindows).toBe(3);
    expect(thresholdFor(t, 'feature.text_length', 'psi')).toEqual({ amber: 0.2, red: 0.4 });
    expect(thresholdFor(t, 'rating', 'psi')).toEqual({ amber: 0.12, red: 0.3 });
  });

  it('names the bad entry of a thresholds file', () => {
    const base = defaultDriftThresholds();
    expect(() => applyThresholdsJson(base, '{"metrics": {"psii": {"amber": 1, "red": 2}}}')).toThrow(/unknown metric/);
    expect(() => applyThresholdsJson(base, '{"metrics": {"psi": {"amber": 0.5, "red": 0.2}}}')).toThrow(/amber <= red/);
    expect(() => applyThresholdsJson(base, '{"minSamples": 0}')).toThrow(/minSamples/);
    expect(() => applyThresholdsJson(base, '{"colour": 1}')).toThrow(/unknown keys/);
    expect(() => applyThresholdsJson(base, 'nope')).toThrow(DriftlineError);
    expect(() => loadDriftThresholds({ DRIFTLINE_DRIFT_THRESHOLDS_FILE: join(dir, 'missing.json') })).toThrow(/cannot read/);
  });
});
