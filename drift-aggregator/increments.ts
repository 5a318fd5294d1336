/**
 * In-memory pre-aggregation of one Kafka batch with the sketch family (core/sketch): per window ×
 * segment, one SummarySketch and one sketch per monitored value (BinnedHistogramSketch on the
 * baseline's edges, CategoricalCountSketch on its categories). At the end of the batch every state
 * becomes flat hash increments (`toIncrements`) that one Lua call applies to Redis, so Redis sees
 * one write per batch, not per event. Reading back is `fromHash` on the same sketches.
 *
 * Hash naming: one Redis hash per (window, segment, value); `value` is a monitored value name or
 * SUMMARY_HASH. Segments are the baseline's most frequent categories (the same on every instance),
 * other known categories and reviews without one are OTHER_SEGMENT, categories the baseline never had are
 * UNSEEN_SEGMENT, and every event also counts under ALL_SEGMENTS.
 */
import { ALL_SEGMENTS } from '../core/drift/tables.js';
import { monitoredValues, type ReferenceBaseline } from '../core/drift/baseline.js';
import { categoricalSketchFor, histogramSketchFor } from '../core/drift/distribution.js';
import { embeddingSketchFor } from '../core/drift/embedding.js';
import { SummarySketch, type EmbeddingSketch, type EmbeddingState, type BinnedHistogramSketch, type CategoricalCountSketch, type CategoricalState, type HistogramState, type SketchIncrements, type SummaryState } from '../core/sketch/index.js';
import { FIELD_MAX_CHARS } from '../core/validation.js';
import type { ScoredReview } from '../schemas/types.js';
import { windowClockOf, windowId, windowStartOf, type TimeSource, type WindowRef } from './windows.js';
import { EXPECTED_CONFUSION, EXPECTED_CONFUSION_HASH, expectedConfusionValue } from './performance-estimate.js';
import type { WindowTimeMode } from './config.js';
import { WindowSample } from './recent-sample.js';

export const OTHER_SEGMENT = '__other__';
/** Segment of categories the reference never had (kept apart from the known ones capped into OTHER_SEGMENT). */
export const UNSEEN_SEGMENT = '__unseen__';
export const SUMMARY_HASH = '__summary__';
/** Hash of the random-feature sums of the model's review representation (embedding drift). */
export const EMBEDDING_HASH = '__embedding__';
export const NULL_CATEGORY = '(null)';
/** Hash (under ALL_SEGMENTS) counting a window's events per clock: fields `event` and `ingest` (TimeSource). */
export const CLOCK_HASH = '__clock__';

/** Name of one hash of a window: `<segment>|<value>` (value names never contain '|'). */
export function hashName(segment: string, value: string): string {
  return `${segment}|${value}`;
}

export function parseHashName(name: string): { segment: string; value: string } {
  const bar = name.lastIndexOf('|');
  return { segment: name.slice(0, bar), value: name.slice(bar + 1) };
}

/** The sketches of one model version, built from its baseline (shared by all windows of the version). */
export class VersionSketches {
  readonly summary = new SummarySketch();
  readonly numeric = new Map<string, BinnedHistogramSketch>();
  readonly categorical = new Map<string, CategoricalCountSketch>();
  /** Embedding drift's sketch, when the baseline has an embedding reference (segments share its random features). */
  readonly embedding: EmbeddingSketch | null;
  readonly segments: ReadonlySet<string>;
  /** Every category the reference had (named segments and the ones capped into OTHER_SEGMENT). */
  private readonly knownCategories: ReadonlySet<string>;

  constructor(readonly baseline: ReferenceBaseline | null, maxSegments: number) {
    // The same sketch construction as the evaluation's (core/drift/distribution.ts), so bins agree.
    for (const [name, feature] of Object.entries(baseline?.features ?? {})) {
      if (feature.kind === 'numeric') this.numeric.set(name, histogramSketchFor(feature));
      else this.categorical.set(name, categoricalSketchFor(feature));
    }
    this.embedding = baseline?.embedding ? embeddingSketchFor(baseline.embedding) : null;
    const category = baseline?.features['category'];
    // A segment name is part of Redis keys: a baseline registered before the field bounds cannot bring a 20 KB one in.
    const candidates = category && category.kind === 'categorical' ? category.categories.filter((c) => c !== NULL_CATEGORY && c.length <= FIELD_MAX_CHARS.category) : [];
    this.segments = new Set(candidates.slice(0, maxSegments));
    this.knownCategories = new Set(category && category.kind === 'categorical' ? category.categories : []);
  }

  /** The named segment; OTHER_SEGMENT for a known category past the cap or no category; UNSEEN_SEGMENT for a new one. */
  segmentOf(category: string | null): string {
    if (category === null) return OTHER_SEGMENT;
    if (this.segments.has(category)) return category;
    // Without a baseline nothing is known, and nothing is "new" either.
    return this.knownCategories.has(category) || this.baseline === null ? OTHER_SEGMENT : UNSEEN_SEGMENT;
  }
}

