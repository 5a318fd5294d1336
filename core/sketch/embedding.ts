/**
 * EmbeddingSketch: the mergeable state of embedding drift (core/drift/embedding.ts). Each review's
 * representation x (the model's standardised pooled embedding, `dims` numbers, carried in the scored
 * event) is mapped to D random Fourier features z(x) = √(2/D)·cos(W x + b), W ~ N(0, 1/bandwidth²),
 * b ~ U(0, 2π), so that z(x)·z(y) ≈ exp(-|x - y|² / (2·bandwidth²)) (Rahimi & Recht 2007): the mean of z over
 * a window is its kernel mean embedding, and the distance between two such means is the (linear-time)
 * maximum mean discrepancy of the Gaussian kernel. The state is a count and the D sums of z: sums of
 * floats, so many writers add to one Redis hash (HINCRBYFLOAT) and the sketch of a merge is the merge of
 * the sketches. W and b come from a seed, so the trainer (reference) and the aggregator (windows) draw
 * the same features without storing them.
 */
import { seededRandom } from '../model/prng.js';
import { decodeEnvelope, emptyIncrements, encodeEnvelope, hashFloat, hashInteger, putNonZero, readCount, readFloats, sketchFormatError } from './codec.js';
import type { RedisHashSketch, SketchIncrements } from './types.js';

export interface EmbeddingFeatures {
  /** Length of the representation (the model's embedding width). */
  dims: number;
  /** Random Fourier features D. */
  features: number;
  seed: number;
  /** Gaussian kernel bandwidth, in the (standardised) representation's units. */
  bandwidth: number;
}

export interface EmbeddingState {
  count: number;
  /** Σ z(x) over the reviews added, one per random feature. */
  sums: number[];
  /** Missing representations (events from before it was carried) and ones of the wrong length or not finite. */
  invalid: number;
}

const FIELD = { count: 'n', invalid: 'inv', sumPrefix: 'z' } as const;

/** Standard normal draws from the seeded uniform generator (Box–Muller). */
function normals(seed: number, count: number): Float64Array {
  const random = seededRandom(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = Math.max(random(), Number.MIN_VALUE);
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    out[i] = radius * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export class EmbeddingSketch implements RedisHashSketch<EmbeddingState, readonly number[] | null | undefined> {
  readonly kind = 'embedding-rff';
  readonly formatVersion = 1;
  /** W, features × dims, row-major. */
  private readonly weights: Float64Array;
  private readonly phases: Float64Array;
  private readonly scale: number;
  private readonly sumFields: readonly string[];
  private readonly knownFields: ReadonlySet<string>;
  private readonly scratch: Float64Array;

  constructor(readonly config: EmbeddingFeatures) {
    const { dims, features, bandwidth } = config;
    if (!Number.isInteger(dims) || dims < 1 || !Number.isInteger(features) || features < 1 || !(bandwidth > 0)) {
      throw sketchFormatError('embedding sketch needs whole dims and features >= 1 and a positive bandwidth', { dims, features, bandwidth });
    }
    this.weights = normals(config.seed, features * dims).map((w) => w / bandwidth);
    const random = seededRandom(config.seed ^ 0x5eed);
    this.phases = Float64Array.from({ length: features }, () => 2 * Math.PI * random());
    this.scale = Math.sqrt(2 / features);
    this.scratch = new Float64Array(features);
    this.sumFields = Array.from({ length: features }, (_, i) => `${FIELD.sumPrefix}${i}`);
    this.knownFields = new Set([FIELD.count, FIELD.invalid, ...this.sumFields]);
  }

  zero(): EmbeddingState {
    return { count: 0, sums: new Array<number>(this.config.features).fill(0), invalid: 0 };
  }

  /** z(x) into `out` (length features); false when x is not a usable representation. */
  project(vector: unknown, out: Float64Array | number[]): boolean {
    const { dims, features } = this.config;
    if (!Array.isArray(vector) || vector.length !== dims) return false;
    for (let d = 0; d < dims; d++) {
      const x: unknown = vector[d];
      if (typeof x !== 'number' || !Number.isFinite(x)) return false;
    }
    const x = vector as readonly number[];
    for (let j = 0; j < features; j++) {
      let dot = this.phases[j]!;
      const row = j * dims;
      for (let d = 0; d < dims; d++) dot += this.weights[row + d]! * x[d]!;
      out[j] = this.scale * Math.cos(dot);
    }
    return true;
  }

  add(state: EmbeddingState, vector: readonly number[] | null | undefined): EmbeddingState {
    // One scratch vector per sketch, not one array per event (the aggregator adds every event).
    const z = this.scratch;
    if (!this.project(vector, z)) {
      state.invalid++;
      return state;
    }
    for (let j = 0; j < z.length; j++) state.sums[j]! += z[j]!;
    state.count++;
    return state;
  }

  merge(a: EmbeddingState, b: EmbeddingState): EmbeddingState {
    this.checkShape(a);
    this.checkShape(b);
    return { count: a.count + b.count, sums: a.sums.map((sum, j) => sum + b.sums[j]!), invalid: a.invalid + b.invalid };
  }

  serialize(state: EmbeddingState): string {
    this.checkShape(state);
    return encodeEnvelope(this.kind, this.formatVersion, { ...this.config, count: state.count, sums: state.sums, invalid: state.invalid });
  }

  deserialize(text: string): EmbeddingState {
    const raw = decodeEnvelope(text, this.kind, this.formatVersion);
    const { dims, features, seed, bandwidth } = this.config;
    if (raw.dims !== dims || raw.features !== features || raw.seed !== seed || raw.bandwidth !== bandwidth) {
      throw sketchFormatError(`${this.kind}: serialized sketch was made with other random features`);
    }
    return { count: readCount(raw, 'count', this.kind), sums: readFloats(raw, 'sums', features, this.kind), invalid: readCount(raw, 'invalid', this.kind) };
  }

  toIncrements(state: EmbeddingState): SketchIncrements {
    this.checkShape(state);
    const out = emptyIncrements();
    putNonZero(out.ints, FIELD.count, state.count);
    putNonZero(out.ints, FIELD.invalid, state.invalid);
    state.sums.forEach((sum, j) => putNonZero(out.floats, this.sumFields[j]!, sum));
    return out;
  }

  fromHash(hash: Record<string, string>): EmbeddingState {
    const unknown = Object.keys(hash).filter((field) => !this.knownFields.has(field));
    if (unknown.length > 0) throw sketchFormatError(`${this.kind}: hash has fields outside its ${this.config.features} features`, { fields: unknown.slice(0, 10) });
    return {
      count: hashInteger(hash, FIELD.count, this.kind),
      sums: this.sumFields.map((field) => hashFloat(hash, field, this.kind, 0)),
      invalid: hashInteger(hash, FIELD.invalid, this.kind),
    };
  }

  private checkShape(state: EmbeddingState): void {
    if (state.sums.length !== this.config.features) throw sketchFormatError(`${this.kind}: state has ${state.sums.length} features, sketch has ${this.config.features}`);
  }
}
