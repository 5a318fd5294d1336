/**
 * Window assessment: baseline + window sketches in, one Assessment per feature x metric out, with the
 * p-value family corrected together, insufficient windows flagged, and model-level metrics.
 */
import { describe, expect, it } from 'vitest';
import type { ReferenceBaseline } from '../../../core/drift/baseline.js';
import { defaultDriftThresholds, type DriftThresholds } from '../../../core/drift/config.js';
import { histogramSketchFor, categoricalSketchFor, numericBaselineDistribution } from '../../../core/drift/distribution.js';
import { MODEL_FEATURE, assessFeatures, assessWindow, featureStatuses, referencePredictedCounts, toDriftMetricRow } from '../../../core/drift/evaluate.js';
import { holmAdjust } from '../../../core/drift/stats.js';
import { SummarySketch } from '../../../core/sketch/summary.js';
import { SENTIMENTS } from '../../../schemas/types.js';
import { quantileEdges, sample, seededNormal, seededRandom } from './random.js';

const referenceValues = sample(4000, seededNormal(1, 100, 20));
const edges = quantileEdges(referenceValues, 10);
const referenceSketch = histogramSketchFor({ kind: 'numeric', edges, counts: [], total: 0, mean: 0, min: 0, max: 0 });
const referenceState = referenceValues.reduce((state, value) => referenceSketch.add(state, value), referenceSketch.zero());

const baseline: ReferenceBaseline = {
  formatVersion: 1,
  modelName: 'sentiment',
  modelVersion: 3,
  createdAtMs: 0,
  rows: 4000,
  features: {
    'feature.text_chars': {
      kind: 'numeric',
      edges,
      counts: referenceState.counts,
      total: referenceState.count,
      mean: referenceSketch.mean(referenceState),
      min: referenceState.min,
      max: referenceState.max,
    },
    category: { kind: 'categorical', categories: ['Gift_Cards', 'All_Beauty'], counts: [2500, 1500], other: 0, total: 4000 },
    'prediction.sentiment': { kind: 'categorical', categories: ['positive', 'negative', 'neutral'], counts: [3000, 600, 400], other: 0, total: 4000 },
  },
  reference: { accuracy: 0.85, macroF1: 0.7, meanConfidence: 0.9, outlierRate: 0.01 },
};

function windowOf(values: number[], categories: string[], predictions: Array<{ sentiment: (typeof SENTIMENTS)[number]; rating: number; confidence: number; outlier: boolean }>) {
  const numericSketch = histogramSketchFor(baseline.features['feature.text_chars'] as Extract<ReferenceBaseline['features'][string], { kind: 'numeric' }>);
  const categorical = categoricalSketchFor(baseline.features.category as Extract<ReferenceBaseline['features'][string], { kind: 'categorical' }>);
  const predicted = categoricalSketchFor(baseline.features['prediction.sentiment'] as Extract<ReferenceBaseline['features'][string], { kind: 'categorical' }>);
  const summary = new SummarySketch();
  return {
    numeric: { 'feature.text_chars': values.reduce((s, v) => numericSketch.add(s, v), numericSketch.zero()) },
    categorical: {
      category: categories.reduce((s, v) => categorical.add(s, v), categorical.zero()),
      'prediction.sentiment': predictions.reduce((s, v) => predicted.add(s, v.sentiment), predicted.zero()),
    },
    summary: predictions.reduce((s, v) => summary.add(s, v), summary.zero()),
  };
}

/** Predictions with the reference's class mix (75/15/10) whose rating agrees 85% of the time, like the reference. */
function healthyPredictions(count: number, seed: number) {
  const random = seededRandom(seed);
  const ratingOf = { positive: 5, negative: 1, neutral: 3 } as const;
  const others = { positive: ['negative', 'neutral'], negative: ['positive', 'neutral'], neutral: ['positive', 'negative'] } as const;
  return Array.from({ length: count }, () => {
    const u = random();
    const sentiment = u < 0.75 ? ('positive' as const) : u < 0.9 ? ('negative' as const) : ('neutral' as const);
    const label = random() < 0.85 ? sentiment : others[sentiment][random() < 0.5 ? 0 : 1];
    return { sentiment, rating: ratingOf[label], confidence: 0.9, outlier: random() < 0.01 };
  });
}

const thresholds: DriftThresholds = defaultDriftThresholds();

