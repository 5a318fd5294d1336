/**
 * Schema evolution of ScoredReview: v2 adds has_replacement_char (boolean, default false), v3 embedding
 * (nullable array of float, default null). Events a v1
 * scorer wrote (still on the topic during an upgrade) must stay readable by the current reader, and a
 * reader that only knows v1 can resolve v2 events once it accepts the v2 writer schema.
 */
import { describe, expect, it } from 'vitest';
import { AvroCodec, codecFor, loadReleases, loadSchema } from '../../core/avro.js';
import type { ScoredReview } from '../../schemas/types.js';
import { SAMPLES } from './samples.js';

type ScoredReviewV1 = Omit<ScoredReview, 'has_replacement_char' | 'title' | 'text' | 'embedding' | 'feature_values'>;
type ScoredReviewV2 = Omit<ScoredReview, 'title' | 'text' | 'embedding' | 'feature_values'>;
type ScoredReviewV3 = Omit<ScoredReview, 'embedding' | 'feature_values'>;
type ScoredReviewV4 = Omit<ScoredReview, 'feature_values'>;

describe('ScoredReview v1 → v2 (has_replacement_char)', () => {
  const v1 = loadReleases('ScoredReview').find((release) => release.version === 1)?.schema;
  const { has_replacement_char: _flag, title: _title, text: _text, embedding: _embedding, feature_values: _values, ...v1Sample } = SAMPLES.ScoredReview;

  it('keeps v1 in schemas/releases/ScoredReview.jsonl, differing from v2 only by the new field with its default', () => {
    expect(v1).toBeDefined();
    const current = loadSchema('ScoredReview');
    const v1Fields = (v1 as typeof current).fields.map((f) => f.name);
    expect(current.fields.map((f) => f.name)).toEqual([...v1Fields, 'has_replacement_char', 'title', 'text', 'embedding', 'feature_values']);
    expect(current.fields.find((f) => f.name === 'has_replacement_char')).toMatchObject({ type: 'boolean', default: false });
  });

  it('the current reader decodes an event a v1 writer produced, the flag false', () => {
    const bytes = new AvroCodec<ScoredReviewV1>(v1!).encode(v1Sample);
    expect(codecFor('ScoredReview').decode(bytes)).toEqual({ ...v1Sample, has_replacement_char: false, title: null, text: null, embedding: null, feature_values: null });
  });

  it('a v1 reader that accepts the v2 writer schema reads v2 events (the new field is skipped)', () => {
    const v1Reader = new AvroCodec<ScoredReviewV1>(v1!).acceptWriterSchema(loadSchema('ScoredReview'));
    expect(v1Reader.decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview))).toEqual(v1Sample);
  });
});

/** ScoredReview v3 adds the review's title and text (nullable, default null) for the aggregator's recent-sample store. */
describe('ScoredReview v2 → v3 (title, text)', () => {
  const v2 = loadReleases('ScoredReview').find((release) => release.version === 2)?.schema;
  const { title: _title, text: _text, embedding: _embedding, feature_values: _values, ...v2Sample } = SAMPLES.ScoredReview;

  it('the current reader decodes a v2 event, title and text null', () => {
    const bytes = new AvroCodec<ScoredReviewV2>(v2!).encode(v2Sample);
    expect(codecFor('ScoredReview').decode(bytes)).toEqual({ ...v2Sample, title: null, text: null, embedding: null, feature_values: null });
  });

  it('a v2 reader that accepts the v3 writer schema reads v3 events (title and text skipped)', () => {
    const v2Reader = new AvroCodec<ScoredReviewV2>(v2!).acceptWriterSchema(loadSchema('ScoredReview'));
    expect(v2Reader.decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview))).toEqual(v2Sample);
  });
});

