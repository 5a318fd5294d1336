/**
 * Per-segment references. A category that is simply different from the average (longer reviews, more
 * 3-star ratings) would look drifted forever against the all-traffic reference, so the trainer also
 * stores each category's own histograms, binned on the global edges and categories (a window's segment
 * sketch uses those bins), and its own quality figures. At assessment a segment is compared with its
 * own reference when that has at least `minRows` rows, otherwise with the global one, and the row says
 * which (`ReferenceScope`).
 */
import type { FeatureBaseline, NumericBaseline, ReferenceBaseline, SegmentBaseline } from '../../schemas/baseline.js';
import { SENTIMENTS, type Sentiment } from '../../schemas/types.js';
import { binIndex, monitoredValues, type MonitoredInput } from './baseline.js';
import { livePerformance } from './metrics.js';
import { embeddingBaselineWith } from './embedding.js';

/**
 * Which reference a segment was compared with:
 * - `global`: the all-traffic segment (its own reference is the global one);
 * - `segment`: the segment's own reference;
 * - `fallback`: the global one, because the segment's own has fewer than the minimum rows (or none);
 * - `unseen`: the global one, for categories the reference never had (not capped ones: those are `other`).
 */
export type ReferenceScope = 'global' | 'segment' | 'fallback' | 'unseen';

export interface SegmentReference {
  baseline: ReferenceBaseline;
  scope: ReferenceScope;
  /** Rows of the reference used. */
  rows: number;
}

export const NULL_CATEGORY_VALUE = '(null)';

function ratingLabel(rating: number): Sentiment {
  return rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive';
}

/** Empty histograms on the global bins, one per feature. */
function emptyFeatures(global: Record<string, FeatureBaseline>): Record<string, FeatureBaseline> {
  const out: Record<string, FeatureBaseline> = {};
  for (const [name, feature] of Object.entries(global)) {
    out[name] =
      feature.kind === 'numeric'
        ? {
            kind: 'numeric',
            edges: feature.edges,
            counts: new Array<number>(feature.counts.length).fill(0),
            total: 0,
            mean: 0,
            min: Infinity,
            max: -Infinity,
            // Per-bin sums only when the global reference has them (same format on both levels).
            ...(feature.sums ? { sums: new Array<number>(feature.counts.length).fill(0) } : {}),
          }
        : { kind: 'categorical', categories: feature.categories, counts: new Array<number>(feature.counts.length).fill(0), other: 0, total: 0 };
  }
  return out;
}

interface SegmentAccumulator {
  rows: number;
  embeddings: Array<readonly number[]>;
  features: Record<string, FeatureBaseline>;
  sums: Map<string, number>;
  squares: Map<string, number>;
  confidence: number;
  confusion: number[][];
}

function addInput(acc: SegmentAccumulator, input: MonitoredInput): void {
  acc.rows++;
  const values = monitoredValues(input);
  for (const [name, value] of Object.entries(values.numeric)) {
    const feature = acc.features[name];
    if (feature?.kind !== 'numeric' || !Number.isFinite(value)) continue;
    const bin = binIndex(feature.edges, value);
    feature.counts[bin]!++;
    if (feature.sums) feature.sums[bin]! += value;
    feature.total++;
    feature.min = Math.min(feature.min, value);
    feature.max = Math.max(feature.max, value);
    acc.sums.set(name, (acc.sums.get(name) ?? 0) + value);
    acc.squares.set(name, (acc.squares.get(name) ?? 0) + value * value);
  }
  for (const [name, value] of Object.entries(values.categorical)) {
    const feature = acc.features[name];
    if (feature?.kind !== 'categorical') continue;
    const index = feature.categories.indexOf(value);
    if (index >= 0) feature.counts[index]!++;
    else feature.other++;
    feature.total++;
  }
  if (input.embedding) acc.embeddings.push(input.embedding);
  acc.confidence += input.confidence;
  acc.confusion[SENTIMENTS.indexOf(ratingLabel(input.rating))]![SENTIMENTS.indexOf(input.sentiment as Sentiment)]!++;
}

function finish(acc: SegmentAccumulator, global: ReferenceBaseline): SegmentBaseline {
  for (const [name, feature] of Object.entries(acc.features)) {
    if (feature.kind !== 'numeric') continue;
    if (feature.total === 0) Object.assign(feature, { mean: 0, min: 0, max: 0 });
    else feature.mean = (acc.sums.get(name) ?? 0) / feature.total;
    if (feature.sums) feature.std = feature.total === 0 ? 0 : Math.sqrt(Math.max(0, (acc.squares.get(name) ?? 0) / feature.total - feature.mean * feature.mean));
  }
  const performance = livePerformance(acc.confusion);
  // On the global reference's random features, so a segment's window sketch is the global one's.
  const embedding = global.embedding ? embeddingBaselineWith(global.embedding, acc.embeddings) : undefined;
  return {
    rows: acc.rows,
    features: acc.features,
    ...(embedding ? { embedding } : {}),
    reference: {
      accuracy: performance.accuracy,
      macroF1: performance.macroF1,
      meanConfidence: acc.rows === 0 ? global.reference.meanConfidence : acc.confidence / acc.rows,
      // The outlier flag's threshold is the model's; the segment keeps the global rate as its floor.
      outlierRate: global.reference.outlierRate,
    },
  };
}

