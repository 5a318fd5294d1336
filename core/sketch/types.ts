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
