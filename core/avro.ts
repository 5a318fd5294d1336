/**
 * Avro single-object encoding (Avro spec, "Single-object encoding"):
 *   0xC3 0x01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form | body.
 * A reader looks the writer schema up by fingerprint and resolves it to its own (reader) schema, so
 * producers and consumers can evolve independently. avsc has no CRC-64-AVRO digest, so the
 * fingerprint is computed here from the specification's algorithm.
 */
import { isUtf8 } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import avro from 'avsc';
import { DriftlineError } from './errors.js';
import { repoPath } from './paths.js';
import { decodeUtf8Escaping, REPLACEMENT_CHARACTER } from './utf8.js';
import type { SchemaName, SchemaTypes } from '../schemas/types.js';

const EMPTY = 0xc15d213aa4d7a795n;
const MASK64 = 0xffffffffffffffffn;
const FP_TABLE: bigint[] = (() => {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK64);
    table.push(fp);
  }
  return table;
})();

/** CRC-64-AVRO (Rabin) fingerprint of bytes, as an unsigned 64-bit bigint. */
export function rabinFingerprint64(bytes: Uint8Array): bigint {
  let fp = EMPTY;
  for (const byte of bytes) fp = (fp >> 8n) ^ FP_TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  return fp;
}

export const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_BYTES = 10;

/** The 8 fingerprint bytes (little-endian) of a schema's Parsing Canonical Form. */
export function schemaFingerprint(type: avro.Type): Buffer {
  const canonical = JSON.stringify(type.schema()); // avsc: schema() is the Parsing Canonical Form (toString() names a record only)
  const fp = rabinFingerprint64(Buffer.from(canonical, 'utf8'));
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out;
}

export function loadSchema(name: SchemaName): avro.schema.RecordType {
  return JSON.parse(readFileSync(repoPath('schemas', `${name}.avsc`), 'utf8')) as avro.schema.RecordType;
}

function invalidPaths(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(root)') });
  return paths;
}

/**
 * The schema with every `string` read as `bytes`: both are a length and the bytes on the wire, so this
 * reads the same message and shows what a string's bytes really were.
 */
export function stringsAsBytes(schema: avro.Schema): avro.Schema {
  if (schema === 'string') return 'bytes';
  if (Array.isArray(schema)) return schema.map(stringsAsBytes) as avro.Schema;
  if (typeof schema !== 'object' || schema === null) return schema;
  const node = schema as unknown as Record<string, unknown>;
  switch (node.type) {
    case 'string':
      return { ...node, type: 'bytes' } as unknown as avro.Schema;
    case 'record':
    case 'error':
      return { ...node, fields: (node.fields as Array<{ type: avro.Schema }>).map((field) => ({ ...field, type: stringsAsBytes(field.type) })) } as unknown as avro.Schema;
    case 'array':
      return { ...node, items: stringsAsBytes(node.items as avro.Schema) } as unknown as avro.Schema;
    case 'map':
      return { ...node, values: stringsAsBytes(node.values as avro.Schema) } as unknown as avro.Schema;
    default:
      return schema;
  }
}

function hasReplacementInStrings(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const field of Object.values(value)) if (typeof field === 'string' && field.includes(REPLACEMENT_CHARACTER)) return true;
  return false;
}

interface WriterEntry {
  resolver: avro.Resolver | null;
  schema: avro.Schema;
  /** The writer schema with strings as bytes (stringsAsBytes), built on first need. */
  rawType?: avro.Type;
}

export class AvroCodec<T> {
  readonly type: avro.Type;
  readonly fingerprint: Buffer;
  private readonly header: Buffer;
  /** Writer schemas this reader accepts, by fingerprint hex, with their resolvers. */
  private readonly writers = new Map<string, WriterEntry>();