/** ScoredReview v4 adds the model's pooled representation (nullable array of float, default null) for embedding drift. */
describe('ScoredReview v3 → v4 (embedding)', () => {
  const v3 = loadReleases('ScoredReview').find((release) => release.version === 3)?.schema;
  const { embedding: _embedding, feature_values: _values, ...v3Sample } = SAMPLES.ScoredReview;

  it('differs from v3 only by the new nullable field, default null', () => {
    const v4 = loadReleases('ScoredReview').find((release) => release.version === 4)!.schema as ReturnType<typeof loadSchema>;
    expect(v4.fields.map((f) => f.name)).toEqual([...(v3 as typeof v4).fields.map((f) => f.name), 'embedding']);
    expect(v4.fields.at(-1)).toMatchObject({ type: ['null', { type: 'array', items: 'float' }], default: null });
  });

  it('the current reader decodes a v3 event (a scorer before the upgrade) with embedding null, and keeps the vector of a v4 one', () => {
    const bytes = new AvroCodec<ScoredReviewV3>(v3!).encode(v3Sample);
    expect(codecFor('ScoredReview').decode(bytes)).toEqual({ ...v3Sample, embedding: null, feature_values: null });
    expect(codecFor('ScoredReview').decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview)).embedding).toEqual(SAMPLES.ScoredReview.embedding);
  });

  it('a v3 reader that accepts the v4 writer schema reads v4 events (the vector is skipped)', () => {
    const v3Reader = new AvroCodec<ScoredReviewV3>(v3!).acceptWriterSchema(loadSchema('ScoredReview'));
    expect(v3Reader.decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview))).toEqual(v3Sample);
  });
});

/**
 * ScoredReview v5 adds feature_values (nullable array of double, default null): the features' values in
 * NUMERIC_FEATURES order, which the scorer writes instead of the map (150 bytes of keys per event).
 */
describe('ScoredReview v4 → v5 (feature_values)', () => {
  const v4 = loadReleases('ScoredReview').find((release) => release.version === 4)?.schema;
  const { feature_values: _values, ...v4Sample } = SAMPLES.ScoredReview;

  it('differs from v4 only by the new nullable field, default null', () => {
    const current = loadSchema('ScoredReview');
    expect(current.fields.map((f) => f.name)).toEqual([...(v4 as typeof current).fields.map((f) => f.name), 'feature_values']);
    expect(current.fields.at(-1)).toMatchObject({ type: ['null', { type: 'array', items: 'double' }], default: null });
  });

  it('the current reader decodes a v4 event (a scorer before the upgrade) with its map and feature_values null, and keeps the values of a v5 one', () => {
    const bytes = new AvroCodec<ScoredReviewV4>(v4!).encode(v4Sample);
    expect(codecFor('ScoredReview').decode(bytes)).toEqual({ ...v4Sample, feature_values: null });
    expect(codecFor('ScoredReview').decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview)).feature_values).toEqual(SAMPLES.ScoredReview.feature_values);
  });

  it('a v4 reader that accepts the v5 writer schema reads v5 events (the values are skipped, the map as written)', () => {
    const v4Reader = new AvroCodec<ScoredReviewV4>(v4!).acceptWriterSchema(loadSchema('ScoredReview'));
    expect(v4Reader.decode(codecFor('ScoredReview').encode(SAMPLES.ScoredReview))).toEqual(v4Sample);
  });
});

/**
 * DriftAlert v2: state changes (green is a recovery) with previous_status, feature, metric,
 * episode_start_ms and dedupe_key, all optional with a null default, so alert consumers of either
 * version keep reading during an upgrade.
 */
describe('DriftAlert v1 → v2 (state changes)', () => {
  const v1 = loadReleases('DriftAlert').find((release) => release.version === 1)?.schema;
  const V2_FIELDS = ['previous_status', 'feature', 'metric', 'episode_start_ms', 'dedupe_key'] as const;
  const v1Sample = Object.fromEntries(Object.entries(SAMPLES.DriftAlert).filter(([field]) => !(V2_FIELDS as readonly string[]).includes(field)));

  it('the current reader decodes a v1 alert, the v2 fields null', () => {
    const bytes = new AvroCodec<Record<string, unknown>>(v1!).encode(v1Sample);
    expect(codecFor('DriftAlert').decode(bytes)).toEqual({ ...v1Sample, previous_status: null, feature: null, metric: null, episode_start_ms: null, dedupe_key: null });
  });

  it('a v1 reader that accepts the v2 writer schema reads a v2 recovery alert (the new fields skipped)', () => {
    const recovery = { ...SAMPLES.DriftAlert, previous_status: 'red' as const, status: 'green' as const };
    const v1Reader = new AvroCodec<Record<string, unknown>>(v1!).acceptWriterSchema(loadSchema('DriftAlert'));
    expect(v1Reader.decode(codecFor('DriftAlert').encode(recovery))).toEqual({ ...v1Sample, status: 'green' });
  });
});
