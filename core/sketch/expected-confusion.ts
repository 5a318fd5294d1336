/**
 * ExpectedConfusionSketch: the mergeable state of confidence-based performance estimation (CBPE,
 * core/drift/cbpe.ts). For each scored review with calibrated class probabilities q and predicted class
 * j, q[k] is added to cell (true k, predicted j): the expected confusion matrix had the true labels been
 * drawn from q. Rows = true class, columns = predicted, SENTIMENTS order. Sums of floats and one count,
 * so many writers add to one Redis hash (HINCRBYFLOAT) and the estimate of a merge is the estimate of
 * the union. No label is needed: every review with usable probabilities counts.
 */
import { SENTIMENTS } from '../../schemas/types.js';
import { decodeEnvelope, emptyIncrements, encodeEnvelope, hashFloat, hashInteger, isRecord, putNonZero, readCount, sketchFormatError } from './codec.js';
import type { RedisHashSketch, SketchIncrements } from './types.js';

const CLASSES = SENTIMENTS.length;
/** How far the probabilities may sum from 1 before the value is refused (float32 models give ~1e-7). */
const SUM_TOLERANCE = 1e-3;

export interface ExpectedConfusionValue {
  /** Calibrated class probabilities, SENTIMENTS order (normalised on add). */
  probabilities: readonly number[];
  /** Index of the predicted class in SENTIMENTS (the served prediction). */
  predicted: number;
}

export interface ExpectedConfusionState {
  /** Reviews added. */
  count: number;
  /** cells[true][predicted]: sums of probabilities; every row sum over all cells is `count`. */
  cells: number[][];
  invalid: number;
}

const FIELD = { count: 'n', invalid: 'inv', cell: 'e:' } as const;

function cellField(trueClass: string, predicted: string): string {
  return `${FIELD.cell}${trueClass}:${predicted}`;
}

/** The probabilities' sum when the value is usable, else NaN (plain loops: this runs once per scored event). */
function usableSum(value: unknown): number {
  if (!isRecord(value)) return Number.NaN;
  const { probabilities, predicted } = value;
  if (!Array.isArray(probabilities) || probabilities.length !== CLASSES) return Number.NaN;
  if (typeof predicted !== 'number' || !Number.isInteger(predicted) || predicted < 0 || predicted >= CLASSES) return Number.NaN;
  let sum = 0;
  for (let k = 0; k < CLASSES; k++) {
    const p: unknown = probabilities[k];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) return Number.NaN;
    sum += p;
  }
  return Math.abs(sum - 1) <= SUM_TOLERANCE ? sum : Number.NaN;
}

export class ExpectedConfusionSketch implements RedisHashSketch<ExpectedConfusionState, ExpectedConfusionValue> {
  readonly kind = 'expected-confusion';
  readonly formatVersion = 1;

  zero(): ExpectedConfusionState {
    return { count: 0, cells: Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0)), invalid: 0 };
  }

  add(state: ExpectedConfusionState, value: ExpectedConfusionValue): ExpectedConfusionState {
    const sum = usableSum(value);
    if (Number.isNaN(sum)) {
      state.invalid++;
      return state;
    }
    state.count++;
    for (let k = 0; k < CLASSES; k++) state.cells[k]![value.predicted]! += value.probabilities[k]! / sum;
    return state;
  }

  merge(a: ExpectedConfusionState, b: ExpectedConfusionState): ExpectedConfusionState {
    return {
      count: a.count + b.count,
      cells: a.cells.map((row, i) => row.map((sum, j) => sum + b.cells[i]![j]!)),
      invalid: a.invalid + b.invalid,
    };
  }

  serialize(state: ExpectedConfusionState): string {
    return encodeEnvelope(this.kind, this.formatVersion, state);
  }

  deserialize(text: string): ExpectedConfusionState {
    const raw = decodeEnvelope(text, this.kind, this.formatVersion);
    const cells = raw.cells;
    if (!Array.isArray(cells) || cells.length !== CLASSES) throw sketchFormatError(`${this.kind}: cells must be ${CLASSES}x${CLASSES}`);
    return {
      count: readCount(raw, 'count', this.kind),
      cells: cells.map((row: unknown, i) => {
        if (!Array.isArray(row) || row.length !== CLASSES || !row.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
          throw sketchFormatError(`${this.kind}: cells[${i}] must be ${CLASSES} non-negative finite numbers`);
        }
        return row as number[];
      }),
      invalid: readCount(raw, 'invalid', this.kind),
    };
  }

  toIncrements(state: ExpectedConfusionState): SketchIncrements {
    const out = emptyIncrements();
    putNonZero(out.ints, FIELD.count, state.count);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    SENTIMENTS.forEach((trueClass, i) => SENTIMENTS.forEach((predicted, j) => putNonZero(out.floats, cellField(trueClass, predicted), state.cells[i]![j]!)));
    return out;
  }

  fromHash(hash: Record<string, string>): ExpectedConfusionState {
    const known = new Set<string>([FIELD.count, FIELD.invalid]);
    for (const trueClass of SENTIMENTS) for (const predicted of SENTIMENTS) known.add(cellField(trueClass, predicted));
    const unknown = Object.keys(hash).filter((field) => !known.has(field));
    if (unknown.length > 0) throw sketchFormatError(`${this.kind}: hash has unknown fields`, { fields: unknown.slice(0, 10) });
    return {
      count: hashInteger(hash, FIELD.count, this.kind),
      cells: SENTIMENTS.map((trueClass) => SENTIMENTS.map((predicted) => hashFloat(hash, cellField(trueClass, predicted), this.kind, 0))),
      invalid: hashInteger(hash, FIELD.invalid, this.kind),
    };
  }
}
