/**
 * The monitored numeric features of a ScoredReview, written compactly and read from either form.
 * Since ScoredReview v5 the scorer writes `feature_values` (the values in NUMERIC_FEATURES order) and leaves
 * the `features` map empty: the map's twelve keys cost about 150 bytes of every event, which every layer pays
 * for (Avro encoding on the scoring worker, kafkajs's record copies and CRC32C, the broker, every reader's
 * decoding). Events before v5, or from another producer, carry the map; readers take both through here.
 */
import { NUMERIC_FEATURES } from './featurizer.js';

/**
 * The values of `features` in NUMERIC_FEATURES order when the map holds exactly those names (what the
 * featurizer produces); null otherwise, and the map is then written as it is.
 */
export function compactFeatureValues(features: Readonly<Record<string, number>>): number[] | null {
  const values = new Array<number>(NUMERIC_FEATURES.length);
  let count = 0;
  for (let i = 0; i < NUMERIC_FEATURES.length; i++) {
    const value = features[NUMERIC_FEATURES[i]!];
    if (value === undefined) return null;
    values[i] = value;
  }
  for (const name in features) if (Object.hasOwn(features, name)) count += 1;
  return count === NUMERIC_FEATURES.length ? values : null;
}

/** [name, value] of every feature an event carries: its `feature_values` named by order, then its map's entries. */
export function scoredFeatureEntries(event: { features: Readonly<Record<string, number>>; feature_values?: readonly number[] | null }): Array<[string, number]> {
  const entries: Array<[string, number]> = [];
  const values = event.feature_values;
  if (values) {
    // A later featurizer only appends names; values past the names this reader knows are left out.
    const known = Math.min(values.length, NUMERIC_FEATURES.length);
    for (let i = 0; i < known; i++) entries.push([NUMERIC_FEATURES[i]!, values[i]!]);
  }
  for (const name in event.features) entries.push([name, event.features[name]!]);
  return entries;
}
