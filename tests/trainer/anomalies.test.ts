import { describe, expect, it } from 'vitest';
import { FOREIGN_SENTENCES, INJECTED_KINDS, buildInjectedSet } from '../../trainer/anomalies.js';
import { syntheticReviews } from './fixtures.js';

const real = syntheticReviews(200, 3);

describe('injected anomalies', () => {
  it('are seeded: the same seed gives the same set, another seed another', () => {
    const a = buildInjectedSet(real, { perKind: 20, seed: 11 });
    expect(buildInjectedSet(real, { perKind: 20, seed: 11 })).toEqual(a);
    const other = buildInjectedSet(real, { perKind: 20, seed: 12 });
    expect(other.map((x) => x.text)).not.toEqual(a.map((x) => x.text));
  });

  it('hold perKind anomalies of each of the six kinds, with unique ids, no title and varied texts', () => {
    const set = buildInjectedSet(real, { perKind: 30, seed: 1 });
    expect(INJECTED_KINDS).toEqual(['gibberish', 'code', 'spam', 'foreign', 'repeated', 'symbols']);
    for (const kind of INJECTED_KINDS) {
      const texts = set.filter((x) => x.kind === kind).map((x) => x.text);
      expect(texts).toHaveLength(30);
      expect(new Set(texts).size).toBeGreaterThan(20);
      expect(texts.every((t) => t.length > 0)).toBe(true);
    }
    expect(new Set(set.map((x) => x.review_id)).size).toBe(set.length);
    expect(set.every((x) => x.title === null && real.some((r) => r.rating === x.rating))).toBe(true);
  });

  it('look like their kind', () => {
    const set = buildInjectedSet(real, { perKind: 40, seed: 2 });
    const of = (kind: string) => set.filter((x) => x.kind === kind).map((x) => x.text);
    expect(of('spam').every((t) => /https?:\/\/|www\.|\d{3}/.test(t))).toBe(true);
    expect(of('code').every((t) => /[{}<>();=]/.test(t))).toBe(true);
    expect(of('symbols').every((t) => (t.match(/[\p{L}\p{N}]/gu) ?? []).length < t.length / 2)).toBe(true);
    // Sentences of one language only (eleven languages, written in the generator).
    const languages = Object.values(FOREIGN_SENTENCES);
    expect(languages.length).toBeGreaterThanOrEqual(10);
    for (const t of of('foreign')) expect(languages.some((sentences) => t.split(/(?<=[.!?。])\s*/u).filter(Boolean).every((s) => sentences.includes(s)))).toBe(true);
    for (const t of of('repeated')) {
      const words = t.toLowerCase().match(/[a-z+]+/g) ?? [];
      expect(new Set(words).size).toBeLessThanOrEqual(3);
      expect(words.length).toBeGreaterThanOrEqual(6);
    }
  });
});
