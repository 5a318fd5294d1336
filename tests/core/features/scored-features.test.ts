import { describe, expect, it } from 'vitest';
import { codecFor } from '../../../core/avro.js';
import { monitoredValues } from '../../../core/drift/baseline.js';
import { NUMERIC_FEATURES, createFeaturizerConfig, featureMap, featurizeBatch } from '../../../core/features/featurizer.js';
import { compactFeatureValues, scoredFeatureEntries } from '../../../core/features/scored-features.js';
import { SAMPLES } from '../../schemas/samples.js';
import { syntheticReviews } from '../../trainer/fixtures.js';

const config = createFeaturizerConfig({ buckets: 1 << 12, maxTokens: 64 });

describe('ScoredReview features, compact (v5) and as a map (v1-v4)', () => {
  const batch = featurizeBatch(syntheticReviews(20), config);
  const maps = Array.from({ length: batch.size }, (_, row) => featureMap(batch, row));

  it('packs the featurizer map into NUMERIC_FEATURES order, and leaves any other map as it is (null)', () => {
    const values = compactFeatureValues(maps[3]!);
    expect(values).toEqual(NUMERIC_FEATURES.map((name) => maps[3]![name]));
    expect(compactFeatureValues({ text_chars: 12 })).toBeNull();
    expect(compactFeatureValues({ ...maps[3]!, extra: 1 })).toBeNull();
  });

  it('a v5 event and the same event with the map give the drift aggregator the same monitored values, bit for bit, through Avro', () => {
    const codec = codecFor('ScoredReview');
    for (const map of maps) {
      const withMap = codec.decode(codec.encode({ ...SAMPLES.ScoredReview, features: map, feature_values: null }));
      const compact = codec.decode(codec.encode({ ...SAMPLES.ScoredReview, features: {}, feature_values: compactFeatureValues(map) }));
      expect(monitoredValues(compact)).toEqual(monitoredValues(withMap));
      expect(Object.keys(monitoredValues(compact).numeric).filter((name) => name.startsWith('feature.'))).toHaveLength(NUMERIC_FEATURES.length);
    }
  });

  it('is about 150 bytes smaller per event than the map', () => {
    const codec = codecFor('ScoredReview');
    const withMap = codec.encode({ ...SAMPLES.ScoredReview, features: maps[0]!, feature_values: null }).length;
    const compact = codec.encode({ ...SAMPLES.ScoredReview, features: {}, feature_values: compactFeatureValues(maps[0]!) }).length;
    expect(withMap - compact).toBeGreaterThan(140);
  });

  it('names only the values a reader knows (a later featurizer appends names), and keeps map entries either way', () => {
    const values = [...NUMERIC_FEATURES.map((_, i) => i), 99];
    expect(scoredFeatureEntries({ features: {}, feature_values: values })).toEqual(NUMERIC_FEATURES.map((name, i) => [name, i]));
    expect(scoredFeatureEntries({ features: { other: 2 }, feature_values: null })).toEqual([['other', 2]]);
    expect(scoredFeatureEntries({ features: { other: 2 } })).toEqual([['other', 2]]);
  });
});