/** Sketch states of one window × segment during a batch. */
export class SegmentStates {
  summary: SummaryState;
  readonly numeric = new Map<string, HistogramState>();
  readonly categorical = new Map<string, CategoricalState>();
  /** Expected confusion sums of the label-free performance estimate (performance-estimate.ts). */
  expected = EXPECTED_CONFUSION.zero();
  embedding: EmbeddingState | null;

  constructor(readonly sketches: VersionSketches) {
    this.summary = sketches.summary.zero();
    this.embedding = sketches.embedding ? sketches.embedding.zero() : null;
  }

  add(event: ScoredReview, values: ReturnType<typeof monitoredValues> | null): void {
    const { sketches } = this;
    sketches.summary.add(this.summary, { sentiment: event.sentiment, confidence: event.confidence, outlier: event.outlier_flag, rating: event.rating });
    EXPECTED_CONFUSION.add(this.expected, expectedConfusionValue(event, sketches.baseline));
    if (this.embedding) sketches.embedding!.add(this.embedding, event.embedding);
    if (!values) return;
    for (const name in values.numeric) {
      const sketch = sketches.numeric.get(name);
      if (!sketch) continue;
      let state = this.numeric.get(name);
      if (!state) this.numeric.set(name, (state = sketch.zero()));
      sketch.add(state, values.numeric[name]!);
    }
    for (const name in values.categorical) {
      const sketch = sketches.categorical.get(name);
      if (!sketch) continue;
      let state = this.categorical.get(name);
      if (!state) this.categorical.set(name, (state = sketch.zero()));
      sketch.add(state, values.categorical[name]!);
    }
  }

  /** Adds another segment's states into this one (sketch merge). */
  mergeFrom(other: SegmentStates): void {
    const { sketches } = this;
    this.summary = sketches.summary.merge(this.summary, other.summary);
    this.expected = EXPECTED_CONFUSION.merge(this.expected, other.expected);
    if (this.embedding && other.embedding) this.embedding = sketches.embedding!.merge(this.embedding, other.embedding);
    for (const [name, state] of other.numeric) {
      const own = this.numeric.get(name);
      this.numeric.set(name, own ? sketches.numeric.get(name)!.merge(own, state) : sketches.numeric.get(name)!.merge(sketches.numeric.get(name)!.zero(), state));
    }
    for (const [name, state] of other.categorical) {
      const own = this.categorical.get(name);
      this.categorical.set(name, own ? sketches.categorical.get(name)!.merge(own, state) : sketches.categorical.get(name)!.merge(sketches.categorical.get(name)!.zero(), state));
    }
  }

  /** value name -> increments (summary under SUMMARY_HASH). */
  increments(): Map<string, SketchIncrements> {
    const out = new Map<string, SketchIncrements>([[SUMMARY_HASH, this.sketches.summary.toIncrements(this.summary)]]);
    out.set(EXPECTED_CONFUSION_HASH, EXPECTED_CONFUSION.toIncrements(this.expected));
    if (this.embedding) out.set(EMBEDDING_HASH, this.sketches.embedding!.toIncrements(this.embedding));
    // Fine histograms go as binary bin records (BinPairs): the bulk of a batch's Redis write.
    for (const [name, state] of this.numeric) out.set(name, this.sketches.numeric.get(name)!.toPackedIncrements(state));
    for (const [name, state] of this.categorical) out.set(name, this.sketches.categorical.get(name)!.toIncrements(state));
    return out;
  }
}

export interface WindowIncrements {
  ref: WindowRef;
  id: string;
  events: number;
  /** Events per clock they were windowed on (event time, or ingest time when the review has none). */
  timeSources: Record<TimeSource, number>;
  segments: Map<string, SegmentStates>;
  /** The window's recent-sample candidates of this batch (recent-sample.ts). */
  sample: WindowSample;
}

export interface BatchAggregateOptions {
  windowMs: number;
  windowTime: WindowTimeMode;
  /** Sketches of a model version (built once per version from its baseline). */
  sketchesOf(modelName: string, modelVersion: number): VersionSketches;
  /** Reviews kept per window in the recent-sample store (DRIFTLINE_RECENT_SAMPLE_PER_WINDOW); 0 or absent: none. */
  samplePerWindow?: number;
}

function nonZero(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, count]) => count !== 0));
}

/**
 * What one batch adds to Redis, as plain data (the Redis apply needs nothing else): per window its id,
 * start, event count and the sketch increments per `<segment>|<value>` hash.
 */
