/**
 * The text-anomaly scoring pass (textFeatures) against the features recorded by the code before the
 * model-speed change (commit 2d7cb0d; per-character tests as table lookups since): every value bit for bit.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TEXT_FEATURES_GOLDEN, textFeatureRows } from './text-features-golden.js';

describe('text-anomaly features against the recorded golden', () => {
  it('gives exactly the recorded features for 500 held-out sample reviews and hand-made texts', () => {
    const golden = JSON.parse(gunzipSync(readFileSync(TEXT_FEATURES_GOLDEN)).toString('utf8')) as { recordedBy: string; rows: Array<{ text: string; features: number[] }> };
    const rows = textFeatureRows();
    expect(rows.length).toBe(golden.rows.length);
    for (const [i, row] of rows.entries()) expect(row, `text ${i}`).toEqual(golden.rows[i]);
  });
});
