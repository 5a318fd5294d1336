/** Batch pre-aggregation, read-back and sliding merges, without Redis (hash semantics simulated). */
import { describe, expect, it } from 'vitest';
import { defaultDriftThresholds } from '../../core/drift/config.js';
import { ALL_SEGMENTS } from '../../core/drift/tables.js';
import { applyIncrementsInMemory } from '../../core/sketch/index.js';
import { evaluateWindow, mergeWindowStates, windowStates, assessStates } from '../../drift-aggregator/evaluate.js';
import { BatchAggregate, OTHER_SEGMENT, SUMMARY_HASH, UNSEEN_SEGMENT, VersionSketches, hashName } from '../../drift-aggregator/increments.js';
import type { WindowHashes } from '../../drift-aggregator/redis-state.js';
import type { ScoredReview } from '../../schemas/types.js';
import { CATEGORIES, buildBaseline, seededRandom, syntheticBaseline, syntheticReview } from './fixtures.js';

const MODEL = 'inc-model';
const baseline = syntheticBaseline(MODEL, 1, 2_000);
const sketches = new VersionSketches(baseline, 3);


function aggregate(reviews: readonly ScoredReview[], versionSketches: VersionSketches = sketches): BatchAggregate {
  const batch = new BatchAggregate({ windowMs: 60_000, windowTime: 'ingest', sketchesOf: () => versionSketches });
  for (const review of reviews) batch.add(review);
  return batch.finish();
}

function hashesOf(batches: BatchAggregate[], id: string): WindowHashes {
  const hashes: WindowHashes = new Map();
  for (const batch of batches) {
    const window = batch.windows.get(id);
    if (!window) continue;
    for (const [segment, states] of window.segments) {
      for (const [value, increments] of states.increments()) {
        const name = hashName(segment, value);
        const hash = hashes.get(name) ?? {};
        applyIncrementsInMemory(hash, increments);
        hashes.set(name, hash);
      }
    }
  }
  return hashes;
}

function reviews(count: number, startMs: number, seed: number, shifted = false): ScoredReview[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => syntheticReview(i, random, { modelName: MODEL, modelVersion: 1, shifted, ingestTimeMs: startMs + i * 50 }));
}

