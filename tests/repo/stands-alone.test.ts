/**
 * The repository stands alone: a user clones it and nothing else. No source, test, script, benchmark, report or
 * committed artifact may read or name a path outside the repository (a `shared/` folder beside it, a machine's
 * absolute path). Every file git would commit is scanned as text.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath, repoRoot } from '../../core/paths.js';

const THIS_FILE = 'tests/repo/stands-alone.test.ts';

/** What reaching outside looks like in code, scripts, configs and documents. */
const OUTSIDE_PATTERNS: Array<{ what: string; pattern: RegExp }> = [
  { what: 'the folder beside the repository (../shared)', pattern: /\.\.\/shared\b/ },
  { what: 'a path of the machine the file was written on', pattern: /(^|[\s"'`(=])\/(work|home|Users)\/[\w.-]/ },
  { what: 'the repository root joined with ..', pattern: /repo(Root|Path)\(\)\s*,\s*['"]\.\.['"]/ },
  { what: 'a helper that resolves the shared folder', pattern: /\bsharedPath\s*\(|DRIFTLINE_SHARED_DIR/ },
];

/** Files that cannot hold a path: compressed data and model weights. */
const BINARY = /\.(gz|bin|png|jpg|jpeg|ico|onnx)$/i;

function committableFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repoRoot(), encoding: 'utf8' });
  return out.split('\0').filter((file) => file !== '' && file !== THIS_FILE && !BINARY.test(file));
}

describe('the repository stands alone', () => {
  it('has files to check (git sees the tree)', () => {
    expect(committableFiles().length).toBeGreaterThan(100);
  });

  it('no file reads or names a path outside the repository', () => {
    const offences: string[] = [];
    for (const file of committableFiles()) {
      let text: string;
      try {
        text = readFileSync(repoPath(file), 'utf8');
      } catch {
        continue; // deleted in the working tree but still in the index
      }
      text.split('\n').forEach((line, index) => {
        for (const { what, pattern } of OUTSIDE_PATTERNS) {
          if (pattern.test(line)) offences.push(`${file}:${index + 1}: ${what}: ${line.trim().slice(0, 160)}`);
        }
      });
    }
    expect(offences).toEqual([]);
  });

  it('the check catches each pattern it names', () => {
    const samples = [
      "readFileSync('../shared/data/reviews.jsonl')",
      '"input": "/work/shared/data/reviews-dev-large.jsonl"',
      "join(repoPath(), '..', 'shared')",
      "sharedPath('data')",
    ];
    for (const sample of samples) expect(OUTSIDE_PATTERNS.some(({ pattern }) => pattern.test(sample)), sample).toBe(true);
    expect(OUTSIDE_PATTERNS.some(({ pattern }) => pattern.test("repoPath('data', 'reviews')"))).toBe(false);
  });
});
