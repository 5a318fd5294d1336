/**
 * Shared plumbing of the sketch family: the versioned JSON envelope of `serialize`, strict reading of
 * stored numbers, and the helpers that turn Redis hash fields back into numbers.
 */
import { DriftlineError } from '../errors.js';
import type { SketchIncrements } from './types.js';

export function sketchFormatError(message: string, details?: Record<string, unknown>): DriftlineError {
  return new DriftlineError('SKETCH_FORMAT', message, details === undefined ? {} : { details });
}

/** `{"kind":..., "v":..., "state":...}`: kind and version are checked before the state is looked at. */
export function encodeEnvelope(kind: string, formatVersion: number, state: unknown): string {
  return JSON.stringify({ kind, v: formatVersion, state });
}

/** The envelope's state; `formatVersion` may list every version the reader knows (the version found is returned). */
export function decodeEnvelope(text: string, kind: string, formatVersion: number): Record<string, unknown>;
export function decodeEnvelope(text: string, kind: string, formatVersion: readonly number[]): { version: number; state: Record<string, unknown> };
export function decodeEnvelope(text: string, kind: string, formatVersion: number | readonly number[]): Record<string, unknown> | { version: number; state: Record<string, unknown> } {
  const known = typeof formatVersion === 'number' ? [formatVersion] : formatVersion;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new DriftlineError('SKETCH_FORMAT', `${kind}: serialized sketch is not JSON`, { cause });
  }
  if (!isRecord(parsed)) throw sketchFormatError(`${kind}: serialized sketch is not an object`);
  if (parsed.kind !== kind) throw sketchFormatError(`expected a ${kind} sketch, got kind ${JSON.stringify(parsed.kind)}`);
  const version = parsed.v;
  if (typeof version !== 'number' || !known.includes(version)) {
    throw sketchFormatError(`${kind}: unknown format version ${JSON.stringify(parsed.v)} (this reader knows ${known.join(', ')})`, {
      formatVersion: parsed.v,
    });
  }
  if (!isRecord(parsed.state)) throw sketchFormatError(`${kind}: serialized sketch has no state object`);
  return typeof formatVersion === 'number' ? parsed.state : { version, state: parsed.state };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readCount(state: Record<string, unknown>, field: string, kind: string): number {
  const value = state[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw sketchFormatError(`${kind}: field '${field}' must be a non-negative integer`, { field, value });
  }
  return value;
}

export function readFloat(state: Record<string, unknown>, field: string, kind: string): number {
  const value = state[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw sketchFormatError(`${kind}: field '${field}' must be a finite number`, { field, value });
  }
  return value;
}

export function readCounts(state: Record<string, unknown>, field: string, length: number, kind: string): number[] {
  const value = state[field];
  if (!Array.isArray(value) || value.length !== length) {
    throw sketchFormatError(`${kind}: field '${field}' must be an array of ${length} counts`, { field });
  }
  return value.map((item, index) => readCount({ [`${field}[${index}]`]: item }, `${field}[${index}]`, kind));
}

export function readFloats(state: Record<string, unknown>, field: string, length: number, kind: string): number[] {
  const value = state[field];
  if (!Array.isArray(value) || value.length !== length) {
    throw sketchFormatError(`${kind}: field '${field}' must be an array of ${length} numbers`, { field });
  }
  return value.map((item, index) => readFloat({ [`${field}[${index}]`]: item }, `${field}[${index}]`, kind));
}

/** Min/max of an empty sketch are serialized as null (JSON has no Infinity). */
export function readOptionalFloat(state: Record<string, unknown>, field: string, kind: string, empty: number): number {
  return state[field] === null ? empty : readFloat(state, field, kind);
}

export function emptyIncrements(): SketchIncrements {
  return { ints: {}, floats: {}, mins: {}, maxes: {} };
}

/** Adds `amount` under `field` unless it is zero (keeps the Redis writes sparse). */
export function putNonZero(target: Record<string, number>, field: string, amount: number): void {
  if (amount !== 0) target[field] = amount;
}

export function hashInteger(hash: Record<string, string>, field: string, kind: string): number {
  const raw = hash[field];
  if (raw === undefined) return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw sketchFormatError(`${kind}: hash field '${field}' is not a count`, { field, raw });
  return value;
}

export function hashFloat(hash: Record<string, string>, field: string, kind: string, missing: number): number {
  const raw = hash[field];
  if (raw === undefined) return missing;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw sketchFormatError(`${kind}: hash field '${field}' is not a number`, { field, raw });
  return value;
}