export interface BatchIncrements {
  /** Latest window time among the batch's events (-Infinity for an empty batch). */
  maxWindowTime: number;
  windows: Array<{
    id: string;
    start: number;
    events: number;
    hashes: Array<[string, SketchIncrements]>;
    /** Recent-sample reservoir: keep the `keep` smallest hashes; `members` are this batch's [hash, member JSON] candidates. */
    sample?: { keep: number; members: Array<[number, string]> };
  }>;
}

/** Pre-aggregates the events of one Kafka batch: one entry per window, every state summed in memory. */
export class BatchAggregate {
  readonly windows = new Map<string, WindowIncrements>();
  maxWindowTime = Number.NEGATIVE_INFINITY;
  minWindowTime = Number.POSITIVE_INFINITY;
  events = 0;
  /** Events of versions without a baseline: only their summary is kept. */
  withoutBaseline = 0;
  private finished = true;
  private lastWindow: WindowIncrements | null = null;
  private lastVersion: { modelName: string; modelVersion: number; sketches: VersionSketches } | null = null;

  constructor(private readonly options: BatchAggregateOptions) {}

  add(event: ScoredReview): void {
    const { time, source } = windowClockOf(event, this.options.windowTime);
    if (time > this.maxWindowTime) this.maxWindowTime = time;
    if (time < this.minWindowTime) this.minWindowTime = time;
    const window = this.windowOf(event.model_name, event.model_version, windowStartOf(time, this.options.windowMs));
    window.events++;
    window.timeSources[source]++;
    this.events++;
    const sketches = this.sketchesOf(event.model_name, event.model_version);
    if (!sketches.baseline) this.withoutBaseline++;
    const values = sketches.baseline ? monitoredValues(event) : null;
    // Only the event's own segment here: __all__ is the merge of the segments, built once per batch in finish().
    const segment = sketches.segmentOf(event.category);
    this.segment(window, segment, sketches).add(event, values);
    window.sample.add(event, segment);
    this.finished = false;
  }

  /** Adds the __all__ segment of every window (merge of its segments); call before reading the increments. */
  finish(): this {
    if (this.finished) return this;
    for (const window of this.windows.values()) {
      const segments = [...window.segments.entries()].filter(([segment]) => segment !== ALL_SEGMENTS);
      const first = segments[0];
      if (!first) continue;
      const all = new SegmentStates(first[1].sketches);
      for (const [, states] of segments) all.mergeFrom(states);
      window.segments.set(ALL_SEGMENTS, all);
    }
    this.finished = true;
    return this;
  }

  /** The batch's increments as plain data, `__all__` included. */
  increments(): BatchIncrements {
    this.finish();
    const windows: BatchIncrements['windows'] = [];
    for (const window of this.windows.values()) {
      const hashes: Array<[string, SketchIncrements]> = [];
      for (const [segment, states] of window.segments) {
        for (const [value, increments] of states.increments()) hashes.push([hashName(segment, value), increments]);
      }
      // Events per window clock (event / ingest time), counted in the same atomic apply.
      hashes.push([hashName(ALL_SEGMENTS, CLOCK_HASH), { ints: nonZero(window.timeSources), floats: {}, mins: {}, maxes: {} }]);
      windows.push({ id: window.id, start: window.ref.start, events: window.events, hashes, sample: { keep: window.sample.keep, members: window.sample.members() } });
    }
    return { maxWindowTime: this.maxWindowTime, windows };
  }

  /** The version's sketches, the last version's kept at hand like the last window. */
  private sketchesOf(modelName: string, modelVersion: number): VersionSketches {
    const last = this.lastVersion;
    if (last && last.modelVersion === modelVersion && last.modelName === modelName) return last.sketches;
    const sketches = this.options.sketchesOf(modelName, modelVersion);
    this.lastVersion = { modelName, modelVersion, sketches };
    return sketches;
  }

  /** The window of (model, version, start); consecutive events mostly share it, so the last one is kept at hand (no id string per event). */
  private windowOf(modelName: string, modelVersion: number, start: number): WindowIncrements {
    const last = this.lastWindow;
    if (last && last.ref.start === start && last.ref.modelVersion === modelVersion && last.ref.modelName === modelName) return last;
    const ref: WindowRef = { modelName, modelVersion, start };
    const id = windowId(ref);
    let window = this.windows.get(id);
    if (!window) this.windows.set(id, (window = { ref, id, events: 0, timeSources: { event: 0, ingest: 0 }, segments: new Map(), sample: new WindowSample(this.options.samplePerWindow ?? 0) }));
    this.lastWindow = window;
    return window;
  }

  private segment(window: WindowIncrements, segment: string, sketches: VersionSketches): SegmentStates {
    let states = window.segments.get(segment);
    if (!states) window.segments.set(segment, (states = new SegmentStates(sketches)));
    return states;
  }
}
