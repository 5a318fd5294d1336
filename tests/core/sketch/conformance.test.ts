/**
 * One conformance suite run over every Sketch implementation: the algebra the aggregator relies on
 * (zero is the identity of merge, merge is commutative and associative, the sketch of a stream equals
 * the merge of its parts' sketches), serialization, Redis hash round trips and bad-value handling.
 */
import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { BinnedHistogramSketch } from '../../../core/sketch/histogram.js';
import { CategoricalCountSketch } from '../../../core/sketch/categorical.js';
import { SummarySketch, type SummaryValue } from '../../../core/sketch/summary.js';
import { ExpectedConfusionSketch, type ExpectedConfusionValue } from '../../../core/sketch/expected-confusion.js';
import { EmbeddingSketch } from '../../../core/sketch/embedding.js';
import { applyIncrementsInMemory } from '../../../core/sketch/redis-increments.js';
import type { RedisHashSketch, SketchIncrements } from '../../../core/sketch/types.js';
import { SENTIMENTS } from '../../../schemas/types.js';
import { seededNormal, seededRandom } from '../drift/random.js';

interface SketchCase<State, Value> {
  name: string;
  sketch: RedisHashSketch<State, Value>;
  /** Valid values, plus invalid ones mixed in (they must be counted, never thrown). */
  values: Value[];
  invalidValues: unknown[];
  invalidCount(state: State): number;
  validCount(state: State): number;
}

