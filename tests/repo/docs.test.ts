/**
 * The documents name real files: every repository path written in backticks in README.md and docs/*.md (a test
 * that proves a guarantee, a script, a config file) must exist, so a reader who follows one finds it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';

const DOCUMENTS = ['README.md', ...readdirSync(repoPath('docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const TOP_FOLDERS = ['api', 'bench', 'bin', 'cli', 'core', 'data', 'deploy', 'docs', 'drift-aggregator', 'ingest', 'models', 'schemas', 'scorer', 'scripts', 'tests', 'trainer'];
/** `tests/x/y.test.ts`, `deploy/prometheus/rules/`, `scripts/services.sh`: a top folder, then a path; globs are left out. */
const PATH = new RegExp(`\`((?:${TOP_FOLDERS.join('|')})/[\\w./-]*)\``, 'g');

function namedPaths(document: string): string[] {
  return [...readFileSync(repoPath(document), 'utf8').matchAll(PATH)].map((m) => m[1]!).filter((p) => !p.includes('*') && !p.includes('<'));
}

describe('documents name files that exist', () => {
  it.each(DOCUMENTS)('%s', (document) => {
    const missing = namedPaths(document).filter((path) => !existsSync(repoPath(path)));
    expect(missing).toEqual([]);
  });
});

describe('docs/reliability.md', () => {
  it('names the test that proves each guarantee', () => {
    expect(namedPaths('docs/reliability.md').filter((p) => p.startsWith('tests/')).length).toBeGreaterThanOrEqual(20);
  });
});
