/**
 * CategoricalCountSketch: counts per known category (the baseline's capped, most-frequent-first list),
 * plus 'other' (a value the reference had but that fell outside the cap) and 'unseen' (a value the
 * reference never had — a new category is drift in itself and is reported as its own bucket and rate).
 *
 * Telling 'other' from 'unseen' needs the reference's values beyond the cap (`otherValues`). When the
 * reference had no such values (baseline.other === 0) every unknown value is unseen; when it had some
 * but they are not listed, unknown values cannot be told apart and are counted as 'other'
 * (`unknownAs: 'other'`), which is the conservative choice for the chi-square test.
 */
import {
  decodeEnvelope,
  emptyIncrements,
  encodeEnvelope,
  hashInteger,
  putNonZero,
  readCount,
  readCounts,
  sketchFormatError,
} from './codec.js';
import type { RedisHashSketch, SketchIncrements } from './types.js';

export interface CategoricalState {
  /** One count per known category, in the sketch's category order. */
  counts: number[];
  other: number;
  unseen: number;
  /** Values that were not strings (null, numbers, objects...). */
  invalid: number;
}

export interface CategoricalSketchOptions {
  /** Reference values outside the capped list; values listed here count as 'other', not 'unseen'. */
  otherValues?: Iterable<string>;
  /** Where a value in neither list goes (default 'unseen'). */
  unknownAs?: 'unseen' | 'other';
}

/** Labels of the two extra buckets in BinnedDistribution.labels (double underscores: no clash with real names). */
export const OTHER_LABEL = '__other__';
export const UNSEEN_LABEL = '__unseen__';

const FIELD = { other: 'other', unseen: 'unseen', invalid: 'inv', categoryPrefix: 'c:' } as const;

export class CategoricalCountSketch implements RedisHashSketch<CategoricalState, string> {
  readonly kind = 'categorical-count';
  readonly formatVersion = 1;
  readonly categories: readonly string[];
  private readonly index: Map<string, number>;
  private readonly otherValues: ReadonlySet<string>;
  private readonly unknownAs: 'unseen' | 'other';

  constructor(categories: readonly string[], options: CategoricalSketchOptions = {}) {
    this.categories = [...categories];
    this.index = new Map(this.categories.map((category, i) => [category, i]));
    if (this.index.size !== this.categories.length) throw sketchFormatError('categorical sketch: categories must be distinct');
    this.otherValues = new Set(options.otherValues ?? []);
    this.unknownAs = options.unknownAs ?? 'unseen';
  }

  zero(): CategoricalState {
    return { counts: new Array<number>(this.categories.length).fill(0), other: 0, unseen: 0, invalid: 0 };
  }

  add(state: CategoricalState, value: string): CategoricalState {
    if (typeof value !== 'string') {
      state.invalid++;
      return state;
    }
    const position = this.index.get(value);
    if (position !== undefined) state.counts[position]!++;
    else if (this.otherValues.has(value) || this.unknownAs === 'other') state.other++;
    else state.unseen++;
    return state;
  }

  merge(a: CategoricalState, b: CategoricalState): CategoricalState {
    this.checkShape(a);
    this.checkShape(b);
    return {
      counts: a.counts.map((count, i) => count + b.counts[i]!),
      other: a.other + b.other,
      unseen: a.unseen + b.unseen,
      invalid: a.invalid + b.invalid,
    };
  }

  /** Valid values counted (known + other + unseen). */
  total(state: CategoricalState): number {
    return state.counts.reduce((a, b) => a + b, 0) + state.other + state.unseen;
  }

  serialize(state: CategoricalState): string {
    this.checkShape(state);
    return encodeEnvelope(this.kind, this.formatVersion, { categories: this.categories, ...state });
  }

  deserialize(text: string): CategoricalState {
    const raw = decodeEnvelope(text, this.kind, this.formatVersion);
    const categories = raw.categories;
    if (!Array.isArray(categories) || categories.length !== this.categories.length || categories.some((c, i) => c !== this.categories[i])) {
      throw sketchFormatError(`${this.kind}: serialized sketch was made on a different category list`);
    }
    return {
      counts: readCounts(raw, 'counts', this.categories.length, this.kind),
      other: readCount(raw, 'other', this.kind),
      unseen: readCount(raw, 'unseen', this.kind),
      invalid: readCount(raw, 'invalid', this.kind),
    };
  }

  /** Category counts are keyed by name (`c:<name>`), so a hash stays readable in redis-cli. */
  toIncrements(state: CategoricalState): SketchIncrements {
    this.checkShape(state);
    const out = emptyIncrements();
    state.counts.forEach((count, i) => putNonZero(out.ints, `${FIELD.categoryPrefix}${this.categories[i]}`, count));
    putNonZero(out.ints, FIELD.other, state.other);
    putNonZero(out.ints, FIELD.unseen, state.unseen);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    return out;
  }

  fromHash(hash: Record<string, string>): CategoricalState {
    const state = this.zero();
    for (const field of Object.keys(hash)) {
      const value = hashInteger(hash, field, this.kind);
      if (field === FIELD.other) state.other = value;
      else if (field === FIELD.unseen) state.unseen = value;
      else if (field === FIELD.invalid) state.invalid = value;
      else {
        const position = field.startsWith(FIELD.categoryPrefix) ? this.index.get(field.slice(FIELD.categoryPrefix.length)) : undefined;
        if (position === undefined) throw sketchFormatError(`${this.kind}: hash field '${field}' is not one of the sketch's categories`, { field });
        state.counts[position] = value;
      }
    }
    return state;
  }

  private checkShape(state: CategoricalState): void {
    if (state.counts.length !== this.categories.length) {
      throw sketchFormatError(`${this.kind}: state has ${state.counts.length} categories, sketch has ${this.categories.length}`);
    }
  }
}
