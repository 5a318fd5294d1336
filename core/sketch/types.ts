/**
 * The sketch family's one small interface (River-style): every sketch can start empty, take values,
 * merge with another of its kind (associative, commutative: the sketch of a stream equals the merge of
 * the sketches of its parts) and serialize with a format version. Bad values are counted, not thrown.
 */
export interface Sketch<State, Value> {
  readonly kind: string;
  readonly formatVersion: number;
  zero(): State;
  /** Adds one value in place and returns the state; invalid values (NaN, wrong type) go to `invalid`. */
  add(state: State, value: Value): State;
  merge(a: State, b: State): State;
  serialize(state: State): string;
  /** Throws on an unknown format version. */
  deserialize(text: string): State;
}

/**
 * A sketch state as flat Redis hash increments, so many writers can add to one hash per
 * (window, segment, feature) without read-modify-write: counts are exact integers (HINCRBY), sums are
 * floats (HINCRBYFLOAT), and min/max need a compare-and-set (see REDIS_APPLY_INCREMENTS_LUA).
 * Zero increments are left out, so an empty state gives empty maps.
 */
export interface SketchIncrements {
  ints: Record<string, number>;
  floats: Record<string, number>;
  mins: Record<string, number>;
  maxes: Record<string, number>;
  /** Many (count, sum) field pairs in binary (a fine histogram's touched bins): see BinPairs. */
  binPairs?: BinPairs;
}

/**
 * A histogram's touched bins in binary. In Redis the bins live in one hash field, `binBlobField(...)`, as
 * `binCount` dense little-endian float64 pairs (count, sum); the apply adds `records` to it inside Lua.
 * A record is BIN_PAIR_RECORD_BYTES bytes: uint16 bin, float64 count, float64 sum. Why binary: a batch of
 * fine histograms touches hundreds of thousands of bins; as decimal fields (one HINCRBY and one HINCRBYFLOAT
 * each) their encoding cost the aggregator more CPU than counting them, and Redis 60 µs per event
 * (docs/benchmarks.md). A float64 holds every count exactly (below 2^53) and every sum bit for bit.
 */
export interface BinPairs {
  countPrefix: string;
  sumPrefix: string;
  binCount: number;
  records: Buffer;
}

export const BIN_PAIR_RECORD_BYTES = 18;
/** Bytes of one bin in the dense field: float64 count, float64 sum. */
export const DENSE_BIN_BYTES = 16;

/** A sketch whose state can live in one Redis hash: `toIncrements` adds a state, `fromHash` reads the sum back. */
export interface RedisHashSketch<State, Value> extends Sketch<State, Value> {
  toIncrements(state: State): SketchIncrements;
  /** Reads an HGETALL answer; an empty hash is the zero state. Throws SKETCH_FORMAT on fields that do not fit. */
  fromHash(hash: Record<string, string>): State;
}