/** Deep equality with float tolerance: counts must match exactly, sums to ~1e-9 relative. */
function expectStatesEqual(actual: unknown, expected: unknown, path = 'state'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual)) expect(actual, path).toBe(expected);
    else if (!Number.isFinite(expected)) expect(actual, path).toBe(expected);
    else expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    const list = actual as unknown[];
    expect(list.length, path).toBe(expected.length);
    expected.forEach((item, i) => expectStatesEqual(list[i], item, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    const record = actual as Record<string, unknown>;
    expect(Object.keys(record).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) expectStatesEqual(record[key], value, `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}

function sketchOf<State, Value>(sketch: RedisHashSketch<State, Value>, values: readonly unknown[]): State {
  const state = sketch.zero();
  for (const value of values) sketch.add(state, value as Value);
  return state;
}

/** What Redis would hold after HINCRBY/HINCRBYFLOAT/min/max of these increments (as strings, like HGETALL). */
function simulateRedisHash(...all: SketchIncrements[]): Record<string, string> {
  return all.reduce<Record<string, string>>((hash, increments) => applyIncrementsInMemory(hash, increments), {});
}

function conformance<State, Value>(testCase: SketchCase<State, Value>): void {
  const { sketch } = testCase;
  const mixed: unknown[] = [...testCase.values];
  testCase.invalidValues.forEach((bad, i) => mixed.splice((i * 37) % mixed.length, 0, bad));
  const third = Math.floor(mixed.length / 3);
  const [a, b, c] = [sketchOf(sketch, mixed.slice(0, third)), sketchOf(sketch, mixed.slice(third, 2 * third)), sketchOf(sketch, mixed.slice(2 * third))];

  describe(`Sketch conformance: ${testCase.name}`, () => {
    it('zero is the identity of merge', () => {
      expectStatesEqual(sketch.merge(sketch.zero(), a), a);
      expectStatesEqual(sketch.merge(a, sketch.zero()), a);
    });

    it('merge is commutative and associative', () => {
      expectStatesEqual(sketch.merge(a, b), sketch.merge(b, a));
      expectStatesEqual(sketch.merge(sketch.merge(a, b), c), sketch.merge(a, sketch.merge(b, c)));
    });

    it('the sketch of the stream equals the merge of the sketches of its parts', () => {
      expectStatesEqual(sketch.merge(sketch.merge(a, b), c), sketchOf(sketch, mixed));
    });

    it('merge does not modify its inputs', () => {
      const before = sketch.serialize(a);
      sketch.merge(a, b);
      expect(sketch.serialize(a)).toBe(before);
    });

    it('counts bad values instead of throwing', () => {
      const whole = sketchOf(sketch, mixed);
      expect(testCase.invalidCount(whole)).toBe(testCase.invalidValues.length);
      expect(testCase.validCount(whole)).toBe(testCase.values.length);
    });

    it('serialize / deserialize round-trips, also for the empty state', () => {
      const whole = sketchOf(sketch, mixed);
      expectStatesEqual(sketch.deserialize(sketch.serialize(whole)), whole);
      expectStatesEqual(sketch.deserialize(sketch.serialize(sketch.zero())), sketch.zero());
    });

    it('rejects an unknown format version, another kind and garbage with SKETCH_FORMAT', () => {
      const text = sketch.serialize(a);
      const envelope = JSON.parse(text) as Record<string, unknown>;
      const attempts = [
        JSON.stringify({ ...envelope, v: sketch.formatVersion + 1 }),
        JSON.stringify({ ...envelope, kind: 'something-else' }),
        'not json',
        JSON.stringify({ ...envelope, state: null }),
      ];
      for (const attempt of attempts) {
        const error = (() => {
          try {
            sketch.deserialize(attempt);
            return undefined;
          } catch (err) {
            return err;
          }
        })();
        expect(error).toBeInstanceOf(DriftlineError);
        expect((error as DriftlineError).code).toBe('SKETCH_FORMAT');
      }
    });

    it('Redis increments of the parts, summed field by field, read back as the whole', () => {
      const hash = simulateRedisHash(sketch.toIncrements(a), sketch.toIncrements(b), sketch.toIncrements(c));
      expectStatesEqual(sketch.fromHash(hash), sketchOf(sketch, mixed));
    });

    it('an empty hash is the zero state and the zero state has no increments', () => {
      expectStatesEqual(sketch.fromHash({}), sketch.zero());
      const increments = sketch.toIncrements(sketch.zero());
      expect([increments.ints, increments.floats, increments.mins, increments.maxes].every((m) => Object.keys(m).length === 0)).toBe(true);
    });

    it('counts are written as integers (HINCRBY), and a foreign hash field is refused', () => {
      const increments = sketch.toIncrements(sketchOf(sketch, mixed));
      for (const value of Object.values(increments.ints)) expect(Number.isInteger(value)).toBe(true);
      expect(() => sketch.fromHash({ 'no-such-field': '1' })).toThrow(DriftlineError);
    });
  });
}

const normal = seededNormal(7, 10, 3);
conformance({
  name: 'BinnedHistogramSketch',
  sketch: new BinnedHistogramSketch([4, 7, 9, 10, 11, 13, 16]),
  values: [...Array.from({ length: 600 }, normal), 4, 7, 16, -1e6, 1e6],
  invalidValues: [Number.NaN, Infinity, -Infinity, null, undefined, '12', {}],
  invalidCount: (state) => state.invalid,
  validCount: (state) => state.count,
});

const uniform = seededRandom(11);
const categories = ['Gift_Cards', 'All_Beauty', 'Magazine_Subscriptions'];
const pool = [...categories, 'AMAZON_FASHION', 'Appliances', 'Books'];
conformance({
  name: 'CategoricalCountSketch',
  sketch: new CategoricalCountSketch(categories, { otherValues: ['AMAZON_FASHION'] }),
  values: Array.from({ length: 500 }, () => pool[Math.floor(uniform() * pool.length)]),
  invalidValues: [null, undefined, 3, true, ['x']],
  invalidCount: (state) => state.invalid,
  validCount: (state) => state.counts.reduce((x, y) => x + y, 0) + state.other + state.unseen,
});

const pick = seededRandom(23);
const summaryValues: SummaryValue[] = Array.from({ length: 400 }, () => ({
  sentiment: SENTIMENTS[Math.floor(pick() * 3)]!,
  confidence: 0.34 + 0.66 * pick(),
  outlier: pick() < 0.05,
  rating: 1 + Math.floor(pick() * 5),
  late: pick() < 0.1,
}));
conformance({
  name: 'SummarySketch',
  sketch: new SummarySketch(),
  values: summaryValues,
  invalidValues: [
    null,
    { sentiment: 'angry', confidence: 0.5, outlier: false, rating: 3 },
    { sentiment: 'positive', confidence: Number.NaN, outlier: false, rating: 5 },
    { sentiment: 'positive', confidence: 0.9, outlier: false, rating: 0 },
    { sentiment: 'negative', confidence: 1.5, outlier: true, rating: 1 },
  ],
  invalidCount: (state) => state.invalid,
  validCount: (state) => state.count,
});

const draw = seededRandom(31);
const expectedValues: ExpectedConfusionValue[] = Array.from({ length: 400 }, () => {
  const raw = [draw(), draw(), draw() * 3];
  const sum = raw[0]! + raw[1]! + raw[2]!;
  return { probabilities: raw.map((x) => x / sum), predicted: Math.floor(draw() * 3) };
});
conformance({
  name: 'ExpectedConfusionSketch',
  sketch: new ExpectedConfusionSketch(),
  values: expectedValues,
  invalidValues: [
    null,
    { probabilities: [0.5, 0.5], predicted: 0 },
    { probabilities: [0.5, 0.3, 0.1], predicted: 0 },
    { probabilities: [0.5, Number.NaN, 0.5], predicted: 1 },
    { probabilities: [1.2, -0.2, 0], predicted: 0 },
    { probabilities: [0.2, 0.3, 0.5], predicted: 3 },
  ],
  invalidCount: (state) => state.invalid,
  validCount: (state) => state.count,
});

const embed = seededNormal(41, 0, 1);
conformance({
  name: 'EmbeddingSketch',
  sketch: new EmbeddingSketch({ dims: 6, features: 12, seed: 17, bandwidth: 3 }),
  values: Array.from({ length: 300 }, () => Array.from({ length: 6 }, embed)),
  invalidValues: [null, undefined, [1, 2, 3], [1, 2, 3, 4, 5, Number.NaN], 'x', [1, 2, 3, 4, 5, '6']],
  invalidCount: (state) => state.invalid,
  validCount: (state) => state.count,
});
