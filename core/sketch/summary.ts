/**
 * SummarySketch: the per-window model-health numbers — events, outliers, confidence sum, late events,
 * predicted class counts and the 3x3 confusion matrix of the rating-derived label (1-2 stars negative,
 * 3 neutral, 4-5 positive) against the predicted sentiment. Rows = rating label, columns = prediction,
 * both in SENTIMENTS order (negative, neutral, positive).
 */
import { SENTIMENTS, type Sentiment } from '../../schemas/types.js';
import {
  decodeEnvelope,
  emptyIncrements,
  encodeEnvelope,
  hashFloat,
  hashInteger,
  isRecord,
  putNonZero,
  readCount,
  readCounts,
  readFloat,
  sketchFormatError,
} from './codec.js';
import type { RedisHashSketch, SketchIncrements } from './types.js';

export interface SummaryValue {
  sentiment: Sentiment;
  confidence: number;
  outlier: boolean;
  /** Star rating 1-5; gives the weak label of the confusion matrix. */
  rating: number;
  /** The event arrived after its window's watermark but was still accepted. */
  late?: boolean;
}

export interface SummaryState {
  count: number;
  outliers: number;
  confidenceSum: number;
  late: number;
  /** Predicted class counts, SENTIMENTS order. */
  predicted: number[];
  /** confusion[ratingLabel][predicted], SENTIMENTS order, 3x3. */
  confusion: number[][];
  invalid: number;
}

/** 1-2 stars negative, 3 neutral, 4-5 positive; anything else has no label. */
export function ratingLabel(rating: number): Sentiment | null {
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) return null;
  return rating <= 2 ? 'negative' : rating === 3 ? 'neutral' : 'positive';
}

const CLASSES = SENTIMENTS.length;
const FIELD = { count: 'n', outliers: 'out', confidenceSum: 'conf', late: 'late', invalid: 'inv', predicted: 'p:', confusion: 'cm:' } as const;

export class SummarySketch implements RedisHashSketch<SummaryState, SummaryValue> {
  readonly kind = 'window-summary';
  readonly formatVersion = 1;

  zero(): SummaryState {
    return {
      count: 0,
      outliers: 0,
      confidenceSum: 0,
      late: 0,
      predicted: new Array<number>(CLASSES).fill(0),
      confusion: Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0)),
      invalid: 0,
    };
  }

  add(state: SummaryState, value: SummaryValue): SummaryState {
    const predicted = isRecord(value) ? SENTIMENTS.indexOf(value.sentiment) : -1;
    const label = isRecord(value) && typeof value.rating === 'number' ? ratingLabel(value.rating) : null;
    const valid =
      predicted >= 0 && label !== null && typeof value.confidence === 'number' && value.confidence >= 0 && value.confidence <= 1 && typeof value.outlier === 'boolean';
    if (!valid) {
      state.invalid++;
      return state;
    }
    state.count++;
    if (value.outlier) state.outliers++;
    if (value.late === true) state.late++;
    state.confidenceSum += value.confidence;
    // Both indices are SENTIMENTS positions (predicted >= 0 checked above, label a ratingLabel sentiment).
    state.predicted[predicted]!++;
    state.confusion[SENTIMENTS.indexOf(label)]![predicted]!++;
    return state;
  }

  merge(a: SummaryState, b: SummaryState): SummaryState {
    return {
      count: a.count + b.count,
      outliers: a.outliers + b.outliers,
      confidenceSum: a.confidenceSum + b.confidenceSum,
      late: a.late + b.late,
      predicted: a.predicted.map((count, i) => count + b.predicted[i]!),
      confusion: a.confusion.map((row, i) => row.map((count, j) => count + b.confusion[i]![j]!)),
      invalid: a.invalid + b.invalid,
    };
  }

  serialize(state: SummaryState): string {
    return encodeEnvelope(this.kind, this.formatVersion, state);
  }

  deserialize(text: string): SummaryState {
    const raw = decodeEnvelope(text, this.kind, this.formatVersion);
    const confusion = raw.confusion;
    if (!Array.isArray(confusion) || confusion.length !== CLASSES) throw sketchFormatError(`${this.kind}: confusion must be ${CLASSES}x${CLASSES}`);
    return {
      count: readCount(raw, 'count', this.kind),
      outliers: readCount(raw, 'outliers', this.kind),
      confidenceSum: readFloat(raw, 'confidenceSum', this.kind),
      late: readCount(raw, 'late', this.kind),
      predicted: readCounts(raw, 'predicted', CLASSES, this.kind),
      confusion: confusion.map((row: unknown, i) => readCounts({ row }, 'row', CLASSES, `${this.kind} confusion[${i}]`)),
      invalid: readCount(raw, 'invalid', this.kind),
    };
  }

  toIncrements(state: SummaryState): SketchIncrements {
    const out = emptyIncrements();
    putNonZero(out.ints, FIELD.count, state.count);
    putNonZero(out.ints, FIELD.outliers, state.outliers);
    putNonZero(out.ints, FIELD.late, state.late);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    putNonZero(out.floats, FIELD.confidenceSum, state.confidenceSum);
    SENTIMENTS.forEach((predicted, j) => {
      putNonZero(out.ints, `${FIELD.predicted}${predicted}`, state.predicted[j]!);
      SENTIMENTS.forEach((label, i) => putNonZero(out.ints, `${FIELD.confusion}${label}:${predicted}`, state.confusion[i]![j]!));
    });
    return out;
  }

  fromHash(hash: Record<string, string>): SummaryState {
    const known = new Set<string>([FIELD.count, FIELD.outliers, FIELD.late, FIELD.invalid, FIELD.confidenceSum]);
    for (const predicted of SENTIMENTS) {
      known.add(`${FIELD.predicted}${predicted}`);
      for (const label of SENTIMENTS) known.add(`${FIELD.confusion}${label}:${predicted}`);
    }
    const unknown = Object.keys(hash).filter((field) => !known.has(field));
    if (unknown.length > 0) throw sketchFormatError(`${this.kind}: hash has unknown fields`, { fields: unknown.slice(0, 10) });
    return {
      count: hashInteger(hash, FIELD.count, this.kind),
      outliers: hashInteger(hash, FIELD.outliers, this.kind),
      confidenceSum: hashFloat(hash, FIELD.confidenceSum, this.kind, 0),
      late: hashInteger(hash, FIELD.late, this.kind),
      predicted: SENTIMENTS.map((predicted) => hashInteger(hash, `${FIELD.predicted}${predicted}`, this.kind)),
      confusion: SENTIMENTS.map((label) => SENTIMENTS.map((predicted) => hashInteger(hash, `${FIELD.confusion}${label}:${predicted}`, this.kind))),
      invalid: hashInteger(hash, FIELD.invalid, this.kind),
    };
  }
}
