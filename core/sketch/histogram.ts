/**
 * BinnedHistogramSketch: numeric values counted on fixed inner edges (the reference baseline's
 * quantile edges), plus count, sum, sum of squares, min and max. k edges make k + 1 bins:
 * (-inf, e0], (e0, e1], ..., (e_{k-1}, +inf) — the same convention as NumericBaseline.
 * Counts are exact integers; sums are floats (merge order can change their last bits only).
 */
import {
  decodeEnvelope,
  emptyIncrements,
  encodeEnvelope,
  hashFloat,
  hashInteger,
  putNonZero,
  readCount,
  readCounts,
  readFloat,
  readOptionalFloat,
  sketchFormatError,
} from './codec.js';
import type { RedisHashSketch, SketchIncrements } from './types.js';

export interface HistogramState {
  /** One count per bin: edges.length + 1 of them. */
  counts: number[];
  /** Valid values added (sum of counts). */
  count: number;
  sum: number;
  sumSquares: number;
  /** +Infinity / -Infinity while empty. */
  min: number;
  max: number;
  /** Values that were not finite numbers (NaN, Infinity, null, strings...). */
  invalid: number;
}

/** Redis hash field names (short: one hash per window x segment x feature). */
const FIELD = { count: 'n', invalid: 'inv', sum: 'sum', sumSquares: 'sq', min: 'min', max: 'max', binPrefix: 'b' } as const;

export class BinnedHistogramSketch implements RedisHashSketch<HistogramState, number> {
  readonly kind = 'binned-histogram';
  readonly formatVersion = 1;
  readonly edges: readonly number[];

  constructor(edges: readonly number[]) {
    for (let i = 0; i < edges.length; i++) {
      if (!Number.isFinite(edges[i])) throw sketchFormatError('histogram edges must be finite numbers', { index: i });
      if (i > 0 && !(edges[i] > edges[i - 1])) throw sketchFormatError('histogram edges must be strictly ascending', { index: i });
    }
    this.edges = [...edges];
  }

  get binCount(): number {
    return this.edges.length + 1;
  }

  zero(): HistogramState {
    return { counts: new Array<number>(this.binCount).fill(0), count: 0, sum: 0, sumSquares: 0, min: Infinity, max: -Infinity, invalid: 0 };
  }

  /** Index of the bin holding `value`: the number of edges strictly below it (binary search). */
  binOf(value: number): number {
    let lo = 0;
    let hi = this.edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.edges[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(state: HistogramState, value: number): HistogramState {
    // Values arrive from decoded records: guard the type at run time too.
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      state.invalid++;
      return state;
    }
    state.counts[this.binOf(value)]++;
    state.count++;
    state.sum += value;
    state.sumSquares += value * value;
    if (value < state.min) state.min = value;
    if (value > state.max) state.max = value;
    return state;
  }

  merge(a: HistogramState, b: HistogramState): HistogramState {
    this.checkShape(a);
    this.checkShape(b);
    return {
      counts: a.counts.map((count, i) => count + b.counts[i]),
      count: a.count + b.count,
      sum: a.sum + b.sum,
      sumSquares: a.sumSquares + b.sumSquares,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      invalid: a.invalid + b.invalid,
    };
  }

  serialize(state: HistogramState): string {
    this.checkShape(state);
    return encodeEnvelope(this.kind, this.formatVersion, {
      edges: this.edges,
      counts: state.counts,
      count: state.count,
      sum: state.sum,
      sumSquares: state.sumSquares,
      min: state.count === 0 ? null : state.min,
      max: state.count === 0 ? null : state.max,
      invalid: state.invalid,
    });
  }

  deserialize(text: string): HistogramState {
    const raw = decodeEnvelope(text, this.kind, this.formatVersion);
    const edges = raw.edges;
    if (!Array.isArray(edges) || edges.length !== this.edges.length || edges.some((edge, i) => edge !== this.edges[i])) {
      throw sketchFormatError(`${this.kind}: serialized sketch was made on different bin edges`);
    }
    const state: HistogramState = {
      counts: readCounts(raw, 'counts', this.binCount, this.kind),
      count: readCount(raw, 'count', this.kind),
      sum: readFloat(raw, 'sum', this.kind),
      sumSquares: readFloat(raw, 'sumSquares', this.kind),
      min: readOptionalFloat(raw, 'min', this.kind, Infinity),
      max: readOptionalFloat(raw, 'max', this.kind, -Infinity),
      invalid: readCount(raw, 'invalid', this.kind),
    };
    this.checkConsistent(state);
    return state;
  }

  toIncrements(state: HistogramState): SketchIncrements {
    this.checkShape(state);
    const out = emptyIncrements();
    putNonZero(out.ints, FIELD.count, state.count);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    state.counts.forEach((count, i) => putNonZero(out.ints, `${FIELD.binPrefix}${i}`, count));
    putNonZero(out.floats, FIELD.sum, state.sum);
    putNonZero(out.floats, FIELD.sumSquares, state.sumSquares);
    if (state.count > 0) {
      out.mins[FIELD.min] = state.min;
      out.maxes[FIELD.max] = state.max;
    }
    return out;
  }

  fromHash(hash: Record<string, string>): HistogramState {
    const known = new Set<string>([FIELD.count, FIELD.invalid, FIELD.sum, FIELD.sumSquares, FIELD.min, FIELD.max]);
    for (let i = 0; i < this.binCount; i++) known.add(`${FIELD.binPrefix}${i}`);
    const unknown = Object.keys(hash).filter((field) => !known.has(field));
    if (unknown.length > 0) throw sketchFormatError(`${this.kind}: hash has fields outside its ${this.binCount} bins`, { fields: unknown.slice(0, 10) });
    const state: HistogramState = {
      counts: Array.from({ length: this.binCount }, (_, i) => hashInteger(hash, `${FIELD.binPrefix}${i}`, this.kind)),
      count: hashInteger(hash, FIELD.count, this.kind),
      sum: hashFloat(hash, FIELD.sum, this.kind, 0),
      sumSquares: hashFloat(hash, FIELD.sumSquares, this.kind, 0),
      min: hashFloat(hash, FIELD.min, this.kind, Infinity),
      max: hashFloat(hash, FIELD.max, this.kind, -Infinity),
      invalid: hashInteger(hash, FIELD.invalid, this.kind),
    };
    this.checkConsistent(state);
    return state;
  }

  mean(state: HistogramState): number {
    return state.count === 0 ? 0 : state.sum / state.count;
  }

  /** Population standard deviation from the sums (clamped at 0 against rounding). */
  std(state: HistogramState): number {
    if (state.count === 0) return 0;
    const mean = state.sum / state.count;
    return Math.sqrt(Math.max(0, state.sumSquares / state.count - mean * mean));
  }

  private checkShape(state: HistogramState): void {
    if (state.counts.length !== this.binCount) {
      throw sketchFormatError(`${this.kind}: state has ${state.counts.length} bins, sketch has ${this.binCount}`);
    }
  }

  /** Bin counts must add up to the count: a torn write or a foreign hash shows up here. */
  private checkConsistent(state: HistogramState): void {
    const binned = state.counts.reduce((a, b) => a + b, 0);
    if (binned !== state.count) throw sketchFormatError(`${this.kind}: bin counts add up to ${binned}, count is ${state.count}`);
  }
}
