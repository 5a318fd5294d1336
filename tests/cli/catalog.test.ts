import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorTable, GENERATED_DOCS, renderDoc, settingsTable } from '../../cli/catalog.js';
import { ERROR_CODE_LIST } from '../../core/errors.js';
import { repoPath } from '../../core/paths.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');

describe('generated documentation tables stay in step with the code', () => {
  it('docs/errors.md lists every error code, and only those, as core/errors.ts defines them', () => {
    const errors = read('docs/errors.md');
    const listed = [...errors.matchAll(/^\| `([A-Z_]+)` \| \d{3} \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ERROR_CODE_LIST].sort());
    expect(errors).toContain(errorTable());
  });

  it('docs/configuration.md lists every DRIFTLINE_* environment variable with its default', async () => {
    expect(read('docs/configuration.md')).toContain(await settingsTable());
  });

  it.each(GENERATED_DOCS.map((doc) => [doc.path, doc] as const))('%s is exactly what `npx tsx cli/catalog.ts --write` would write', async (path, doc) => {
    const text = read(path);
    expect(await renderDoc(doc, text)).toBe(text);
  });

  it('the README points to both documents', () => {
    const readme = read('README.md');
    for (const doc of GENERATED_DOCS) expect(readme).toContain(`](${doc.path})`);
  });
});