  constructor(readonly schema: avro.Schema, readonly name: string = (schema as { name?: string }).name ?? 'record') {
    this.type = avro.Type.forSchema(schema);
    this.fingerprint = schemaFingerprint(this.type);
    this.header = Buffer.concat([SINGLE_OBJECT_MAGIC, this.fingerprint]);
    this.writers.set(this.fingerprint.toString('hex'), { resolver: null, schema });
  }

  /** Accept messages written with another (older or newer) version of this schema; throws when they cannot be resolved. */
  acceptWriterSchema(writerSchema: avro.Schema): this {
    const writerType = avro.Type.forSchema(writerSchema);
    const fingerprint = schemaFingerprint(writerType).toString('hex');
    if (this.writers.has(fingerprint)) return this; // its own schema (or one already known): no resolver needed
    this.writers.set(fingerprint, { resolver: this.type.createResolver(writerType), schema: writerSchema });
    return this;
  }

  encode(value: T): Buffer {
    let body: Buffer;
    try {
      body = this.type.toBuffer(value);
    } catch (err) {
      throw this.encodeFailed(value, err);
    }
    return Buffer.concat([this.header, body], HEADER_BYTES + body.length);
  }

  /**
   * Writes the single-object encoding of `value` into `target` from `at`, without the two allocations and
   * copies of `encode` (a hot loop packs many values into one buffer this way); returns where it ends, or -1
   * when it does not fit (what was written is garbage: grow `target` and call again). Throws like `encode`.
   */
  encodeInto(value: T, target: Buffer, at: number): number {
    if (at + HEADER_BYTES > target.length) return -1;
    let end: number;
    try {
      end = this.type.encode(value, target, at + HEADER_BYTES);
    } catch (err) {
      throw this.encodeFailed(value, err);
    }
    if (end < 0) return -1;
    this.header.copy(target, at);
    return end;
  }

  private encodeFailed(value: T, err: unknown): DriftlineError {
    const fields = invalidPaths(this.type, value);
    return new DriftlineError('AVRO_ENCODE_FAILED', `${this.name}: value does not fit the schema at ${fields.join(', ') || 'unknown field'}`, {
      cause: err,
      field: fields[0],
    });
  }

