/**
 * The label-free estimate through the aggregator's own path, without Redis (hash semantics simulated):
 * events → BatchAggregate increments (the `__cbpe__` hash per segment) → window read-back → the window
 * summaries' estimated accuracy and macro-F1, which must equal the estimate computed directly from the
 * events' calibrated probabilities, for any split into batches and for merged (sliding) windows.
 */
import { describe, expect, it } from 'vitest';
import { sentimentCalibrator, type SentimentCalibration } from '../../core/drift/calibration.js';
import { estimatePerformance } from '../../core/drift/cbpe.js';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { ALL_SEGMENTS } from '../../core/drift/tables.js';
import { ExpectedConfusionSketch, applyIncrementsInMemory } from '../../core/sketch/index.js';
import { assessStates, evaluateWindow, mergeWindowStates, windowStates } from '../../drift-aggregator/evaluate.js';
import { BatchAggregate, VersionSketches, hashName } from '../../drift-aggregator/increments.js';
import { EXPECTED_CONFUSION_HASH } from '../../drift-aggregator/performance-estimate.js';
import type { WindowHashes } from '../../drift-aggregator/redis-state.js';
import { SENTIMENTS, type ScoredReview } from '../../schemas/types.js';
import { seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';

const MODEL = 'cbpe-model';
const CALIBRATION: SentimentCalibration = { method: 'prior-offsets-temperature', logOffsets: [0.25, 0.75, 0], temperature: 0.9, rows: 1000, eceServed: 0.03, eceCalibrated: 0.01 };
const plain = new VersionSketches(syntheticBaseline(MODEL, 1, 2_000), 3);
const calibrated = new VersionSketches({ ...syntheticBaseline(MODEL, 1, 2_000), sentimentCalibration: CALIBRATION }, 3);

/** The window hashes Redis would hold after applying each batch's increments. */
function windowHashes(batches: ReadonlyArray<readonly ScoredReview[]>, sketches: VersionSketches, windowId: string): WindowHashes {
  const hashes: WindowHashes = new Map();
  for (const events of batches) {
    const batch = new BatchAggregate({ windowMs: 60_000, windowTime: 'ingest', sketchesOf: () => sketches });
    for (const event of events) batch.add(event);
    const window = batch.increments().windows.find((w) => w.id === windowId);
    for (const [name, increments] of window?.hashes ?? []) {
      const hash = hashes.get(name) ?? {};
      applyIncrementsInMemory(hash, increments);
      hashes.set(name, hash);
    }
  }
  return hashes;
}

function reviews(count: number, startMs: number, seed: number): ScoredReview[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => syntheticReview(i + startMs, random, { modelName: MODEL, modelVersion: 1, ingestTimeMs: startMs + i * 50 }));
}

/** The estimate straight from the events (no sketches, no hashes). */
function directEstimate(events: readonly ScoredReview[], calibration: SentimentCalibration | null) {
  const calibrate = sentimentCalibrator(calibration);
  const sketch = new ExpectedConfusionSketch();
  const state = sketch.zero();
  for (const e of events) sketch.add(state, { probabilities: calibrate([e.prob_negative, e.prob_neutral, e.prob_positive]), predicted: SENTIMENTS.indexOf(e.sentiment) });
  return estimatePerformance(state)!;
}

describe('label-free estimate in the aggregator', () => {
  const events = reviews(600, 0, 3);
  const windowId = `${MODEL}|1|0`;

  it('writes one expected-confusion hash per segment, and the window summary carries the estimate beside the realized figures', () => {
    const hashes = windowHashes([events.slice(0, 200), events.slice(200, 450), events.slice(450)], calibrated, windowId);
    expect(hashes.get(hashName(ALL_SEGMENTS, EXPECTED_CONFUSION_HASH))!['n']).toBe('600');
    const { summaries } = evaluateWindow(hashes, calibrated, defaultDriftThresholds());
    const all = summaries.find((s) => s.segment === ALL_SEGMENTS)!;
    const direct = directEstimate(events, CALIBRATION);
    expect(all.estimatedAccuracy).toBeCloseTo(direct.accuracy, 9);
    expect(all.estimatedMacroF1).toBeCloseTo(direct.macroF1, 9);
    expect(all.accuracy).not.toBeNull();
    // Every segment has its own estimate, over its own events.
    for (const summary of summaries.filter((s) => s.segment !== ALL_SEGMENTS)) {
      const own = events.filter((e) => calibrated.segmentOf(e.category) === summary.segment);
      expect(summary.estimatedAccuracy).toBeCloseTo(directEstimate(own, CALIBRATION).accuracy, 9);
    }
  });

  it("applies the version's calibration: without one the served probabilities are used", () => {
    const withCalibration = evaluateWindow(windowHashes([events], calibrated, windowId), calibrated, defaultDriftThresholds()).summaries.find((s) => s.segment === ALL_SEGMENTS)!;
    const without = evaluateWindow(windowHashes([events], plain, windowId), plain, defaultDriftThresholds()).summaries.find((s) => s.segment === ALL_SEGMENTS)!;
    expect(without.estimatedAccuracy).toBeCloseTo(directEstimate(events, null).accuracy, 9);
    expect(Math.abs(withCalibration.estimatedAccuracy! - without.estimatedAccuracy!)).toBeGreaterThan(0.01);
  });

  it('a sliding view (merged windows) estimates over all their events', () => {
    const later = reviews(300, 60_000, 4);
    const first = windowStates(windowHashes([events], calibrated, windowId), calibrated);
    const second = windowStates(windowHashes([later], calibrated, `${MODEL}|1|60000`), calibrated);
    const merged = assessStates(mergeWindowStates(first, second, calibrated), calibrated, defaultDriftThresholds());
    const all = merged.summaries.find((s) => s.segment === ALL_SEGMENTS)!;
    expect(all.estimatedAccuracy).toBeCloseTo(directEstimate([...events, ...later], CALIBRATION).accuracy, 9);
  });

  it('a window whose hashes predate the estimate reads as no estimate', () => {
    const hashes = windowHashes([events], plain, windowId);
    for (const name of [...hashes.keys()]) if (name.endsWith(`|${EXPECTED_CONFUSION_HASH}`)) hashes.delete(name);
    const all = evaluateWindow(hashes, plain, defaultDriftThresholds()).summaries.find((s) => s.segment === ALL_SEGMENTS)!;
    expect(all.estimatedAccuracy).toBeNull();
    expect(all.estimatedMacroF1).toBeNull();
    expect(all.accuracy).not.toBeNull();
  });
});