/** Each known category's reference (every category of the global `category` feature, whatever its size). */
export function buildSegmentBaselines(global: ReferenceBaseline, inputs: readonly MonitoredInput[]): Record<string, SegmentBaseline> {
  const category = global.features['category'];
  if (category?.kind !== 'categorical') return {};
  const accumulators = new Map<string, SegmentAccumulator>();
  for (const name of category.categories) {
    if (name === NULL_CATEGORY_VALUE) continue;
    accumulators.set(name, { rows: 0, embeddings: [], features: emptyFeatures(global.features), sums: new Map(), squares: new Map(), confidence: 0, confusion: SENTIMENTS.map(() => SENTIMENTS.map(() => 0)) });
  }
  for (const input of inputs) {
    const acc = input.category === null ? undefined : accumulators.get(input.category);
    if (acc) addInput(acc, input);
  }
  const out: Record<string, SegmentBaseline> = {};
  for (const [name, acc] of accumulators) out[name] = finish(acc, global);
  return out;
}

/** `a − Σ parts`, feature by feature (counts are additive): the reference of everything not in `parts`. */
function remainder(global: ReferenceBaseline, parts: readonly SegmentBaseline[]): SegmentBaseline {
  const features: Record<string, FeatureBaseline> = {};
  for (const [name, feature] of Object.entries(global.features)) {
    const own = parts.map((p) => p.features[name]).filter((f): f is FeatureBaseline => f?.kind === feature.kind);
    if (feature.kind === 'numeric') {
      const counts = feature.counts.map((c, i) => Math.max(0, c - own.reduce((n, f) => n + (f.counts[i] ?? 0), 0)));
      const total = counts.reduce((a, b) => a + b, 0);
      const partSum = own.reduce((n, f) => n + (f.kind === 'numeric' ? f.mean * f.total : 0), 0);
      const mean = total > 0 ? (feature.mean * feature.total - partSum) / total : 0;
      const rest: NumericBaseline = { kind: 'numeric', edges: feature.edges, counts, total, mean, min: feature.min, max: feature.max };
      features[name] = rest;
      // Per-bin sums are additive like the counts (a bin emptied by the subtraction keeps no sum).
      const sums = feature.sums;
      if (sums && own.every((f) => f.kind === 'numeric' && f.sums)) {
        rest.sums = sums.map((s, i) => (counts[i] === 0 ? 0 : s - own.reduce((n, f) => n + (f.kind === 'numeric' ? (f.sums?.[i] ?? 0) : 0), 0)));
      }
    } else {
      const counts = feature.counts.map((c, i) => Math.max(0, c - own.reduce((n, f) => n + (f.counts[i] ?? 0), 0)));
      const other = Math.max(0, feature.other - own.reduce((n, f) => n + (f.kind === 'categorical' ? f.other : 0), 0));
      features[name] = { kind: 'categorical', categories: feature.categories, counts, other, total: counts.reduce((a, b) => a + b, 0) + other };
    }
  }
  const rows = Math.max(0, global.rows - parts.reduce((n, p) => n + p.rows, 0));
  // Quality of the remainder is not separable from the parts' figures: the global figures stand for it.
  return { rows, features, reference: global.reference };
}

export interface SegmentLayout {
  /** The segments the aggregator keeps apart (the most frequent categories). */
  named: ReadonlySet<string>;
  /** Segment of every other category the reference knows (capped), and of reviews without a category. */
  other: string;
  /** Segment of categories the reference never had. */
  unseen: string;
  /** A segment's own reference needs at least this many rows; below it the global one is used. */
  minRows: number;
}

function asBaseline(global: ReferenceBaseline, segment: SegmentBaseline): ReferenceBaseline {
  const { segments: _segments, embedding: _embedding, ...rest } = global;
  // Only the segment's own embedding reference: the global one would flag a segment for being itself.
  return { ...rest, rows: segment.rows, features: segment.features, reference: segment.reference, ...(segment.embedding ? { embedding: segment.embedding } : {}) };
}

/** The reference `segment` is compared with, and why. */
export function segmentReference(global: ReferenceBaseline, segment: string, allSegments: string, layout: SegmentLayout): SegmentReference {
  if (segment === allSegments) return { baseline: global, scope: 'global', rows: global.rows };
  if (segment === layout.unseen) return { baseline: global, scope: 'unseen', rows: global.rows };
  const segments = global.segments;
  let own: SegmentBaseline | undefined;
  if (segments && segment === layout.other) {
    own = remainder(global, [...layout.named].map((name) => segments[name]).filter((s): s is SegmentBaseline => s !== undefined));
  } else {
    own = segments?.[segment];
  }
  if (!own || own.rows < layout.minRows) return { baseline: global, scope: 'fallback', rows: global.rows };
  return { baseline: asBaseline(global, own), scope: 'segment', rows: own.rows };
}

/** The baseline with each known category's own reference added (what the trainer stores). */
export function withSegmentBaselines(global: ReferenceBaseline, inputs: readonly MonitoredInput[]): ReferenceBaseline {
  return { ...global, segments: buildSegmentBaselines(global, inputs) };
}
