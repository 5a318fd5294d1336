import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroCodec, SINGLE_OBJECT_MAGIC, codecFor, loadSchema, rabinFingerprint64, schemaFingerprint } from '../../core/avro.js';
import { DriftlineError, type ErrorCode } from '../../core/errors.js';
import { SCHEMA_NAMES, type ReviewEvent } from '../../schemas/types.js';
import { NULL_SAMPLES, SAMPLES } from '../schemas/samples.js';

/**
 * Apache Avro's published CRC-64-AVRO vectors (share/test/data/schema-tests.txt): the Parsing Canonical
 * Form and the fingerprint as Java's SchemaNormalization prints it (a signed 64-bit long).
 */
const SPEC_VECTORS: Array<{ input: string; canonical: string; fingerprint: bigint }> = [
  { input: '"null"', canonical: '"null"', fingerprint: 7195948357588979594n },
  { input: '{"type":"int"}', canonical: '"int"', fingerprint: 8247732601305521295n },
  { input: '"string"', canonical: '"string"', fingerprint: -8142146995180207161n },
  { input: '[ "int" , {"type":"boolean"} ]', canonical: '["int","boolean"]', fingerprint: 5392556393470105090n },
  { input: '{"fields":[], "type":"record", "name":"foo"}', canonical: '{"name":"foo","type":"record","fields":[]}', fingerprint: -4824392279771201922n },
  { input: '{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}', canonical: '{"name":"foo","type":"record","fields":[]}', fingerprint: -4824392279771201922n },
  { input: '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', canonical: '{"name":"x.y.foo","type":"record","fields":[]}', fingerprint: 5916914534497305771n },
  {
    input: '{"type":"record","name":"foo","fields":[{"name":"f1","type":"boolean"}]}',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    fingerprint: 7843277075252814651n,
  },
  { input: '{"name":"foo","type":"enum","symbols":["A1"]}', canonical: '{"name":"foo","type":"enum","symbols":["A1"]}', fingerprint: -6342190197741309591n },
  { input: '{"name":"foo","type":"fixed","size":15}', canonical: '{"name":"foo","type":"fixed","size":15}', fingerprint: 1756455273707447556n },
];

function expectDriftlineError(run: () => unknown, code: ErrorCode): DriftlineError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DriftlineError);
  expect((caught as DriftlineError).code).toBe(code);
  return caught as DriftlineError;
}

describe('CRC-64-AVRO fingerprint', () => {
  it.each(SPEC_VECTORS)('Rabin fingerprint of $canonical is $fingerprint', ({ canonical, fingerprint }) => {
    expect(BigInt.asIntN(64, rabinFingerprint64(Buffer.from(canonical, 'utf8')))).toBe(fingerprint);
  });

  it.each(SPEC_VECTORS)('avsc: JSON of type.schema() for $input is the Parsing Canonical Form', ({ input, canonical }) => {
    expect(JSON.stringify(avro.Type.forSchema(JSON.parse(input) as avro.Schema).schema())).toBe(canonical);
  });

  // The codec fingerprints the canonical form, not the name: two versions of a record must differ.
  it.each(SPEC_VECTORS)('schemaFingerprint of $input is the published fingerprint (little-endian on the wire)', ({ input, fingerprint }) => {
    expect(schemaFingerprint(avro.Type.forSchema(JSON.parse(input) as avro.Schema)).readBigInt64LE()).toBe(fingerprint);
  });
});

describe('single-object round trip of every schema', () => {
  it.each(SCHEMA_NAMES)('%s: sample with values and with nulls decodes to an equal value', (name) => {
    const codec = codecFor(name);
    for (const value of [SAMPLES[name], NULL_SAMPLES[name]]) {
      const bytes = codec.encode(value as never);
      expect(bytes.subarray(0, 2).equals(SINGLE_OBJECT_MAGIC)).toBe(true);
      expect(bytes.subarray(2, 10).equals(codec.fingerprint)).toBe(true);
      expect(codec.decode(bytes)).toEqual(value);
    }
  });

  it('decodes from a Uint8Array view at a non-zero offset', () => {
    const bytes = codecFor('ReviewEvent').encode(SAMPLES.ReviewEvent);
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 7);
    expect(codecFor('ReviewEvent').decode(padded.subarray(7))).toEqual(SAMPLES.ReviewEvent);
  });

  it('refuses a value that does not fit with AVRO_ENCODE_FAILED naming the field', () => {
    const error = expectDriftlineError(() => codecFor('ReviewEvent').encode({ ...SAMPLES.ReviewEvent, rating: 'five' } as unknown as ReviewEvent), 'AVRO_ENCODE_FAILED');
    expect(error.field).toBe('rating');
  });
});