  decode(bytes: Buffer | Uint8Array | null | undefined): T {
    const { writer, body } = this.split(bytes);
    try {
      return (writer.resolver ? this.type.fromBuffer(body, writer.resolver) : this.type.fromBuffer(body)) as T;
    } catch (err) {
      throw new DriftlineError('AVRO_DECODE_FAILED', `${this.name}: corrupt or truncated Avro body: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Like decode, but a top-level string whose bytes are not UTF-8 comes back with those bytes as lone
   * surrogates (core/utf8.ts) instead of U+FFFD, so validation can refuse it while a real U+FFFD passes.
   * Costs a second read of the message only when a decoded string contains U+FFFD.
   */
  decodeEscapingUtf8(bytes: Buffer | Uint8Array | null | undefined): T {
    const value = this.decode(bytes);
    if (!hasReplacementInStrings(value)) return value;
    const { writer, body } = this.split(bytes);
    writer.rawType ??= avro.Type.forSchema(stringsAsBytes(writer.schema));
    const raw = writer.rawType.fromBuffer(body) as Record<string, unknown>;
    const out = { ...(value as Record<string, unknown>) };
    for (const [field, fieldBytes] of Object.entries(raw)) {
      if (Buffer.isBuffer(fieldBytes) && typeof out[field] === 'string' && !isUtf8(fieldBytes)) out[field] = decodeUtf8Escaping(fieldBytes);
    }
    return out as T;
  }

  private split(bytes: Buffer | Uint8Array | null | undefined): { writer: WriterEntry; body: Buffer } {
    if (!bytes || bytes.length < HEADER_BYTES || bytes[0] !== 0xc3 || bytes[1] !== 0x01) {
      throw new DriftlineError('AVRO_BAD_HEADER', `${this.name}: message is not Avro single-object encoded (${bytes ? bytes.length : 0} bytes)`);
    }
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fingerprintHex = buffer.subarray(2, HEADER_BYTES).toString('hex');
    const writer = this.writers.get(fingerprintHex);
    if (writer === undefined) {
      throw new DriftlineError('AVRO_UNKNOWN_SCHEMA', `${this.name}: unknown writer schema fingerprint ${fingerprintHex}`, {
        details: { fingerprint: fingerprintHex },
      });
    }
    return { writer, body: buffer.subarray(HEADER_BYTES) };
  }
}

// ---------------------------------------------------------------------------------------------
// Released schema versions (schemas/releases/<Name>.jsonl): one JSON line per released version, oldest
// first, never edited once released. Readers accept every released version as a writer schema and
// resolve it to their current schema (schemas/<Name>.avsc), so producers and consumers can be
// upgraded in any order as long as every version is fully compatible with every other one
// (checked by tests/schemas/compatibility.test.ts and by `npx tsx cli/schemas.ts`).

export interface SchemaRelease {
  version: number;
  /** The 8 fingerprint bytes as they appear on the wire (little-endian CRC-64-AVRO), hex. */
  fingerprint: string;
  /** The full schema (with defaults and docs: an old reader needs its defaults to read newer data). */
  schema: avro.schema.RecordType;
}

export function releasesPath(name: SchemaName): string {
  return repoPath('schemas', 'releases', `${name}.jsonl`);
}

/** The released versions of one schema, oldest first (empty when the schema was never released). */
export function loadReleases(name: SchemaName): SchemaRelease[] {
  const path = releasesPath(name);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SchemaRelease);
}

/** The release line a schema would get as version `version` (what `cli/schemas.ts --release` appends). */
export function releaseOf(schema: avro.schema.RecordType, version: number): SchemaRelease {
  return { version, fingerprint: schemaFingerprint(avro.Type.forSchema(schema)).toString('hex'), schema };
}

/**
 * Why `candidate` cannot be released after `released`: for every earlier version, a reader of the
 * candidate must read data written with it (backward) and a reader of it must read data written with the
 * candidate (forward), by the Avro resolution rules (avsc's createResolver). Full transitive
 * compatibility: adding or removing a field is fine only with a default; changing a type is not.
 */
export function compatibilityProblems(released: readonly SchemaRelease[], candidate: avro.Schema): string[] {
  const problems: string[] = [];
  const candidateType = avro.Type.forSchema(candidate);
  for (const release of released) {
    const releasedType = avro.Type.forSchema(release.schema);
    for (const [direction, reader, writer] of [
      [`v${release.version} data read with the candidate`, candidateType, releasedType],
      [`candidate data read by a v${release.version} reader`, releasedType, candidateType],
    ] as const) {
      try {
        reader.createResolver(writer);
      } catch (err) {
        problems.push(`${direction}: ${(err as Error).message}`);
      }
    }
  }
  return problems;
}

/** A codec reading with `readerSchema` that accepts every release of `name` as a writer schema. */
export function codecWithReleases<T>(readerSchema: avro.Schema, name: SchemaName, releases: readonly SchemaRelease[] = loadReleases(name)): AvroCodec<T> {
  const codec = new AvroCodec<T>(readerSchema, name);
  for (const release of releases) codec.acceptWriterSchema(release.schema);
  return codec;
}

const codecs = new Map<SchemaName, AvroCodec<unknown>>();

/**
 * The codec of one of Driftline's own schemas, created once per process: it writes schemas/<name>.avsc
 * and reads messages written with any released version of it.
 */
export function codecFor<N extends SchemaName>(name: N): AvroCodec<SchemaTypes[N]> {
  let codec = codecs.get(name);
  if (!codec) {
    codec = codecWithReleases<unknown>(loadSchema(name), name);
    codecs.set(name, codec);
  }
  return codec as AvroCodec<SchemaTypes[N]>;
}
