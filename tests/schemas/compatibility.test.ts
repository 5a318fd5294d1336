/**
 * The schema release rule, run in the suite so CI refuses an incompatible schema before it ships:
 * every schemas/<Name>.avsc is a released version (schemas/releases/<Name>.jsonl, appended by
 * `npx tsx cli/schemas.ts --release`), released lines are never edited (their fingerprint still
 * matches), and every version is fully compatible with every other one (Avro resolution both ways).
 * The checker itself is shown to refuse the changes the rule forbids.
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { compatibilityProblems, loadReleases, loadSchema, releaseOf, schemaFingerprint, type SchemaRelease } from '../../core/avro.js';
import { SCHEMA_NAMES } from '../../schemas/types.js';
import { releaseStatus } from '../../cli/schemas.js';

type Field = { name: string; type: avro.Schema; default?: unknown };

/** ReviewEvent with its fields changed by `edit` (a candidate next version). */
function reviewEventWith(edit: (fields: Field[]) => Field[]): avro.schema.RecordType {
  const schema = loadSchema('ReviewEvent');
  return { ...schema, fields: edit([...(schema.fields as Field[])]) as avro.schema.RecordType['fields'] };
}

describe('released schema versions', () => {
  it.each(SCHEMA_NAMES)('%s: the current .avsc is released (else: npx tsx cli/schemas.ts --release)', (name) => {
    expect(releaseStatus(name).releasedAs).not.toBeNull();
  });

  it.each(SCHEMA_NAMES)('%s: versions are numbered 1..n and each fingerprint is its schema\'s CRC-64-AVRO', (name) => {
    const releases = loadReleases(name);
    expect(releases.length).toBeGreaterThan(0);
    releases.forEach((release, i) => {
      expect(release.version).toBe(i + 1);
      expect(release.fingerprint).toBe(schemaFingerprint(avro.Type.forSchema(release.schema)).toString('hex'));
    });
  });

  it.each(SCHEMA_NAMES)('%s: every released version reads every other one (full transitive compatibility)', (name) => {
    const releases = loadReleases(name);
    for (let i = 0; i < releases.length; i++) {
      expect(compatibilityProblems(releases.slice(0, i), releases[i]!.schema), `v${releases[i]!.version}`).toEqual([]);
    }
    expect(compatibilityProblems(releases, loadSchema(name))).toEqual([]);
  });
});

describe('the compatibility check refuses what the release rule forbids', () => {
  const released: SchemaRelease[] = [releaseOf(loadSchema('ReviewEvent'), 1)];

  it('accepts a new optional field with a default (the one-line release)', () => {
    const v2 = reviewEventWith((fields) => [...fields, { name: 'language', type: ['null', 'string'], default: null }]);
    expect(compatibilityProblems(released, v2)).toEqual([]);
  });

  it('accepts removing a field that has a default (old readers fill it in)', () => {
    const v2 = reviewEventWith((fields) => fields.filter((field) => field.name !== 'source'));
    expect(compatibilityProblems(released, v2)).toEqual([]);
  });

  it('refuses a new required field without a default (new readers cannot read old data)', () => {
    const v2 = reviewEventWith((fields) => [...fields, { name: 'language', type: 'string' }]);
    const problems = compatibilityProblems(released, v2);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^v1 data read with the candidate/);
  });

  it('refuses removing a required field (old readers cannot read new data)', () => {
    const v2 = reviewEventWith((fields) => fields.filter((field) => field.name !== 'text'));
    const problems = compatibilityProblems(released, v2);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^candidate data read by a v1 reader/);
  });

  it('refuses a type change (int rating to string) both ways', () => {
    const v2 = reviewEventWith((fields) => fields.map((field) => (field.name === 'rating' ? { ...field, type: 'string' } : field)));
    expect(compatibilityProblems(released, v2)).toHaveLength(2);
  });

  it('refuses a widening (int to long) that old readers cannot read', () => {
    const v2 = reviewEventWith((fields) => fields.map((field) => (field.name === 'rating' ? { ...field, type: 'long' } : field)));
    expect(compatibilityProblems(released, v2)).toEqual([expect.stringMatching(/^candidate data read by a v1 reader/)]);
  });

  it('checks against every earlier version, not just the latest', () => {
    const v2 = reviewEventWith((fields) => [...fields, { name: 'language', type: ['null', 'string'], default: null }]);
    // v3 drops the default of v2's field: fine against v2 alone? No: v1 data has no language field.
    const v3 = reviewEventWith((fields) => [...fields, { name: 'language', type: ['null', 'string'] }]);
    const problems = compatibilityProblems([...released, releaseOf(v2, 2)], v3);
    expect(problems.some((problem) => problem.startsWith('v1 data read with the candidate'))).toBe(true);
  });
});