describe('batch pre-aggregation', () => {
  it('groups events by model version and window, counting each under __all__ and its segment', () => {
    const batch = aggregate([...reviews(100, 0, 1), ...reviews(50, 60_000, 2)]);
    expect([...batch.windows.keys()].sort()).toEqual([`${MODEL}|1|0`, `${MODEL}|1|60000`]);
    const window = batch.windows.get(`${MODEL}|1|0`)!;
    expect(window.events).toBe(100);
    expect(window.segments.get(ALL_SEGMENTS)!.summary.count).toBe(100);
    const segmentTotal = [...window.segments.entries()].filter(([s]) => s !== ALL_SEGMENTS).reduce((sum, [, states]) => sum + states.summary.count, 0);
    expect(segmentTotal).toBe(100);
  });

  it('caps segments at the baseline\'s most frequent categories; the rest go to __other__, categories it never had to __unseen__', () => {
    expect(sketches.segments.size).toBe(3);
    expect([...sketches.segments].every((s) => CATEGORIES.includes(s))).toBe(true);
    const batch = aggregate([...reviews(200, 0, 3), ...reviews(20, 0, 4, true)]);
    const window = batch.windows.get(`${MODEL}|1|0`)!;
    const segments = [...window.segments.keys()];
    expect(segments).toContain(OTHER_SEGMENT);
    expect(window.segments.get(UNSEEN_SEGMENT)?.summary.count).toBe(20); // the shifted reviews' 'Books'
    expect(segments.filter((s) => s !== ALL_SEGMENTS && s !== OTHER_SEGMENT && s !== UNSEEN_SEGMENT).every((s) => sketches.segments.has(s))).toBe(true);
    expect(sketches.segmentOf(null)).toBe(OTHER_SEGMENT);
    expect(new VersionSketches(null, 3).segmentOf('Books')).toBe(OTHER_SEGMENT);
  });

  it('never makes a category over its length bound a segment (a Redis key), even when a baseline holds one', () => {
    const huge = 'c'.repeat(20_000);
    const category = baseline.features['category']!;
    if (category.kind !== 'categorical') throw new Error('the synthetic baseline has a categorical category');
    const poisoned = { ...baseline, features: { ...baseline.features, category: { ...category, categories: [huge, ...category.categories], counts: [10_000, ...category.counts] } } };
    const guarded = new VersionSketches(poisoned, 3);
    expect(guarded.segments.size).toBe(3);
    expect(guarded.segments.has(huge)).toBe(false);
    expect(guarded.segmentOf(huge)).toBe(OTHER_SEGMENT);
  });

  it('reads back what two batches of one window added, as if one batch had taken all events', () => {
    const all = reviews(300, 0, 5);
    const id = `${MODEL}|1|0`;
    const split = hashesOf([aggregate(all.slice(0, 120)), aggregate(all.slice(120))], id);
    const whole = hashesOf([aggregate(all)], id);
    const counts = (hashes: WindowHashes) => windowStates(hashes, sketches).get(ALL_SEGMENTS)!;
    expect(counts(split).numeric['feature.text_length']!.counts).toEqual(counts(whole).numeric['feature.text_length']!.counts);
    expect(counts(split).categorical['rating']).toEqual(counts(whole).categorical['rating']);
    expect(counts(split).summary!.confusion).toEqual(counts(whole).summary!.confusion);
    expect(Number(split.get(hashName(ALL_SEGMENTS, SUMMARY_HASH))!.n)).toBe(300);
  });

  it('a sliding view (merge of windows) assesses like one window holding all their events', () => {
    const first = reviews(250, 0, 6);
    const second = reviews(250, 60_000, 7);
    const merged = mergeWindowStates(windowStates(hashesOf([aggregate(first)], `${MODEL}|1|0`), sketches), windowStates(hashesOf([aggregate(second)], `${MODEL}|1|60000`), sketches), sketches);
    const together = [...first, ...second].map((r) => ({ ...r, ingest_time_ms: 0 }));
    const single = evaluateWindow(hashesOf([aggregate(together)], `${MODEL}|1|0`), sketches, defaultDriftThresholds());
    const sliding = assessStates(merged, sketches, defaultDriftThresholds());
    const pick = (e: typeof single) => e.assessments.filter((a) => a.segment === ALL_SEGMENTS).map((a) => [a.feature, a.metric, a.value.toFixed(9)]);
    expect(pick(sliding)).toEqual(pick(single));
  });

  it('a shifted window is red on the shifted features, an unshifted one is green', () => {
    const thresholds = defaultDriftThresholds();
    const shifted = evaluateWindow(hashesOf([aggregate(reviews(400, 0, 8, true))], `${MODEL}|1|0`), sketches, thresholds);
    const stable = evaluateWindow(hashesOf([aggregate(reviews(400, 0, 9))], `${MODEL}|1|0`), sketches, thresholds);
    const red = (e: typeof shifted) => new Set(e.assessments.filter((a) => a.segment === ALL_SEGMENTS && a.rawStatus === 'red').map((a) => a.feature));
    expect([...red(shifted)]).toEqual(expect.arrayContaining(['feature.text_length', 'category', 'prediction.confidence']));
    expect(red(stable).size).toBe(0);
  });
});

