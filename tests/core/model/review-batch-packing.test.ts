import { describe, expect, it } from 'vitest';
import { codecFor } from '../../../core/avro.js';
import { PackedValues } from '../../../core/model/review-batch.js';
import { SAMPLES } from '../../schemas/samples.js';

describe('PackedValues (the scored values of a batch, encoded in place)', () => {
  it('grows past its first size and returns every value intact, with its length, on a buffer of its own', () => {
    const codec = codecFor('ScoredReview');
    const records = Array.from({ length: 40 }, (_, i) => ({ ...SAMPLES.ScoredReview, review_id: `r-${i}`, text: 'long text '.repeat(i * 7) }));
    const packed = new PackedValues(10);
    for (const record of records) packed.append((target, at) => codec.encodeInto(record, target, at));
    const { bytes, lengths } = packed.finish();
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBeGreaterThan(1_024);
    let at = 0;
    records.forEach((record, i) => {
      const value = Buffer.from(bytes.buffer, bytes.byteOffset + at, lengths[i]!);
      expect(value).toEqual(codec.encode(record));
      at += lengths[i]!;
    });
    expect(at).toBe(bytes.length);
  });
});
