/**
 * schemas/types.ts is written by hand; this proves it agrees with the .avsc files: the typed samples
 * (tests/schemas/samples.ts, checked by tsc against the interfaces) have exactly the schema's field names,
 * null exactly where the schema allows it, the right primitive kind per field, and are valid Avro.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { loadSchema } from '../../core/avro.js';
import { repoPath } from '../../core/paths.js';
import { DRIFT_STATUSES, PROMOTION_ACTIONS, SCHEMA_NAMES, SENTIMENTS, STAGES, type SchemaName } from '../../schemas/types.js';
import { NULL_SAMPLES, SAMPLES } from './samples.js';

type FieldSchema = { name: string; type: avro.Schema; doc?: string };

function fieldsOf(name: SchemaName): FieldSchema[] {
  return loadSchema(name).fields as FieldSchema[];
}

function branches(type: avro.Schema): avro.Schema[] {
  return Array.isArray(type) ? type : [type];
}

function isNullable(type: avro.Schema): boolean {
  return branches(type).includes('null');
}

/** The JavaScript kind avsc decodes a non-null Avro type to. */
function jsKind(type: avro.Schema): string {
  const branch = branches(type).find((b) => b !== 'null');
  const typeName = typeof branch === 'string' ? branch : (branch as { type: string }).type;
  switch (typeName) {
    case 'string':
      return 'string';
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'bytes':
      return 'Buffer';
    case 'array':
      return 'array';
    case 'map':
    case 'record':
      return 'object';
    default:
      return `unsupported ${typeName}`;
  }
}

function kindOf(value: unknown): string {
  if (Buffer.isBuffer(value)) return 'Buffer';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function docSymbols(name: SchemaName, field: string): string[] {
  const doc = fieldsOf(name).find((f) => f.name === field)?.doc ?? '';
  return doc.split('|').map((s) => s.trim());
}

/** The interfaces of schemas/types.ts as written: property name → type text (parsed, not evaluated). */
function declaredInterfaces(): Map<string, Array<{ name: string; type: string }>> {
  const path = repoPath('schemas', 'types.ts');
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, Array<{ name: string; type: string }>>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node)) return;
    const members = node.members.filter(ts.isPropertySignature).map((m) => ({ name: m.name.getText(source), type: m.type?.getText(source) ?? '' }));
    out.set(node.name.text, members);
  });
  return out;
}

/** TypeScript spelling expected for a non-null Avro type (string fields may use a literal-union alias). */
function tsKindMatches(avroType: avro.Schema, tsType: string): boolean {
  const base = tsType.replace(/\s*\|\s*null$/, '');
  switch (jsKind(avroType)) {
    case 'number':
      return base === 'number';
    case 'boolean':
      return base === 'boolean';
    case 'Buffer':
      return base === 'Buffer';
    case 'array':
      return base.endsWith('[]');
    case 'object':
      return base.startsWith('Record<string,');
    default:
      return !['number', 'boolean', 'Buffer'].includes(base) && !base.endsWith('[]');
  }
}

describe.each(SCHEMA_NAMES)('%s: types.ts agrees with the .avsc', (name) => {
  const fields = fieldsOf(name);
  const type = avro.Type.forSchema(loadSchema(name));

  it('the interface declares the schema fields in order, `| null` exactly where the schema is nullable, and matching kinds', () => {
    const declared = declaredInterfaces().get(name) ?? [];
    expect(declared.map((m) => m.name)).toEqual(fields.map((f) => f.name));
    const nullMismatch = fields.filter((f, i) => /\|\s*null$/.test(declared[i]?.type ?? '') !== isNullable(f.type)).map((f) => f.name);
    expect(nullMismatch).toEqual([]);
    const kindMismatch = fields.filter((f, i) => !tsKindMatches(f.type, declared[i]?.type ?? '')).map((f) => `${f.name}: ${declared[fields.indexOf(f)]?.type}`);
    expect(kindMismatch).toEqual([]);
  });

  it('the typed sample has exactly the schema field names', () => {
    expect(Object.keys(SAMPLES[name]).sort()).toEqual(fields.map((f) => f.name).sort());
    expect(Object.keys(NULL_SAMPLES[name]).sort()).toEqual(fields.map((f) => f.name).sort());
  });

  it('both samples are valid Avro values', () => {
    const errors: string[] = [];
    for (const value of [SAMPLES[name], NULL_SAMPLES[name]]) type.isValid(value, { errorHook: (path) => errors.push(path.join('.')) });
    expect(errors).toEqual([]);
  });

  it('every field has the primitive kind its Avro type decodes to', () => {
    const sample = SAMPLES[name] as unknown as Record<string, unknown>;
    const mismatches = fields.filter((f) => kindOf(sample[f.name]) !== jsKind(f.type)).map((f) => `${f.name}: ${kindOf(sample[f.name])} vs ${jsKind(f.type)}`);
    expect(mismatches).toEqual([]);
  });

  it('null is accepted exactly by the nullable fields', () => {
    const sample = SAMPLES[name] as unknown as Record<string, unknown>;
    const wrong = fields.filter((f) => type.isValid({ ...sample, [f.name]: null }) !== isNullable(f.type)).map((f) => f.name);
    expect(wrong).toEqual([]);
    const nulled = NULL_SAMPLES[name] as unknown as Record<string, unknown>;
    const nullableNotNulled = fields.filter((f) => isNullable(f.type) && nulled[f.name] !== null).map((f) => f.name);
    expect(nullableNotNulled).toEqual([]);
  });
});

describe('string enumerations in types.ts match the schema docs', () => {
  it('sentiment, stages, promotion actions, dead-letter stages, alert status', () => {
    expect(docSymbols('ScoredReview', 'sentiment')).toEqual([...SENTIMENTS]);
    expect(docSymbols('ModelPromotion', 'to_stage')).toEqual([...STAGES]);
    expect(docSymbols('ModelPromotion', 'action')).toEqual([...PROMOTION_ACTIONS]);
    expect(docSymbols('DeadLetter', 'stage')).toEqual(['ingest', 'scorer', 'aggregator']);
    expect(docSymbols('DriftAlert', 'status')).toEqual([...DRIFT_STATUSES]);
  });

  it('DriftAlertItem fields match the nested record', () => {
    const items = fieldsOf('DriftAlert').find((f) => f.name === 'items')!.type as { items: { fields: FieldSchema[] } };
    expect(Object.keys(SAMPLES.DriftAlert.items[0]!).sort()).toEqual(items.items.fields.map((f) => f.name).sort());
  });
});