describe('per-segment references', () => {
  // Three categories that differ from the average on purpose: long, short and middling reviews.
  const TEXT_LENGTH: Record<string, number> = { Books: 900, Toys: 150, Kitchen: 400 };
  const SEGMENT_MODEL = 'seg-model';

  function categoryReviews(count: number, seed: number, shiftedCategory?: string): ScoredReview[] {
    const random = seededRandom(seed);
    const names = Object.keys(TEXT_LENGTH);
    return Array.from({ length: count }, (_, i) => {
      const review = syntheticReview(i, random, { modelName: SEGMENT_MODEL, modelVersion: 1, ingestTimeMs: i * 10 });
      const category = names[i % names.length]!;
      const typical = TEXT_LENGTH[category]!;
      const length = category === shiftedCategory ? typical * 2.5 : typical;
      return { ...review, review_id: `${seed}-${i}`, category, features: { ...review.features, text_length: length * (0.8 + 0.4 * random()) } };
    });
  }

  const segmentBaseline = buildBaseline(SEGMENT_MODEL, 1, categoryReviews(6_000, 21));
  const withSegments = new VersionSketches(segmentBaseline, 10);
  const { segments: _dropped, ...globalOnlyBaseline } = segmentBaseline;
  const globalOnly = new VersionSketches(globalOnlyBaseline, 10);
  const thresholds = defaultDriftThresholds();

  function statusBySegment(evaluation: ReturnType<typeof evaluateWindow>, feature: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const a of evaluation.assessments.filter((x) => x.feature === feature)) {
      const rank = { green: 0, amber: 1, red: 2 } as const;
      if (out[a.segment] === undefined || rank[a.rawStatus] > rank[out[a.segment] as keyof typeof rank]) out[a.segment] = a.rawStatus;
    }
    return out;
  }

  it('the trainer\'s segment references are binned on the global edges and add up to the global counts', () => {
    const global = segmentBaseline.features['feature.text_length'];
    const parts = Object.values(segmentBaseline.segments ?? {}).map((s) => s.features['feature.text_length']);
    expect(Object.keys(segmentBaseline.segments ?? {}).sort()).toEqual(['Books', 'Kitchen', 'Toys']);
    if (global?.kind !== 'numeric') throw new Error('text_length is numeric');
    for (const part of parts) expect(part?.kind === 'numeric' && part.edges).toEqual(global.edges);
    const summed = global.counts.map((_, i) => parts.reduce((n, p) => n + (p?.counts[i] ?? 0), 0));
    expect(summed).toEqual(global.counts);
  });

  it('a stream with the reference\'s category mix keeps every segment green; against the global reference alone, the unusual categories look drifted', () => {
    const window = hashesOf([aggregate(categoryReviews(3_000, 22), withSegments)], `${SEGMENT_MODEL}|1|0`);
    const evaluation = evaluateWindow(window, withSegments, thresholds);
    const statuses = statusBySegment(evaluation, 'feature.text_length');
    expect(statuses).toMatchObject({ [ALL_SEGMENTS]: 'green', Books: 'green', Toys: 'green', Kitchen: 'green' });
    const scopes = Object.fromEntries(evaluation.summaries.map((s) => [s.segment, s.referenceScope]));
    expect(scopes).toMatchObject({ [ALL_SEGMENTS]: 'global', Books: 'segment', Toys: 'segment', Kitchen: 'segment' });

    const againstGlobal = evaluateWindow(hashesOf([aggregate(categoryReviews(3_000, 22), globalOnly)], `${SEGMENT_MODEL}|1|0`), globalOnly, thresholds);
    const globalStatuses = statusBySegment(againstGlobal, 'feature.text_length');
    expect(globalStatuses['Books']).toBe('red');
    expect(globalStatuses['Toys']).toBe('red');
    expect(againstGlobal.summaries.find((s) => s.segment === 'Books')?.referenceScope).toBe('fallback');
  });

  it('one category\'s text distribution shifted turns that segment red and no other segment', () => {
    const window = hashesOf([aggregate(categoryReviews(3_000, 23, 'Toys'), withSegments)], `${SEGMENT_MODEL}|1|0`);
    const statuses = statusBySegment(evaluateWindow(window, withSegments, thresholds), 'feature.text_length');
    expect(statuses['Toys']).toBe('red');
    expect(statuses['Books']).toBe('green');
    expect(statuses['Kitchen']).toBe('green');
  });

  it('a segment whose own reference is under the minimum rows falls back to the global one and says so', () => {
    const strict = { ...thresholds, minSamples: 5_000 };
    const evaluation = evaluateWindow(hashesOf([aggregate(categoryReviews(600, 24), withSegments)], `${SEGMENT_MODEL}|1|0`), withSegments, strict);
    const books = evaluation.summaries.find((s) => s.segment === 'Books');
    expect(books?.referenceScope).toBe('fallback');
    expect(books?.referenceRows).toBe(segmentBaseline.rows);
  });
});