describe('assessWindow', () => {
  it('a window like the reference is green everywhere, with every metric present', () => {
    const random = seededRandom(9);
    const window = windowOf(
      sample(1000, seededNormal(2, 100, 20)),
      Array.from({ length: 1000 }, () => (random() < 0.625 ? 'Gift_Cards' : 'All_Beauty')),
      healthyPredictions(1000, 3),
    );
    const assessments = assessWindow(baseline, window, thresholds);
    const metrics = assessments.map((a) => `${a.feature}/${a.metric}`);
    expect(metrics).toEqual(
      expect.arrayContaining([
        'feature.text_chars/psi',
        'feature.text_chars/ks',
        'feature.text_chars/js_distance',
        'feature.text_chars/wasserstein',
        'feature.text_chars/kl_divergence',
        'category/chi_square',
        'category/kl_divergence',
        'category/unseen_rate',
        `${MODEL_FEATURE}/prediction_drift`,
        `${MODEL_FEATURE}/confidence_drop`,
        `${MODEL_FEATURE}/outlier_rate`,
        `${MODEL_FEATURE}/accuracy`,
        `${MODEL_FEATURE}/macro_f1`,
      ]),
    );
    const notGreen = assessments.filter((a) => a.rawStatus !== 'green');
    expect(notGreen).toEqual([]);
    expect(assessments.every((a) => !a.insufficient)).toBe(true);
  });

  it('a shifted numeric feature and a new category turn red; the rest stays green', () => {
    const window = windowOf(sample(1000, seededNormal(4, 130, 20)), [...Array(700).fill('Gift_Cards'), ...Array(300).fill('Books')], healthyPredictions(1000, 5));
    const statuses = new Map(featureStatuses(assessWindow(baseline, window, thresholds)).map((s) => [s.feature, s]));
    expect(statuses.get('feature.text_chars')?.rawStatus).toBe('red');
    expect(statuses.get('category')?.rawStatus).toBe('red');
    expect(statuses.get('category')?.drivers).toContain('unseen_rate');
    expect(statuses.get(MODEL_FEATURE)?.rawStatus).toBe('green');
    const kl = new Map(assessWindow(baseline, window, thresholds).filter((a) => a.metric === 'kl_divergence').map((a) => [a.feature, a]));
    for (const feature of ['category', 'feature.text_chars']) {
      expect(kl.get(feature), feature).toMatchObject({ rawStatus: 'red', thresholdAmber: 0.05, thresholdRed: 0.125, pValue: null });
    }
    expect(kl.get('prediction.sentiment')?.rawStatus).toBe('green');
  });

  it('model-level metrics: confidence drop, outlier rate and macro-F1 drop raise the model status', () => {
    const bad = healthyPredictions(1000, 6).map((p, i) => ({ ...p, confidence: 0.7, outlier: i % 5 === 0, sentiment: i % 2 === 0 ? ('neutral' as const) : p.sentiment }));
    const window = windowOf(sample(1000, seededNormal(7, 100, 20)), Array(1000).fill('Gift_Cards'), bad);
    const model = assessWindow(baseline, window, thresholds).filter((a) => a.feature === MODEL_FEATURE);
    const byMetric = new Map(model.map((a) => [a.metric, a]));
    expect(byMetric.get('confidence_drop')?.effect).toBeCloseTo(0.2, 10);
    expect(byMetric.get('confidence_drop')?.rawStatus).toBe('red');
    expect(byMetric.get('outlier_rate')?.value).toBeCloseTo(0.2, 10);
    expect(byMetric.get('outlier_rate')?.rawStatus).toBe('red');
    expect(byMetric.get('macro_f1')?.rawStatus).toBe('red');
  });

  it('too few values: green, flagged insufficient, with a note, and no p-value correction slot', () => {
    const window = windowOf(sample(50, seededNormal(8, 200, 20)), Array(50).fill('Books'), healthyPredictions(50, 9));
    const assessments = assessWindow(baseline, window, thresholds);
    expect(assessments.every((a) => a.rawStatus === 'green' && a.insufficient && a.note?.includes('insufficient'))).toBe(true);
    expect(assessments.every((a) => a.pValueAdjusted === null)).toBe(true);
    expect(featureStatuses(assessments).every((s) => s.insufficient)).toBe(true);
  });

  it('reads the reference predicted-class mix from the baseline in SENTIMENTS order', () => {
    expect(SENTIMENTS).toEqual(['negative', 'neutral', 'positive']);
    expect(referencePredictedCounts(baseline)).toEqual([600, 400, 3000]);
  });
});

