/**
 * Schema releases: `npx tsx cli/schemas.ts` lists, for every schema, whether schemas/<Name>.avsc is its
 * latest release and whether it may be released (fully compatible with every released version);
 * `--release` appends the changed ones to schemas/releases/<Name>.jsonl as the next version.
 * tests/schemas/compatibility.test.ts runs the same checks in the suite.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { compatibilityProblems, loadReleases, loadSchema, releaseOf, releasesPath, schemaFingerprint } from '../core/avro.js';
import avro from 'avsc';
import { SCHEMA_NAMES, type SchemaName } from '../schemas/types.js';

export interface ReleaseStatus {
  name: SchemaName;
  /** The version the current .avsc is released as, null when it is not (a change waiting for release). */
  releasedAs: number | null;
  latest: number;
  problems: string[];
}

export function releaseStatus(name: SchemaName): ReleaseStatus {
  const releases = loadReleases(name);
  const current = loadSchema(name);
  const fingerprint = schemaFingerprint(avro.Type.forSchema(current)).toString('hex');
  const released = releases.find((release) => release.fingerprint === fingerprint);
  return {
    name,
    releasedAs: released ? released.version : null,
    latest: releases.length === 0 ? 0 : releases[releases.length - 1]!.version,
    problems: compatibilityProblems(releases, current),
  };
}

function describe(status: ReleaseStatus): string {
  const state = status.releasedAs !== null ? `released as v${status.releasedAs}` : `changed, not released (latest v${status.latest})`;
  const problems = status.problems.map((problem) => `\n    incompatible: ${problem}`).join('');
  return `${status.name}: ${state}${problems}`;
}

if (process.argv[1] && /schemas\.(ts|js)$/.test(process.argv[1])) {
  const release = process.argv.includes('--release');
  let failed = false;
  for (const name of SCHEMA_NAMES) {
    const status = releaseStatus(name);
    process.stdout.write(`${describe(status)}\n`);
    if (status.problems.length > 0) failed = true;
    else if (release && status.releasedAs === null) {
      const line = releaseOf(loadSchema(name), status.latest + 1);
      mkdirSync(dirname(releasesPath(name)), { recursive: true });
      appendFileSync(releasesPath(name), `${JSON.stringify(line)}\n`);
      process.stdout.write(`  released ${name} v${line.version} (fingerprint ${line.fingerprint})\n`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}
