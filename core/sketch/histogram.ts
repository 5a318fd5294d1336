/**
 * BinnedHistogramSketch: numeric values counted on fixed inner edges (the reference baseline's
 * quantile edges), plus count, sum, sum of squares, min and max, and per bin the sum of its values.
 * k edges make k + 1 bins: (-inf, e0], (e0, e1], ..., (e_{k-1}, +inf) — the same convention as
 * NumericBaseline. Counts are exact integers; sums are floats (merge order can change their last bits only).
 *
 * Why per-bin sums (format 2): with them the integral of the empirical CDF over every bin is exact
 * (∫_a^b F = b·F(b) - a·F(a) - Σ_{a<x≤b} x / n), so Wasserstein-1 is exact up to the bins where the two
 * CDFs cross (core/drift/metrics.ts); counts alone make it depend on how values sit inside the bins.
 * Format 1 (counts only) is still read: its per-bin sums are unknown (`binSums: null`) and the metrics
 * fall back to the uniform-within-bin model. Redis writes a bin's sum whenever it writes its count (even a
 * zero sum), so a hash whose counted bins lack sums was written by format 1 and reads as `binSums: null`.
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
  readFloats,
  readOptionalFloat,
  sketchFormatError,
} from './codec.js';
import { BIN_PAIR_RECORD_BYTES, type RedisHashSketch, type SketchIncrements } from './types.js';

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
  /** Per bin, the sum of the values counted in it; null when unknown (read from format 1). */
  binSums: number[] | null;
}

/** Redis hash field names (short: one hash per window x segment x feature). */
const FIELD = { count: 'n', invalid: 'inv', sum: 'sum', sumSquares: 'sq', min: 'min', max: 'max', binPrefix: 'b', binSumPrefix: 's' } as const;

/** Format versions `deserialize` reads: 1 (no per-bin sums) and the current one. */
const READABLE_VERSIONS = [1, 2] as const;

export class BinnedHistogramSketch implements RedisHashSketch<HistogramState, number> {
  readonly kind = 'binned-histogram';
  readonly formatVersion = 2;
  readonly edges: readonly number[];
  /** Hash field names per bin, built once: the increments of a batch name only the bins it touched. */
  private readonly countFields: readonly string[];
  private readonly sumFields: readonly string[];
  private readonly knownFields: ReadonlySet<string>;

  constructor(edges: readonly number[]) {
    for (let i = 0; i < edges.length; i++) {
      if (!Number.isFinite(edges[i])) throw sketchFormatError('histogram edges must be finite numbers', { index: i });
      if (i > 0 && !(edges[i]! > edges[i - 1]!)) throw sketchFormatError('histogram edges must be strictly ascending', { index: i });
    }
    // Packed bin records (toPackedIncrements) name a bin with 16 bits.
    if (edges.length >= 65_536) throw sketchFormatError('a histogram has at most 65,536 bins', { edges: edges.length });
    this.edges = [...edges];
    this.countFields = Array.from({ length: edges.length + 1 }, (_, i) => `${FIELD.binPrefix}${i}`);
    this.sumFields = Array.from({ length: edges.length + 1 }, (_, i) => `${FIELD.binSumPrefix}${i}`);
    this.knownFields = new Set<string>([FIELD.count, FIELD.invalid, FIELD.sum, FIELD.sumSquares, FIELD.min, FIELD.max, ...this.countFields, ...this.sumFields]);
  }

  get binCount(): number {
    return this.edges.length + 1;
  }

  zero(): HistogramState {
    const bins = this.binCount;
    return { counts: new Array<number>(bins).fill(0), count: 0, sum: 0, sumSquares: 0, min: Infinity, max: -Infinity, invalid: 0, binSums: new Array<number>(bins).fill(0) };
  }

