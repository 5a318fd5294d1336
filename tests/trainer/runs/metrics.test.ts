/** A run's numbers: calibration by hand, and the dataset drift report against a reference baseline. */
import { describe, expect, it } from 'vitest';
import { buildReferenceBaseline } from '../../../core/drift/baseline.js';
import { defaultDriftThresholds } from '../../../core/drift/config.js';
import { seededRandom } from '../../../core/model/prng.js';
import type { Prediction } from '../../../core/model/types.js';
import { SENTIMENTS, type Sentiment } from '../../../schemas/types.js';
import type { LabeledReview } from '../../../trainer/data.js';
import { monitoredInput } from '../../../trainer/evaluate.js';
import { calibrationReport } from '../../../trainer/runs/calibration.js';
import { datasetDriftReport } from '../../../trainer/runs/drift.js';

function prediction(sentiment: Sentiment, confidence: number, features: Record<string, number> = {}): Prediction {
  const rest = (1 - confidence) / 2;
  const probabilities = Object.fromEntries(SENTIMENTS.map((s) => [s, s === sentiment ? confidence : rest])) as Record<Sentiment, number>;
  return { review_id: 'r', sentiment, probabilities, confidence, category: null, categoryConfidence: null, outlierScore: 0.5, outlierFlag: false, shiftScore: 0.5, ratingTextDisagreement: false, features };
}

describe('calibration', () => {
  it('bins confidences and measures ECE, MCE and Brier as defined', () => {
    // Bin 0.9: two predictions at 0.9, one right -> accuracy 0.5, gap 0.4. Bin 0.6: two at 0.6, both right -> gap 0.4.
    const predictions = [prediction('positive', 0.9), prediction('positive', 0.9), prediction('negative', 0.6), prediction('neutral', 0.6)];
    const labels = [2, 1, 0, 1];
    const report = calibrationReport(predictions, labels);
    expect(report.rows).toBe(4);
    expect(report.bins).toHaveLength(10);
    expect(report.bins[9]).toEqual({ lower: 0.9, upper: 1, count: 2, meanConfidence: 0.9, accuracy: 0.5 });
    expect(report.bins[6]).toEqual({ lower: 0.6, upper: 0.7, count: 2, meanConfidence: 0.6, accuracy: 1 });
    expect(report.bins.filter((b) => b.count === 0).every((b) => b.accuracy === null && b.meanConfidence === null)).toBe(true);
    expect(report.ece).toBeCloseTo(0.5 * 0.4 + 0.5 * 0.4, 4);
    expect(report.mce).toBeCloseTo(0.4, 4);
    // Brier per row: right at p: (1-p)^2 + 2*((1-p)/2)^2; wrong at p with the label's class at (1-p)/2: p^2 + (1-(1-p)/2)^2 + ((1-p)/2)^2.
    const right = (p: number) => (1 - p) ** 2 + 2 * ((1 - p) / 2) ** 2;
    const wrong = (p: number) => p ** 2 + (1 - (1 - p) / 2) ** 2 + ((1 - p) / 2) ** 2;
    expect(report.brier).toBeCloseTo((right(0.9) + wrong(0.9) + right(0.6) + right(0.6)) / 4, 4);
    expect(report.accuracy).toBe(0.75);
    expect(report.meanConfidence).toBe(0.75);
  });

  it('puts a confidence of exactly 1 in the last bin', () => {
    expect(calibrationReport([prediction('positive', 1)], [2]).bins[9]).toMatchObject({ count: 1, accuracy: 1 });
  });
});

describe('dataset drift against the reference baseline', () => {
  function rows(n: number, seed: number, textChars: (random: () => number) => number): { rows: LabeledReview[]; predictions: Prediction[] } {
    const random = seededRandom(seed);
    const out: LabeledReview[] = [];
    const predictions: Prediction[] = [];
    for (let i = 0; i < n; i++) {
      const rating = 1 + Math.floor(random() * 5);
      out.push({ review_id: `r${seed}-${i}`, text: 'x', title: null, product_id: null, category: random() < 0.5 ? 'Books' : 'Music', rating, helpful_votes: Math.floor(random() * 4), verified: random() < 0.7, event_time_ms: null, source: null });
      const sentiment = SENTIMENTS[rating <= 2 ? 0 : rating === 3 ? 1 : 2];
      predictions.push(prediction(sentiment, 0.6 + random() * 0.4, { text_chars: textChars(random) }));
    }
    return { rows: out, predictions };
  }

  const reference = rows(1500, 1, (random) => 100 + random() * 400);
  const baseline = buildReferenceBaseline(
    reference.rows.map((row, i) => monitoredInput(row, reference.predictions[i]!)),
    { modelName: 'tiny', modelVersion: 3, reference: { accuracy: 1, macroF1: 1, meanConfidence: 0.8, outlierRate: 0 } },
  );

  it('is green for data drawn like the reference, with every monitored value assessed', () => {
    const same = rows(1500, 2, (random) => 100 + random() * 400);
    const report = datasetDriftReport(baseline, same.rows, same.predictions, defaultDriftThresholds());
    expect(report.status).toBe('green');
    expect(report.drifted).toEqual([]);
    expect(report.baseline).toEqual({ modelName: 'tiny', modelVersion: 3, rows: 1500 });
    const features = new Set(report.assessments.map((a) => a.feature));
    for (const name of Object.keys(baseline.features)) expect(features.has(name)).toBe(true);
    expect(features.has('__model__')).toBe(true);
  });

  it('is red on the shifted feature when texts get much longer, and names it', () => {
    const longer = rows(1500, 3, (random) => 900 + random() * 400);
    const report = datasetDriftReport(baseline, longer.rows, longer.predictions, defaultDriftThresholds());
    expect(report.status).toBe('red');
    expect(report.drifted[0]).toMatchObject({ feature: 'feature.text_chars', status: 'red' });
    expect(report.drifted.map((d) => d.feature)).not.toContain('rating');
  });
});
