import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { repoPath } from '../../../core/paths.js';
import {
  SIGNAL_COUNT,
  TEXT_FEATURES,
  calibrateSignals,
  createTextAnomalyScratch,
  fitTextAnomalyTables,
  largestTailScore,
  textAnomalyFromArtifacts,
  textFeatures,
  textTablesBytes,
} from '../../../core/model/text-anomaly.js';

const sample = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => (JSON.parse(line) as { text: string }).text);
const training = sample.slice(0, 2500);
const unseen = sample.slice(2500);
const tables = fitTextAnomalyTables(training, { gram4Bits: 18, gram3Bits: 14, vocabBits: 18 });

function features(text: string): Record<(typeof TEXT_FEATURES)[number], number> {
  const out = new Float64Array(SIGNAL_COUNT);
  textFeatures(tables, text, createTextAnomalyScratch(), out, 0);
  return Object.fromEntries(TEXT_FEATURES.map((name, i) => [name, out[i]])) as Record<(typeof TEXT_FEATURES)[number], number>;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

describe('character n-gram language model', () => {
  it('finds unseen real reviews far less surprising than random letters, foreign scripts or code', () => {
    const real = median(unseen.map((t) => features(t).charSurprise));
    expect(real).toBeGreaterThan(1);
    expect(real).toBeLessThan(3.5);
    expect(features('qzxv bnmw plkj trrq xwvz qqjk zzpt vbnx wkqz jjxq').charSurprise).toBeGreaterThan(real + 2);
    expect(features('这个产品质量很好，物流也很快。用了三天就坏了，非常失望。').charSurprise).toBeGreaterThan(real + 4);
    expect(features('const x = data.map((y) => y * 42); if (x === null) { throw new Error(); }').charSurprise).toBeGreaterThan(real + 1);
  });

  it('gives an empty text no surprise (length is judged elsewhere) and is case-insensitive', () => {
    expect(features('').charSurprise).toBe(0);
    expect(features('GREAT PRODUCT, WORKS WELL').charSurprise).toBeCloseTo(features('great product, works well').charSurprise, 10);
  });

  it('is deterministic: the same texts give byte-identical tables', () => {
    const again = fitTextAnomalyTables(training, { gram4Bits: 18, gram3Bits: 14, vocabBits: 18 });
    expect(Buffer.from(textTablesBytes(again)).equals(Buffer.from(textTablesBytes(tables)))).toBe(true);
  });
});

describe('word and character features', () => {
  it('counts words outside the training vocabulary', () => {
    expect(features('the product works and the price is good').oovShare).toBe(0);
    expect(features('the blorptastic zunkwelder frimbled').oovShare).toBeCloseTo(0.75, 5);
  });

  it('measures repeated bigrams: a copied phrase is nearly all repeats, normal prose has few', () => {
    expect(features(Array.from({ length: 20 }, () => 'great product').join(' ')).repeatShare).toBeGreaterThan(0.9);
    expect(median(unseen.map((t) => features(t).repeatShare))).toBeLessThan(0.1);
  });

  it('measures the share of symbols among visible characters', () => {
    expect(features('!!!!!! ****** $$$$$ ★★★★★').nonLetterShare).toBe(1);
    expect(features('plain words only').nonLetterShare).toBe(0);
  });
});

describe('tail calibration and artifacts', () => {
  it('scores the largest tail z over the signals, 1 at the calibration 99th percentile', () => {
    const rows = 100;
    const raw = new Float64Array(rows * SIGNAL_COUNT);
    for (let r = 0; r < rows; r++) for (let f = 0; f < SIGNAL_COUNT; f++) raw[r * SIGNAL_COUNT + f] = r * (f + 1);
    const cal = calibrateSignals(raw, rows);
    expect(cal.median[0]).toBe(50);
    expect(cal.q99[0]).toBe(99);
    const probe = new Float64Array(SIGNAL_COUNT);
    probe.set(cal.median);
    probe[2] = cal.q99[2]!;
    expect(largestTailScore(cal, probe, 0)).toBeCloseTo(1, 10);
  });

  it('round-trips through its binary, and refuses a binary of the wrong size with MODEL_LOAD_FAILED', () => {
    const json = { gram4Bits: 18, gram3Bits: 14, vocabBits: 18, median: new Array(SIGNAL_COUNT).fill(0), q99: new Array(SIGNAL_COUNT).fill(1) };
    const bytes = textTablesBytes(tables);
    const loaded = textAnomalyFromArtifacts(json, bytes, 'x');
    const out = new Float64Array(SIGNAL_COUNT);
    textFeatures(loaded, unseen[0]!, createTextAnomalyScratch(), out, 0);
    expect(out[0]).toBe(features(unseen[0]!).charSurprise);
    const refused = (() => {
      try {
        textAnomalyFromArtifacts(json, bytes.subarray(1), 'x');
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(refused).toBeInstanceOf(DriftlineError);
    expect((refused as DriftlineError).code).toBe('MODEL_LOAD_FAILED');
    expect(() => textAnomalyFromArtifacts({ ...json, q99: [1] }, bytes, 'x')).toThrow(/calibration/);
  });
});
