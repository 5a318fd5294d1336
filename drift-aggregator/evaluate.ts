/**
 * Turns the sketch hashes of one closed window into assessments with METRICS' shared evaluation
 * (core/drift/evaluate.ts `assessWindow`: every metric of every monitored value, Holm-corrected
 * tests, thresholds, insufficient-sample rule), once per segment, plus the per-segment summary
 * numbers of window_summary. The dataset comparison tool uses the same function, so live and offline
 * numbers mean the same.
 */
import type { DriftThresholds } from '../core/drift/config.js';
import { assessWindow, type Assessment, type WindowStates } from '../core/drift/evaluate.js';
import { livePerformance, meanConfidence, outlierRate } from '../core/drift/metrics.js';
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import type { SummaryState } from '../core/sketch/index.js';
import { SUMMARY_HASH, parseHashName, type VersionSketches } from './increments.js';
import type { WindowHashes } from './redis-state.js';

export interface SegmentAssessment extends Assessment {
  segment: string;
}

export interface SegmentSummary {
  segment: string;
  summary: SummaryState;
  outlierRate: number;
  meanConfidence: number;
  /** null when no review in the segment had a usable rating label. */
  accuracy: number | null;
  macroF1: number | null;
}

export interface WindowEvaluation {
  assessments: SegmentAssessment[];
  summaries: SegmentSummary[];
}

interface SegmentHashes {
  summary: Record<string, string>;
  values: Map<string, Record<string, string>>;
}

function groupBySegment(hashes: WindowHashes): Map<string, SegmentHashes> {
  const segments = new Map<string, SegmentHashes>();
  for (const [name, hash] of hashes) {
    const { segment, value } = parseHashName(name);
    let entry = segments.get(segment);
    if (!entry) segments.set(segment, (entry = { summary: {}, values: new Map() }));
    if (value === SUMMARY_HASH) entry.summary = hash;
    else entry.values.set(value, hash);
  }
  return segments;
}

/** Reads the sketch states of one segment (a value missing from the window is the zero state). */
export function segmentStates(hashes: SegmentHashes, sketches: VersionSketches): WindowStates {
  const states: WindowStates = { numeric: {}, categorical: {}, summary: sketches.summary.fromHash(hashes.summary) };
  for (const [name, sketch] of sketches.numeric) states.numeric[name] = sketch.fromHash(hashes.values.get(name) ?? {});
  for (const [name, sketch] of sketches.categorical) states.categorical[name] = sketch.fromHash(hashes.values.get(name) ?? {});
  return states;
}

function summarize(segment: string, summary: SummaryState): SegmentSummary {
  const performance = livePerformance(summary.confusion);
  return {
    segment,
    summary,
    outlierRate: outlierRate(summary),
    meanConfidence: meanConfidence(summary),
    accuracy: performance.labelled > 0 ? performance.accuracy : null,
    macroF1: performance.labelled > 0 ? performance.macroF1 : null,
  };
}

/** Assessments of every segment of a window (none without a baseline) and its summaries. */
export function evaluateWindow(hashes: WindowHashes, sketches: VersionSketches, thresholds: DriftThresholds): WindowEvaluation {
  const assessments: SegmentAssessment[] = [];
  const summaries: SegmentSummary[] = [];
  for (const [segment, segmentHashes] of groupBySegment(hashes)) {
    const states = segmentStates(segmentHashes, sketches);
    summaries.push(summarize(segment, states.summary!));
    if (!sketches.baseline) continue;
    for (const assessment of assessWindow(sketches.baseline, states, thresholds)) {
      // Inside a category segment the category is constant by construction: that is not drift.
      if (segment !== ALL_SEGMENTS && assessment.feature === 'category') continue;
      assessments.push({ ...assessment, segment });
    }
  }
  return { assessments, summaries };
}