describe('schema evolution via acceptWriterSchema', () => {
  const v1 = loadSchema('ReviewEvent');
  const v2 = { ...v1, fields: [...v1.fields, { name: 'language', type: ['null', 'string'], default: null }] } as avro.schema.RecordType;
  type ReviewEventV2 = ReviewEvent & { language: string | null };

  it('a v2 reader reads v1 messages, filling the new field with its default', () => {
    const bytes = new AvroCodec<ReviewEvent>(v1).encode(SAMPLES.ReviewEvent);
    const reader = new AvroCodec<ReviewEventV2>(v2).acceptWriterSchema(v1);
    expect(reader.decode(bytes)).toEqual({ ...SAMPLES.ReviewEvent, language: null });
  });

  it('a v1 reader reads v2 messages, dropping the field it does not know', () => {
    const bytes = new AvroCodec<ReviewEventV2>(v2).encode({ ...SAMPLES.ReviewEvent, language: 'en' });
    const reader = new AvroCodec<ReviewEvent>(v1).acceptWriterSchema(v2);
    expect(reader.decode(bytes)).toEqual(SAMPLES.ReviewEvent);
  });

  it('without acceptWriterSchema the other version is AVRO_UNKNOWN_SCHEMA with the fingerprint', () => {
    const writer = new AvroCodec<ReviewEventV2>(v2);
    const bytes = writer.encode({ ...SAMPLES.ReviewEvent, language: 'en' });
    const error = expectDriftlineError(() => new AvroCodec<ReviewEvent>(v1).decode(bytes), 'AVRO_UNKNOWN_SCHEMA');
    expect(error.details).toEqual({ fingerprint: writer.fingerprint.toString('hex') });
  });

  it('the two versions have different fingerprints', () => {
    expect(new AvroCodec(v1).fingerprint.equals(new AvroCodec(v2).fingerprint)).toBe(false);
  });
});

describe('bad bytes are typed errors, never crashes', () => {
  const codec = codecFor('ReviewEvent');
  const good = codec.encode(SAMPLES.ReviewEvent);

  it.each([
    ['null', null],
    ['empty', Buffer.alloc(0)],
    ['shorter than the header', good.subarray(0, 9)],
    ['wrong first magic byte', Buffer.concat([Buffer.from([0xc4, 0x01]), good.subarray(2)])],
    ['wrong second magic byte', Buffer.concat([Buffer.from([0xc3, 0x02]), good.subarray(2)])],
    ['plain JSON', Buffer.from(JSON.stringify(SAMPLES.ReviewEvent))],
  ])('%s → AVRO_BAD_HEADER', (_name, bytes) => {
    expectDriftlineError(() => codec.decode(bytes), 'AVRO_BAD_HEADER');
  });

  it('an unknown fingerprint → AVRO_UNKNOWN_SCHEMA', () => {
    const other = Buffer.from(good);
    other[5] = (other[5]! + 1) % 256;
    expectDriftlineError(() => codec.decode(other), 'AVRO_UNKNOWN_SCHEMA');
  });

  it('another schema’s message → AVRO_UNKNOWN_SCHEMA', () => {
    expectDriftlineError(() => codec.decode(codecFor('DeadLetter').encode(SAMPLES.DeadLetter)), 'AVRO_UNKNOWN_SCHEMA');
  });

  it('every truncation of the body → AVRO_DECODE_FAILED', () => {
    for (let end = 10; end < good.length; end++) expectDriftlineError(() => codec.decode(good.subarray(0, end)), 'AVRO_DECODE_FAILED');
  });

  it('trailing garbage → AVRO_DECODE_FAILED', () => {
    expectDriftlineError(() => codec.decode(Buffer.concat([good, Buffer.from([1, 2, 3])])), 'AVRO_DECODE_FAILED');
  });

  it('random corruption of the body decodes or fails with a DriftlineError, nothing else', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const codes = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const bytes = Buffer.from(good);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) bytes[10 + Math.floor(random() * (bytes.length - 10))] = Math.floor(random() * 256);
      try {
        codec.decode(bytes);
        codes.add('decoded');
      } catch (err) {
        expect(err).toBeInstanceOf(DriftlineError);
        codes.add((err as DriftlineError).code);
      }
    }
    expect([...codes].every((c) => c === 'decoded' || c === 'AVRO_DECODE_FAILED')).toBe(true);
    expect(codes.has('AVRO_DECODE_FAILED')).toBe(true);
  });
});

describe('encodeInto (values packed back to back in one buffer)', () => {
  it('writes exactly the bytes of encode at the given position, and -1 when they do not fit', () => {
    const codec = codecFor('ScoredReview');
    const expected = codec.encode(SAMPLES.ScoredReview);
    const target = Buffer.alloc(expected.length + 20, 0xee);
    expect(codec.encodeInto(SAMPLES.ScoredReview, target, 7)).toBe(7 + expected.length);
    expect(target.subarray(7, 7 + expected.length)).toEqual(expected);
    expect(target[6]).toBe(0xee);
    expect(codec.encodeInto(SAMPLES.ScoredReview, target, 21)).toBe(-1);
    expect(codec.encodeInto(SAMPLES.ScoredReview, Buffer.alloc(5), 0)).toBe(-1);
  });

  it('throws AVRO_ENCODE_FAILED naming the field, like encode', () => {
    const codec = codecFor('ScoredReview');
    const bad = { ...SAMPLES.ScoredReview, feature_values: [1, 'x' as unknown as number] };
    expect(() => codec.encodeInto(bad, Buffer.alloc(4_096), 0)).toThrow(DriftlineError);
    expect(() => codec.encodeInto(bad, Buffer.alloc(4_096), 0)).toThrow(/feature_values/);
  });
});