  /** Index of the bin holding `value`: the number of edges strictly below it (binary search). */
  binOf(value: number): number {
    let lo = 0;
    let hi = this.edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.edges[mid]! < value) lo = mid + 1; // lo <= mid < hi <= edges.length
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
    const bin = this.binOf(value);
    state.counts[bin]!++;
    if (state.binSums) state.binSums[bin]! += value;
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
      counts: a.counts.map((count, i) => count + b.counts[i]!),
      count: a.count + b.count,
      sum: a.sum + b.sum,
      sumSquares: a.sumSquares + b.sumSquares,
      min: Math.min(a.min, b.min),
      max: Math.max(a.max, b.max),
      invalid: a.invalid + b.invalid,
      // Unknown per-bin sums on either side leave them unknown: a partial sum would look exact.
      binSums: a.binSums && b.binSums ? a.binSums.map((total, i) => total + b.binSums![i]!) : null,
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
      binSums: state.binSums,
    });
  }

  deserialize(text: string): HistogramState {
    const { version, state: raw } = decodeEnvelope(text, this.kind, READABLE_VERSIONS);
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
      binSums: version === 1 || raw.binSums === null ? null : readFloats(raw, 'binSums', this.binCount, this.kind),
    };
    this.checkConsistent(state);
    return state;
  }

  toIncrements(state: HistogramState): SketchIncrements {
    const out = this.scalarIncrements(state);
    const { counts, binSums } = state;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      out.ints[this.countFields[i]!] = counts[i]!;
      // Written even when 0: a counted bin without its sum field marks a format-1 hash (see fromHash).
      out.floats[this.sumFields[i]!] = binSums![i]!;
    }
    return out;
  }

  /**
   * The same increments as toIncrements, with the touched bins as binary records (`binPairs`) instead of
   * one count and one sum field each: what the aggregator sends to Redis for every batch.
   */
  toPackedIncrements(state: HistogramState): SketchIncrements {
    const out = this.scalarIncrements(state);
    if (state.count === 0) return out;
    const { counts, binSums } = state;
    let touched = 0;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) touched++;
    const records = Buffer.allocUnsafe(touched * BIN_PAIR_RECORD_BYTES);
    let at = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      records.writeUInt16LE(i, at);
      records.writeDoubleLE(counts[i]!, at + 2);
      // Written even when 0, like toIncrements: a counted bin without its sum field marks a format-1 hash.
      records.writeDoubleLE(binSums![i]!, at + 10);
      at += BIN_PAIR_RECORD_BYTES;
    }
    out.binPairs = { countPrefix: FIELD.binPrefix, sumPrefix: FIELD.binSumPrefix, binCount: counts.length, records };
    return out;
  }

  /** Everything but the bins (both forms of the increments share it); checks the state can be added. */
  private scalarIncrements(state: HistogramState): SketchIncrements {
    this.checkShape(state);
    if (state.count > 0 && !state.binSums) throw sketchFormatError(`${this.kind}: a state without per-bin sums cannot be added to a format-2 hash`);
    const out = emptyIncrements();
    putNonZero(out.ints, FIELD.count, state.count);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    putNonZero(out.floats, FIELD.sum, state.sum);
    putNonZero(out.floats, FIELD.sumSquares, state.sumSquares);
    if (state.count > 0) {
      out.mins[FIELD.min] = state.min;
      out.maxes[FIELD.max] = state.max;
    }
    return out;
  }

  fromHash(hash: Record<string, string>): HistogramState {
    const unknown = Object.keys(hash).filter((field) => !this.knownFields.has(field));
    if (unknown.length > 0) throw sketchFormatError(`${this.kind}: hash has fields outside its ${this.binCount} bins`, { fields: unknown.slice(0, 10) });
    const state: HistogramState = {
      counts: this.countFields.map((field) => hashInteger(hash, field, this.kind)),
      count: hashInteger(hash, FIELD.count, this.kind),
      sum: hashFloat(hash, FIELD.sum, this.kind, 0),
      sumSquares: hashFloat(hash, FIELD.sumSquares, this.kind, 0),
      min: hashFloat(hash, FIELD.min, this.kind, Infinity),
      max: hashFloat(hash, FIELD.max, this.kind, -Infinity),
      invalid: hashInteger(hash, FIELD.invalid, this.kind),
      binSums: null,
    };
    const legacy = state.counts.some((count, i) => count > 0 && hash[this.sumFields[i]!] === undefined);
    if (!legacy) state.binSums = this.sumFields.map((field) => hashFloat(hash, field, this.kind, 0));
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
    if (state.counts.length !== this.binCount || (state.binSums !== null && state.binSums.length !== this.binCount)) {
      throw sketchFormatError(`${this.kind}: state has ${state.counts.length} bins, sketch has ${this.binCount}`);
    }
  }

  /** Bin counts must add up to the count: a torn write or a foreign hash shows up here. */
  private checkConsistent(state: HistogramState): void {
    const binned = state.counts.reduce((a, b) => a + b, 0);
    if (binned !== state.count) throw sketchFormatError(`${this.kind}: bin counts add up to ${binned}, count is ${state.count}`);
  }
}
