import { readFileSync } from 'node:fs';
import type { ScoredFields } from '../../core/validation.js';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../core/errors.js';
import { EARLIEST_EVENT_TIME_MS, MAX_ID_CHARS, VALIDATION_RULES, reviewIdOf, scoredReviewProblem, timeProblem, validateReview, type ValidationOptions } from '../../core/validation.js';
import { repoPath } from '../../core/paths.js';

const NOW = Date.UTC(2024, 5, 1, 12, 0, 0);
const OPTIONS: ValidationOptions = { nowMs: NOW, maxTextBytes: 1_000 };

const GOOD = {
  review_id: 'r-1',
  product_id: 'B0001',
  category: 'Books',
  rating: 4,
  title: 'Fine',
  text: 'A decent read.',
  ts: '2016-03-14T00:00:00Z',
  helpful_votes: 3,
  verified: true,
  source: 'amazon2018-5core/Books',
};

function without(field: string): Record<string, unknown> {
  const record: Record<string, unknown> = { ...GOOD };
  delete record[field];
  return record;
}

interface Case {
  name: string;
  input: unknown;
  code: ErrorCode;
  field: string;
  options?: ValidationOptions;
}

/** One case (at least) per rule of VALIDATION_RULES; the coverage test below keeps the two lists in step. */
const CASES: Case[] = [
  { name: 'array instead of object', input: [GOOD], code: 'RECORD_UNPARSEABLE', field: '(record)' },
  { name: 'null record', input: null, code: 'RECORD_UNPARSEABLE', field: '(record)' },
  { name: 'string record', input: '{"review_id":"x"}', code: 'RECORD_UNPARSEABLE', field: '(record)' },
  { name: 'missing review_id', input: without('review_id'), code: 'FIELD_MISSING', field: 'review_id' },
  { name: 'null review_id', input: { ...GOOD, review_id: null }, code: 'FIELD_MISSING', field: 'review_id' },
  { name: 'empty review_id', input: { ...GOOD, review_id: '' }, code: 'FIELD_MISSING', field: 'review_id' },
  { name: 'blank review_id', input: { ...GOOD, review_id: '   ' }, code: 'FIELD_MISSING', field: 'review_id' },
  { name: 'numeric review_id', input: { ...GOOD, review_id: 17 }, code: 'FIELD_TYPE', field: 'review_id' },
  { name: 'review_id too long', input: { ...GOOD, review_id: 'x'.repeat(MAX_ID_CHARS + 1) }, code: 'FIELD_RANGE', field: 'review_id' },
  { name: 'numeric product_id', input: { ...GOOD, product_id: 42 }, code: 'FIELD_TYPE', field: 'product_id' },
  { name: 'product_id too long', input: { ...GOOD, product_id: 'p'.repeat(MAX_ID_CHARS + 1) }, code: 'FIELD_RANGE', field: 'product_id' },
  { name: 'category array', input: { ...GOOD, category: ['Books'] }, code: 'FIELD_TYPE', field: 'category' },
  // A 20 KB category must never reach a Redis key or a metric label.
  { name: 'category of 20 KB', input: { ...GOOD, category: 'c'.repeat(20_000) }, code: 'FIELD_RANGE', field: 'category' },
  { name: 'category one character over 200', input: { ...GOOD, category: 'c'.repeat(201) }, code: 'FIELD_RANGE', field: 'category' },
  { name: 'missing rating', input: without('rating'), code: 'FIELD_MISSING', field: 'rating' },
  { name: 'null rating', input: { ...GOOD, rating: null }, code: 'FIELD_MISSING', field: 'rating' },
  { name: 'rating "5" (JSON string)', input: { ...GOOD, rating: '5' }, code: 'FIELD_TYPE', field: 'rating' },
  { name: 'rating boolean', input: { ...GOOD, rating: true }, code: 'FIELD_TYPE', field: 'rating' },
  { name: 'rating 0', input: { ...GOOD, rating: 0 }, code: 'FIELD_RANGE', field: 'rating' },
  { name: 'rating 6', input: { ...GOOD, rating: 6 }, code: 'FIELD_RANGE', field: 'rating' },
  { name: 'rating 4.5', input: { ...GOOD, rating: 4.5 }, code: 'FIELD_RANGE', field: 'rating' },
  { name: 'rating NaN', input: { ...GOOD, rating: Number.NaN }, code: 'FIELD_RANGE', field: 'rating' },
  { name: 'title number', input: { ...GOOD, title: 7 }, code: 'FIELD_TYPE', field: 'title' },
  // Titles have their own bound (1,000 characters), not the text's byte limit: the real maximum is 128.
  { name: 'title over 1,000 characters', input: { ...GOOD, title: 't'.repeat(1_001) }, code: 'FIELD_RANGE', field: 'title' },
  { name: 'title over 1,000 characters with a large text limit', input: { ...GOOD, title: 't'.repeat(1_001) }, code: 'FIELD_RANGE', field: 'title', options: { ...OPTIONS, maxTextBytes: 100_000 } },
  { name: 'title with lone surrogate', input: { ...GOOD, title: 'bad \uD800 title' }, code: 'TEXT_ENCODING', field: 'title' },
  { name: 'missing text', input: without('text'), code: 'FIELD_MISSING', field: 'text' },
  { name: 'null text', input: { ...GOOD, text: null }, code: 'FIELD_MISSING', field: 'text' },
  { name: 'text object', input: { ...GOOD, text: { body: 'hi' } }, code: 'FIELD_TYPE', field: 'text' },
  { name: 'empty text', input: { ...GOOD, text: '' }, code: 'TEXT_EMPTY', field: 'text' },
  { name: 'white-space text', input: { ...GOOD, text: ' \n\t\u00a0 ' }, code: 'TEXT_EMPTY', field: 'text' },
  { name: 'text over the byte limit', input: { ...GOOD, text: 'a'.repeat(1_001) }, code: 'TEXT_TOO_LONG', field: 'text' },
  // 334 × 'é' = 334 chars but 668 bytes: under; 501 × 'é' = 1,002 bytes: over, while only 501 characters.
  { name: 'text over the limit in bytes, not characters', input: { ...GOOD, text: 'é'.repeat(501) }, code: 'TEXT_TOO_LONG', field: 'text' },
  // Bytes that were not UTF-8, as core/utf8.ts decodes them (U+DC80 + byte): a lone surrogate.
  { name: 'text with an escaped invalid UTF-8 byte', input: { ...GOOD, text: 'Broke after a week \uDCC3(' }, code: 'TEXT_ENCODING', field: 'text' },
  { name: 'text with lone high surrogate', input: { ...GOOD, text: 'oops \uD83D end' }, code: 'TEXT_ENCODING', field: 'text' },
  { name: 'text with lone low surrogate', input: { ...GOOD, text: 'oops \uDE00 end' }, code: 'TEXT_ENCODING', field: 'text' },
  { name: 'event_time_ms string', input: { ...GOOD, event_time_ms: '1458000000000' }, code: 'FIELD_TYPE', field: 'event_time_ms' },
  { name: 'event_time_ms infinite', input: { ...GOOD, event_time_ms: Number.POSITIVE_INFINITY }, code: 'FIELD_TYPE', field: 'event_time_ms' },
  { name: 'ts number', input: { ...GOOD, ts: 1458000000 }, code: 'FIELD_TYPE', field: 'ts' },
  { name: 'ts words', input: { ...GOOD, ts: 'last tuesday' }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts impossible date', input: { ...GOOD, ts: '2016-13-45T00:00:00Z' }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts bare number string', input: { ...GOOD, ts: '5' }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts in 2999', input: { ...GOOD, ts: '2999-01-01T00:00:00Z' }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts in 1970', input: { ...GOOD, ts: '1970-01-01T00:00:00Z' }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts just over the future tolerance', input: { ...GOOD, ts: new Date(NOW + 86_400_000 + 1_000).toISOString() }, code: 'TIMESTAMP_INVALID', field: 'ts' },
  { name: 'ts over a custom tolerance', input: { ...GOOD, ts: new Date(NOW + 60_000).toISOString() }, code: 'TIMESTAMP_INVALID', field: 'ts', options: { ...OPTIONS, futureToleranceMs: 1_000 } },
  { name: 'event_time_ms 0 (1970)', input: { ...GOOD, event_time_ms: 0 }, code: 'TIMESTAMP_INVALID', field: 'event_time_ms' },
  { name: 'event_time_ms in 2999', input: { ...GOOD, event_time_ms: Date.UTC(2999, 0, 1) }, code: 'TIMESTAMP_INVALID', field: 'event_time_ms' },
  { name: 'event_time_ms 9e15 (year 287,000)', input: { ...GOOD, event_time_ms: 9e15 }, code: 'TIMESTAMP_INVALID', field: 'event_time_ms' },
  { name: 'event_time_ms negative', input: { ...GOOD, event_time_ms: -1 }, code: 'TIMESTAMP_INVALID', field: 'event_time_ms' },
  { name: 'event_time_ms NaN', input: { ...GOOD, event_time_ms: Number.NaN }, code: 'FIELD_TYPE', field: 'event_time_ms' },
  // The scorer passes the producer's ingest_time_ms: a foreign producer may send anything.
  { name: 'ingest_time_ms 9e15', input: GOOD, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', options: { ...OPTIONS, ingestTimeMs: 9e15 } },
  { name: 'ingest_time_ms negative', input: GOOD, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', options: { ...OPTIONS, ingestTimeMs: -5 } },
  { name: 'ingest_time_ms NaN', input: GOOD, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', options: { ...OPTIONS, ingestTimeMs: Number.NaN } },
  { name: 'ingest_time_ms 3 years ahead', input: GOOD, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', options: { ...OPTIONS, ingestTimeMs: NOW + 3 * 365 * 86_400_000 } },
  { name: 'ingest_time_ms 1970', input: GOOD, code: 'TIMESTAMP_INVALID', field: 'ingest_time_ms', options: { ...OPTIONS, ingestTimeMs: 0 } },
  { name: 'helpful_votes string', input: { ...GOOD, helpful_votes: 'many' }, code: 'FIELD_TYPE', field: 'helpful_votes' },
  { name: 'helpful_votes negative', input: { ...GOOD, helpful_votes: -1 }, code: 'FIELD_RANGE', field: 'helpful_votes' },
  { name: 'helpful_votes fraction', input: { ...GOOD, helpful_votes: 1.5 }, code: 'FIELD_RANGE', field: 'helpful_votes' },
  { name: 'helpful_votes over Avro int', input: { ...GOOD, helpful_votes: 2 ** 31 }, code: 'FIELD_RANGE', field: 'helpful_votes' },
  { name: 'verified string', input: { ...GOOD, verified: 'yes' }, code: 'FIELD_TYPE', field: 'verified' },
  { name: 'verified number', input: { ...GOOD, verified: 1 }, code: 'FIELD_TYPE', field: 'verified' },
  { name: 'source number', input: { ...GOOD, source: 3 }, code: 'FIELD_TYPE', field: 'source' },
  { name: 'source over 200 characters', input: { ...GOOD, source: 's'.repeat(201) }, code: 'FIELD_RANGE', field: 'source' },
];

describe('validateReview: each rule fires with its code and names the field', () => {
  it.each(CASES)('$name → $code on $field', ({ input, code, field, options }) => {
    const result = validateReview(input, options ?? OPTIONS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.field).toBe(field);
    expect(result.error.message.startsWith(`${field}: `)).toBe(true);
    expect(result.error.message.length).toBeGreaterThan(field.length + 10);
    expect(result.error.retriable).toBe(false);
  });

  it('has a case for every rule in VALIDATION_RULES, and every case matches a declared rule', () => {
    const declared = new Set(VALIDATION_RULES.map((r) => `${r.code}:${r.field}`));
    const covered = new Set(CASES.map((c) => `${c.code}:${c.field}`));
    expect([...declared].filter((rule) => !covered.has(rule))).toEqual([]);
    expect([...covered].filter((rule) => !declared.has(rule))).toEqual([]);
  });
});

describe('validateReview: valid records', () => {
  it('maps every field and sets ingest_time_ms', () => {
    const result = validateReview({ ...GOOD, unknown_extra: { nested: true } }, { ...OPTIONS, ingestTimeMs: NOW - 123 });
    expect(result).toEqual({
      ok: true,
      review: {
        review_id: 'r-1',
        product_id: 'B0001',
        category: 'Books',
        rating: 4,
        title: 'Fine',
        text: 'A decent read.',
        event_time_ms: Date.UTC(2016, 2, 14),
        helpful_votes: 3,
        verified: true,
        source: 'amazon2018-5core/Books',
        ingest_time_ms: NOW - 123,
      },
    });
  });

  it('takes partial records: nullable fields absent, null or empty become null', () => {
    const result = validateReview({ review_id: 'p-1', rating: 1, text: 'Awful.', product_id: '', title: null }, OPTIONS);
    expect(result.ok && result.review).toEqual({
      review_id: 'p-1', product_id: null, category: null, rating: 1, title: null, text: 'Awful.', event_time_ms: null, helpful_votes: null, verified: null, source: null, ingest_time_ms: NOW,
    });
  });

  it('accepts event_time_ms instead of ts, and the edges of the allowed time range', () => {
    for (const ms of [EARLIEST_EVENT_TIME_MS, NOW, NOW + 86_400_000]) {
      const result = validateReview({ ...without('ts'), event_time_ms: ms }, OPTIONS);
      expect(result.ok && result.review.event_time_ms).toBe(ms);
    }
    expect(validateReview({ ...without('ts'), event_time_ms: EARLIEST_EVENT_TIME_MS - 1 }, OPTIONS).ok).toBe(false);
  });

  it('accepts ISO-8601 date-only, offsets and fractions', () => {
    for (const [ts, ms] of [
      ['2016-03-14', Date.UTC(2016, 2, 14)],
      ['2016-03-14T10:00:00+02:00', Date.UTC(2016, 2, 14, 8)],
      ['2016-03-14T10:00:00.250Z', Date.UTC(2016, 2, 14, 10, 0, 0, 250)],
    ] as const) {
      const result = validateReview({ ...GOOD, ts }, OPTIONS);
      expect(result.ok && result.review.event_time_ms).toBe(ms);
    }
  });

  it('accepts U+FFFD in text and title: it is valid Unicode an upstream decoder left behind (21 real reviews)', () => {
    const result = validateReview({ ...GOOD, title: 'Gr\uFFFDat', text: 'Broke after a week \uFFFD would not buy again' }, OPTIONS);
    expect(result.ok && result.review.text).toBe('Broke after a week \uFFFD would not buy again');
    expect(result.ok && result.review.title).toBe('Gr\uFFFDat');
  });

  it('accepts the bounds of the free-text fields exactly, and a plausible ingest time', () => {
    const atBounds = { ...GOOD, product_id: 'p'.repeat(200), category: 'c'.repeat(200), title: 't'.repeat(1_000), source: 's'.repeat(200) };
    expect(validateReview(atBounds, { ...OPTIONS, maxTextBytes: 100 }).ok).toBe(true);
    for (const ingestTimeMs of [EARLIEST_EVENT_TIME_MS, NOW, NOW + 86_400_000]) {
      const result = validateReview(GOOD, { ...OPTIONS, ingestTimeMs });
      expect(result.ok && result.review.ingest_time_ms).toBe(ingestTimeMs);
    }
  });

  it('accepts text exactly at the byte limit, emoji (surrogate pairs) and helpful_votes 0', () => {
    expect(validateReview({ ...GOOD, text: 'a'.repeat(1_000) }, OPTIONS).ok).toBe(true);
    expect(validateReview({ ...GOOD, text: 'Love it 😀👍', helpful_votes: 0, verified: false }, OPTIONS).ok).toBe(true);
  });

  it('reports the review id of an invalid record when it has one', () => {
    const result = validateReview({ ...GOOD, rating: 9 }, OPTIONS);
    expect(!result.ok && result.error.details).toEqual({ review_id: 'r-1' });
    expect(reviewIdOf({ review_id: 5 })).toBeNull();
    expect(reviewIdOf('x')).toBeNull();
  });

  it('accepts every record of the shipped sample', () => {
    const lines = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8').trim().split('\n');
    const failures = lines.map((line) => validateReview(JSON.parse(line) as unknown)).filter((r) => !r.ok);
    expect(lines.length).toBeGreaterThan(2_000);
    expect(failures).toEqual([]);
  });
});

describe('the one time rule, and the checks of a ScoredReview another producer wrote', () => {
  const bounds = { nowMs: NOW, futureToleranceMs: 86_400_000 };
  const scored: ScoredFields = { review_id: 's-1', product_id: 'B1', category: 'Books', event_time_ms: null, ingest_time_ms: NOW - 1_000, scored_time_ms: NOW };

  it('timeProblem: finite, from 1995-01-01 to the tolerance ahead of the processing clock', () => {
    for (const ok of [EARLIEST_EVENT_TIME_MS, NOW, NOW + 86_400_000]) expect(timeProblem(ok, bounds)).toBeNull();
    for (const bad of [9e15, -1, 0, Number.NaN, Number.POSITIVE_INFINITY, NOW + 86_400_001, EARLIEST_EVENT_TIME_MS - 1, '1458000000000', null]) {
      expect(timeProblem(bad, bounds), String(bad)).toEqual(expect.any(String));
    }
    // 9e15 is beyond the JavaScript Date range: the reason must not throw while formatting it.
    expect(timeProblem(9e15, bounds)).toContain('9000000000000000');
  });

  it('scoredReviewProblem names the field of an absurd time or an oversized key field, with the review id', () => {
    expect(scoredReviewProblem(scored, bounds)).toBeNull();
    const cases: Array<[Partial<ScoredFields>, string, string]> = [
      [{ ingest_time_ms: 9e15 }, 'TIMESTAMP_INVALID', 'ingest_time_ms'],
      [{ ingest_time_ms: -1 }, 'TIMESTAMP_INVALID', 'ingest_time_ms'],
      [{ event_time_ms: NOW + 3 * 365 * 86_400_000 }, 'TIMESTAMP_INVALID', 'event_time_ms'],
      [{ scored_time_ms: 0 }, 'TIMESTAMP_INVALID', 'scored_time_ms'],
      [{ category: 'c'.repeat(20_000) }, 'FIELD_RANGE', 'category'],
      [{ product_id: 'p'.repeat(201) }, 'FIELD_RANGE', 'product_id'],
    ];
    for (const [patch, code, field] of cases) {
      const problem = scoredReviewProblem({ ...scored, ...patch }, bounds);
      expect(problem && [problem.code, problem.field, problem.details]).toEqual([code, field, { review_id: 's-1' }]);
    }
  });
});
