/**
 * The documentation tables generated from code: every environment variable (SETTINGS_CATALOG, filled
 * by each component's defineSettings) and every error code (ERROR_CODES). docs/configuration.md and
 * docs/errors.md hold them between markers; tests/cli/catalog.test.ts fails when they drift apart, and
 * `npx tsx cli/catalog.ts --write` rewrites them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS_CATALOG, type SettingSpec } from '../core/config.js';
import { ERROR_CODES, ERROR_CODE_LIST } from '../core/errors.js';
import { repoPath } from '../core/paths.js';

/** Every module that declares settings; imported for their side effect of registering them. */
async function importSettingModules(): Promise<void> {
  await import('../core/config.js');
  await import('../core/data-location.js');
  await import('../core/tracing.js');
  await import('../core/model/config.js');
  await import('../core/artifact-store/config.js');
  await import('../core/model/registry/index.js');
  await import('../core/model/service.js');
  await import('../core/model/shadow-gate.js');
  await import('../core/drift/config.js');
  await import('../ingest/config.js');
  await import('../scorer/config.js');
  await import('../drift-aggregator/config.js');
  await import('../trainer/config.js');
  await import('../api/config.js');
}

function formatDefault(spec: SettingSpec): string {
  const value = spec.default;
  if (Array.isArray(value)) return value.length ? `\`${value.join(',')}\`` : '(empty)';
  if (value === '') return '(empty)';
  return `\`${String(value)}\``;
}

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export async function settingsTable(): Promise<string> {
  await importSettingModules();
  const seen = new Set<string>();
  const rows = ['| variable | component | default | meaning |', '|---|---|---|---|'];
  for (const declaration of SETTINGS_CATALOG) {
    for (const spec of Object.values(declaration.spec)) {
      if (seen.has(spec.env)) continue;
      seen.add(spec.env);
      const choices = spec.choices ? ` One of: ${spec.choices.join(', ')}.` : '';
      rows.push(`| \`${spec.env}\` | ${declaration.component} | ${formatDefault(spec)} | ${escapeCell(spec.description + choices)} |`);
    }
  }
  return rows.join('\n');
}

export function errorTable(): string {
  const rows = ['| code | HTTP | retriable | meaning |', '|---|---|---|---|'];
  for (const code of ERROR_CODE_LIST) {
    const spec = ERROR_CODES[code];
    rows.push(`| \`${code}\` | ${spec.http} | ${spec.retriable ? 'yes' : 'no'} | ${escapeCell(spec.description)} |`);
  }
  return rows.join('\n');
}

export function replaceSection(document: string, marker: string, body: string): string {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the document has no ${start} ... ${end} section`);
  return `${document.slice(0, from + start.length)}\n${body}\n${document.slice(to)}`;
}

/** The generated documents: where each lives, which marker it holds, and how its table is made. */
export const GENERATED_DOCS = [
  { path: 'docs/configuration.md', marker: 'config-table', table: settingsTable },
  { path: 'docs/errors.md', marker: 'error-table', table: async () => errorTable() },
] as const;

/** A generated document as `--write` would leave it. */
export async function renderDoc(doc: (typeof GENERATED_DOCS)[number], text: string): Promise<string> {
  return replaceSection(text, doc.marker, await doc.table());
}

if (process.argv[1] && /catalog\.(ts|js)$/.test(process.argv[1]) && process.argv.includes('--write')) {
  for (const doc of GENERATED_DOCS) {
    const path = repoPath(doc.path);
    writeFileSync(path, await renderDoc(doc, readFileSync(path, 'utf8')));
    process.stdout.write(`${doc.path}: table rewritten\n`);
  }
}
