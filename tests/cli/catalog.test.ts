import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorTable, renderReadme, settingsTable } from '../../cli/catalog.js';
import { ERROR_CODE_LIST } from '../../core/errors.js';
import { repoPath } from '../../core/paths.js';

const readme = readFileSync(repoPath('README.md'), 'utf8');

describe('README tables stay in step with the code', () => {
  it('lists every error code, and only those, as core/errors.ts defines them', () => {
    const inReadme = [...readme.matchAll(/^\| `([A-Z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
    expect(inReadme.sort()).toEqual([...ERROR_CODE_LIST].sort());
    expect(readme).toContain(errorTable());
  });

  it('lists every DRIFTLINE_* environment variable with its default', async () => {
    expect(readme).toContain(await settingsTable());
  });

  it('is exactly what `npx tsx cli/catalog.ts --write` would write', async () => {
    expect(await renderReadme(readme)).toBe(readme);
  });
});