describe('assessFeatures p-value family', () => {
  it('corrects the KS and chi-square p-values of all features together (Holm)', () => {
    const reference = numericBaselineDistribution(baseline.features['feature.text_chars'] as Extract<ReferenceBaseline['features'][string], { kind: 'numeric' }>);
    const sketch = histogramSketchFor(baseline.features['feature.text_chars'] as Extract<ReferenceBaseline['features'][string], { kind: 'numeric' }>);
    const current = (seed: number, mean: number) => {
      const state = sample(400, seededNormal(seed, mean, 20)).reduce((s, v) => sketch.add(s, v), sketch.zero());
      return { counts: state.counts, edges, min: state.min, max: state.max, mean: sketch.mean(state), std: sketch.std(state) };
    };
    const comparisons = [
      { feature: 'a', kind: 'numeric' as const, reference, current: current(11, 100) },
      { feature: 'b', kind: 'numeric' as const, reference, current: current(12, 104) },
      { feature: 'c', kind: 'categorical' as const, reference: { counts: [50, 50, 0, 0] }, current: { counts: [60, 40, 0, 0] } },
    ];
    const assessments = assessFeatures(comparisons, { ...thresholds, minSamples: 10 });
    const tests = assessments.filter((a) => a.metric === 'ks' || a.metric === 'chi_square');
    expect(tests).toHaveLength(3);
    const expected = holmAdjust(tests.map((a) => a.pValue ?? Number.NaN));
    tests.forEach((a, i) => expect(a.pValueAdjusted).toBeCloseTo(expected[i]!, 12));
    expect(assessments.filter((a) => a.metric === 'psi').every((a) => a.pValueAdjusted === null)).toBe(true);
  });
});

describe('toDriftMetricRow', () => {
  it('writes the effect as value, with thresholds, counts and the reported status', () => {
    const window = windowOf(sample(300, seededNormal(13, 100, 20)), Array(300).fill('Gift_Cards'), healthyPredictions(300, 14));
    const assessment = assessWindow(baseline, window, thresholds).find((a) => a.metric === 'wasserstein');
    expect(assessment).toBeDefined();
    const row = toDriftMetricRow(assessment!, { windowStartMs: 1000, windowEndMs: 2000, modelName: 'sentiment', modelVersion: 3, segment: '__all__', status: 'amber', writtenAtMs: 3000 });
    expect(row).toMatchObject({
      window_start: 1000,
      window_end: 2000,
      feature: 'feature.text_chars',
      metric: 'wasserstein',
      value: assessment!.effect,
      threshold_amber: 0.1,
      threshold_red: 0.25,
      raw_status: assessment!.rawStatus,
      status: 'amber',
      current_count: 300,
      reference_count: 4000,
    });
  });
});

describe('test gate on effect-only metrics (gateOnTest)', () => {
  // Reference uniform on [-1, 1] split at 0 (50/50), current 40/60 with n = 100 each: KS D = 0.1 is far from
  // significant (p ≈ 0.7), but Wasserstein = 0.1, i.e. 0.17 reference std: amber on effect size alone.
  const comparison = {
    feature: 'x',
    kind: 'numeric' as const,
    reference: { counts: [50, 50], edges: [0], min: -1, max: 1, mean: 0 },
    current: { counts: [40, 60], edges: [0], min: -1, max: 1, mean: 0.1 },
  };

  it('keeps PSI / JS / Wasserstein green while the feature test is not significant, with a note', () => {
    const wasserstein = assessFeatures([comparison], { ...thresholds, minSamples: 10 }).find((a) => a.metric === 'wasserstein');
    expect(wasserstein?.effect).toBeGreaterThan(0.1);
    expect(wasserstein?.rawStatus).toBe('green');
    expect(wasserstein?.note).toMatch(/adjusted p/);
  });

  it('gates KL divergence like PSI', () => {
    const gated = assessFeatures([comparison], { ...thresholds, minSamples: 10, metrics: { ...thresholds.metrics, kl_divergence: { amber: 0.01, red: 0.5 } } });
    const kl = gated.find((a) => a.metric === 'kl_divergence');
    expect(kl?.effect).toBeGreaterThan(0.01);
    expect(kl?.rawStatus).toBe('green');
    const open = assessFeatures([comparison], { ...thresholds, minSamples: 10, gateOnTest: false, metrics: { ...thresholds.metrics, kl_divergence: { amber: 0.01, red: 0.5 } } });
    expect(open.find((a) => a.metric === 'kl_divergence')?.rawStatus).toBe('amber');
  });

  it('lets the effect size decide when the gate is off', () => {
    const wasserstein = assessFeatures([comparison], { ...thresholds, minSamples: 10, gateOnTest: false }).find((a) => a.metric === 'wasserstein');
    expect(wasserstein?.rawStatus).toBe('amber');
  });
});
