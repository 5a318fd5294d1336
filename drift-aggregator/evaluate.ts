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
import { segmentReference, type ReferenceScope } from '../core/drift/segments.js';
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import type { SummaryState } from '../core/sketch/index.js';
import { CLOCK_HASH, EMBEDDING_HASH, OTHER_SEGMENT, SUMMARY_HASH, UNSEEN_SEGMENT, hashName, parseHashName, type VersionSketches } from './increments.js';
import { EXPECTED_CONFUSION, EXPECTED_CONFUSION_HASH, estimatedFigures, expectedConfusionFromHash } from './performance-estimate.js';
import type { WindowHashes } from './redis-state.js';
import type { TimeSource } from './windows.js';

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
  /** Label-free estimates from the calibrated probabilities (performance-estimate.ts); null without reviews. */
  estimatedAccuracy: number | null;
  estimatedMacroF1: number | null;
  /** Which reference the segment was compared with, and its rows (core/drift/segments.ts). */
  referenceScope: ReferenceScope;
  referenceRows: number;
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
  const states: WindowStates = {
    numeric: {},
    categorical: {},
    summary: sketches.summary.fromHash(hashes.summary),
    expected: expectedConfusionFromHash(hashes.values.get(EXPECTED_CONFUSION_HASH)),
  };
  for (const [name, sketch] of sketches.numeric) states.numeric[name] = sketch.fromHash(hashes.values.get(name) ?? {});
  for (const [name, sketch] of sketches.categorical) states.categorical[name] = sketch.fromHash(hashes.values.get(name) ?? {});
  if (sketches.embedding) states.embedding = sketches.embedding.fromHash(hashes.values.get(EMBEDDING_HASH) ?? {});
  return states;
}

function summarize(segment: string, summary: SummaryState, reference: { scope: ReferenceScope; rows: number }, expected: WindowStates['expected']): SegmentSummary {
  const performance = livePerformance(summary.confusion);
  return {
    referenceScope: reference.scope,
    referenceRows: reference.rows,
    segment,
    summary,
    outlierRate: outlierRate(summary),
    meanConfidence: meanConfidence(summary),
    accuracy: performance.labelled > 0 ? performance.accuracy : null,
    macroF1: performance.labelled > 0 ? performance.macroF1 : null,
    ...estimatedFigures(expected),
  };
}

/** Sketch states of every segment of a window. */
export function windowStates(hashes: WindowHashes, sketches: VersionSketches): Map<string, WindowStates> {
  const out = new Map<string, WindowStates>();
  for (const [segment, segmentHashes] of groupBySegment(hashes)) out.set(segment, segmentStates(segmentHashes, sketches));
  return out;
}

/** A window's states from its partitions' shares (redis-state.ts readWindow): each read, then merged. */
export function sharedWindowStates(shares: readonly WindowHashes[], sketches: VersionSketches): Map<string, WindowStates> {
  let states = new Map<string, WindowStates>();
  for (const share of shares) states = mergeWindowStates(states, windowStates(share, sketches), sketches);
  return states;
}

/** Events of a window per clock (event / ingest time), summed over its partitions' shares. */
export function sharedTimeSources(shares: readonly WindowHashes[]): Record<TimeSource, number> {
  const out: Record<TimeSource, number> = { event: 0, ingest: 0 };
  for (const share of shares) {
    const clock = share.get(hashName(ALL_SEGMENTS, CLOCK_HASH)) ?? {};
    out.event += Number(clock['event'] ?? 0);
    out.ingest += Number(clock['ingest'] ?? 0);
  }
  return out;
}

/** Merge of two windows' states (sketch merge: associative, so any number of windows fold). */
export function mergeWindowStates(a: Map<string, WindowStates>, b: Map<string, WindowStates>, sketches: VersionSketches): Map<string, WindowStates> {
  const out = new Map(a);
  for (const [segment, right] of b) {
    const left = out.get(segment);
    if (!left) {
      out.set(segment, right);
      continue;
    }
    const merged: WindowStates = {
      numeric: {},
      categorical: {},
      summary: sketches.summary.merge(left.summary!, right.summary!),
      expected: EXPECTED_CONFUSION.merge(left.expected ?? EXPECTED_CONFUSION.zero(), right.expected ?? EXPECTED_CONFUSION.zero()),
    };
    for (const [name, sketch] of sketches.numeric) merged.numeric[name] = sketch.merge(left.numeric[name] ?? sketch.zero(), right.numeric[name] ?? sketch.zero());
    for (const [name, sketch] of sketches.categorical) merged.categorical[name] = sketch.merge(left.categorical[name] ?? sketch.zero(), right.categorical[name] ?? sketch.zero());
    const embedding = sketches.embedding;
    if (embedding) merged.embedding = embedding.merge(left.embedding ?? embedding.zero(), right.embedding ?? embedding.zero());
    out.set(segment, merged);
  }
  return out;
}

/** Assessments of every segment (none without a baseline) and the segments' summaries. */
export function assessStates(states: Map<string, WindowStates>, sketches: VersionSketches, thresholds: DriftThresholds): WindowEvaluation {
  const assessments: SegmentAssessment[] = [];
  const summaries: SegmentSummary[] = [];
  for (const [segment, segmentStatesValue] of states) {
    if (!sketches.baseline) {
      summaries.push(summarize(segment, segmentStatesValue.summary!, { scope: 'global', rows: 0 }, segmentStatesValue.expected));
      continue;
    }
    const layout = { named: sketches.segments, other: OTHER_SEGMENT, unseen: UNSEEN_SEGMENT, minRows: thresholds.minSamples };
    const reference = segmentReference(sketches.baseline, segment, ALL_SEGMENTS, layout);
    summaries.push(summarize(segment, segmentStatesValue.summary!, reference, segmentStatesValue.expected));
    for (const assessment of assessWindow(reference.baseline, segmentStatesValue, thresholds)) {
      // Inside a category segment the category is constant by construction: that is not drift.
      if (segment !== ALL_SEGMENTS && assessment.feature === 'category') continue;
      assessments.push({ ...assessment, segment });
    }
  }
  return { assessments, summaries };
}

/** Assessments of one window's sketch hashes. */
export function evaluateWindow(hashes: WindowHashes, sketches: VersionSketches, thresholds: DriftThresholds): WindowEvaluation {
  return assessStates(windowStates(hashes, sketches), sketches, thresholds);
}

export interface SlidingViewInput {
  modelName: string;
  modelVersion: number;
  /** Window starts to merge (consecutive tumbling windows: see slidingWindowStarts). */
  starts: readonly number[];
}

/**
 * A sliding view: the tumbling windows' sketches merged and assessed as one window (raw statuses, no
 * hysteresis). Only windows still in Redis (DRIFTLINE_AGGREGATOR_STATE_TTL_S) contribute.
 */
export async function assessSlidingView(
  state: { readWindow(id: string): Promise<WindowHashes[]> },
  sketches: VersionSketches,
  thresholds: DriftThresholds,
  input: SlidingViewInput,
  windowIdOf: (start: number) => string,
): Promise<WindowEvaluation & { windowsFound: number }> {
  let merged = new Map<string, WindowStates>();
  let windowsFound = 0;
  for (const start of input.starts) {
    const shares = await state.readWindow(windowIdOf(start));
    if (shares.length === 0) continue;
    windowsFound++;
    merged = mergeWindowStates(merged, sharedWindowStates(shares, sketches), sketches);
  }
  return { ...assessStates(merged, sketches, thresholds), windowsFound };
}
