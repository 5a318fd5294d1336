/**
 * An evaluation dataset against the model version's reference baseline, with the live monitoring's own
 * code: every row becomes the monitored values the scorer would emit, they are binned into the
 * baseline's sketches as one window, and core/drift assessWindow gives the same metrics, thresholds and
 * statuses a live window of that data would get (before hysteresis).
 */
import { monitoredValues, type ReferenceBaseline } from '../../core/drift/baseline.js';
import type { DriftThresholds } from '../../core/drift/config.js';
import { categoricalSketchFor, histogramSketchFor } from '../../core/drift/distribution.js';
import { assessWindow, featureStatuses, type Assessment, type WindowStates } from '../../core/drift/evaluate.js';
import { severity, worstStatus } from '../../core/drift/status.js';
import type { Prediction } from '../../core/model/types.js';
import { SummarySketch } from '../../core/sketch/summary.js';
import type { DriftStatus } from '../../schemas/types.js';
import type { LabeledReview } from '../data.js';
import { monitoredInput } from '../evaluate.js';

export interface DatasetDriftReport {
  baseline: { modelName: string; modelVersion: number; rows: number };
  rows: number;
  /** Worst status over the metrics that had enough samples. */
  status: DriftStatus;
  /** Features (and `__model__`) that are not green, worst first. */
  drifted: Array<{ feature: string; status: DriftStatus; drivers: string[] }>;
  assessments: Assessment[];
}

/** The dataset as one window of sketch states on the baseline's bins. */
export function datasetWindow(baseline: ReferenceBaseline, rows: readonly LabeledReview[], predictions: readonly Prediction[]): WindowStates {
  const numeric = new Map(Object.entries(baseline.features).flatMap(([name, f]) => (f.kind === 'numeric' ? [[name, histogramSketchFor(f)] as const] : [])));
  const categorical = new Map(Object.entries(baseline.features).flatMap(([name, f]) => (f.kind === 'categorical' ? [[name, categoricalSketchFor(f)] as const] : [])));
  const summarySketch = new SummarySketch();
  const states: Required<Pick<WindowStates, 'numeric' | 'categorical' | 'summary'>> = { numeric: {}, categorical: {}, summary: summarySketch.zero() };
  for (const [name, sketch] of numeric) states.numeric[name] = sketch.zero();
  for (const [name, sketch] of categorical) states.categorical[name] = sketch.zero();
  rows.forEach((row, i) => {
    const prediction = predictions[i]!;
    const values = monitoredValues(monitoredInput(row, prediction));
    for (const [name, value] of Object.entries(values.numeric)) {
      const sketch = numeric.get(name);
      if (sketch) sketch.add(states.numeric[name]!, value);
    }
    for (const [name, value] of Object.entries(values.categorical)) {
      const sketch = categorical.get(name);
      if (sketch) sketch.add(states.categorical[name]!, value);
    }
    summarySketch.add(states.summary, { sentiment: prediction.sentiment, confidence: prediction.confidence, outlier: prediction.outlierFlag, rating: row.rating });
  });
  return states;
}

export function datasetDriftReport(baseline: ReferenceBaseline, rows: readonly LabeledReview[], predictions: readonly Prediction[], thresholds: DriftThresholds): DatasetDriftReport {
  const assessments = assessWindow(baseline, datasetWindow(baseline, rows, predictions), thresholds);
  const statuses = featureStatuses(assessments);
  return {
    baseline: { modelName: baseline.modelName, modelVersion: baseline.modelVersion, rows: baseline.rows },
    rows: rows.length,
    status: worstStatus(assessments.filter((a) => !a.insufficient).map((a) => a.rawStatus)),
    drifted: statuses
      .filter((s) => s.rawStatus !== 'green')
      .sort((a, b) => severity(b.rawStatus) - severity(a.rawStatus) || a.feature.localeCompare(b.feature))
      .map((s) => ({ feature: s.feature, status: s.rawStatus, drivers: [...s.drivers] })),
    assessments,
  };
}
