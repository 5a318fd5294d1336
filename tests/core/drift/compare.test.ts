/**
 * Dataset comparison on real reviews (the shipped Amazon 2018 reviews of data/reviews/, a few hundred per side): the known
 * category shift (Gift_Cards + All_Beauty vs Magazine_Subscriptions: longer texts, more low ratings, new
 * category) is red on those features, two halves of the same sample are green, and the CLI prints it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { compareDatasets, type ReviewRecord } from '../../../core/drift/compare.js';
import { driftCompareCommand, loadReviewsJsonl } from '../../../drift-aggregator/compare-cli.js';
import { AMAZON_2018_SOURCE_PREFIX, readShippedReviewLines } from '../../../core/paths.js';

const all = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX).map((line) => JSON.parse(line) as ReviewRecord & { ts: string });
const shortTexts = all.filter((r) => r.category === 'Gift_Cards' || r.category === 'All_Beauty').slice(0, 800);
const magazines = all.filter((r) => r.category === 'Magazine_Subscriptions').slice(0, 800);

const dir = mkdtempSync(join(tmpdir(), 'drift-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compareDatasets', () => {
  const report = compareDatasets(shortTexts, magazines);
  const byFeature = new Map(report.features.map((f) => [f.feature, f]));

  it('flags the category shift: longer texts, other ratings, an unseen category', () => {
    expect(report.status).toBe('red');
    expect(byFeature.get('feature.text_chars')?.status).toBe('red');
    expect(byFeature.get('rating')?.status).not.toBe('green');
    const category = byFeature.get('category');
    expect(category?.status).toBe('red');
    expect(category?.metrics.find((m) => m.metric === 'unseen_rate')?.value).toBe(1);
  });

  it('reports every monitored value with the same metric set as the live monitoring', () => {
    expect(byFeature.get('feature.text_chars')?.metrics.map((m) => m.metric)).toEqual(['psi', 'ks', 'js_distance', 'wasserstein', 'kl_divergence']);
    expect(byFeature.get('rating')?.metrics.map((m) => m.metric)).toEqual(['psi', 'js_distance', 'chi_square', 'kl_divergence', 'unseen_rate']);
    expect([...byFeature.keys()]).toEqual(expect.arrayContaining(['feature.text_words', 'feature.title_chars', 'helpful_votes', 'verified', 'category']));
  });

  it('two halves of the same sample are green on every feature', () => {
    const mixed = [...shortTexts, ...magazines];
    const same = compareDatasets(
      mixed.filter((_, i) => i % 2 === 0),
      mixed.filter((_, i) => i % 2 === 1),
    );
    expect(same.features.filter((f) => f.status !== 'green').map((f) => `${f.feature}: ${f.drivers.join(',')}`)).toEqual([]);
  });

  it('counts missing values (null helpful votes) instead of failing', () => {
    const partial = magazines.slice(0, 300).map((r, i) => (i % 3 === 0 ? { ...r, helpful_votes: null } : r));
    const result = compareDatasets(magazines.slice(300, 600), partial);
    expect(result.features.find((f) => f.feature === 'helpful_votes')?.currentMissing).toBe(100);
  });

  it('an empty current dataset is insufficient, not an error', () => {
    const result = compareDatasets(shortTexts, []);
    expect(result.status).toBe('green');
    expect(result.features.every((f) => f.insufficient)).toBe(true);
  });
});

describe('driftline drift compare', () => {
  const referenceFile = join(dir, 'reference.jsonl');
  const currentFile = join(dir, 'current.jsonl');
  writeFileSync(referenceFile, `${shortTexts.map((r) => JSON.stringify(r)).join('\n')}\nnot json\n{"review_id": "no-text", "rating": 5}\n`);
  writeFileSync(currentFile, `${magazines.map((r) => JSON.stringify(r)).join('\n')}\n`);

  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err += String(chunk);
      return true;
    });
    try {
      return { code: await driftCompareCommand.run(argv), out, err };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it('reads JSONL, counting bad lines by error code', async () => {
    const loaded = await loadReviewsJsonl(referenceFile);
    expect(loaded.records).toHaveLength(shortTexts.length);
    expect(loaded.invalid).toEqual({ RECORD_UNPARSEABLE: 1, FIELD_MISSING: 1 });
  });

  it('prints an aligned table with feature, metric, value, p-value and status', async () => {
    const { code, out } = await run(['compare', '--reference', referenceFile, '--current', currentFile]);
    expect(code).toBe(0);
    const lines = out.split('\n');
    const header = lines.find((line) => line.startsWith('feature'));
    expect(header).toMatch(/^feature\s+metric\s+value\s+amber\s+red\s+p \(adj\.\)\s+status$/);
    const row = lines.find((line) => line.startsWith('feature.text_chars ') && line.includes(' ks '));
    expect(row).toMatch(/\sred$/);
    expect(out).toContain('skipped 1 RECORD_UNPARSEABLE, 1 FIELD_MISSING');
    expect(out).toMatch(/overall status: red/);
  });

  it('--json prints the report; --fail-on red exits 1 on red drift', async () => {
    const { code, out } = await run(['compare', '--reference', referenceFile, '--current', currentFile, '--json', '--fail-on', 'red']);
    expect(code).toBe(1);
    const report = JSON.parse(out) as { status: string; input: { reference: { valid: number } }; features: Array<{ feature: string }> };
    expect(report.status).toBe('red');
    expect(report.input.reference.valid).toBe(shortTexts.length);
    expect(report.features.map((f) => f.feature)).toContain('category');
  });

  it('also takes the options without the subcommand (a parent command consumed `compare`)', async () => {
    const { code, out } = await run(['--reference', referenceFile, '--current', currentFile, '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(out) as { status: string }).status).toBe('red');
  });

  it('bad arguments exit 2 with the usage; a missing file exits 1 naming it', async () => {
    expect((await run(['compare', '--reference', referenceFile])).code).toBe(2);
    expect((await run(['diff'])).code).toBe(2);
    const missing = await run(['compare', '--reference', join(dir, 'nope.jsonl'), '--current', currentFile]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('nope.jsonl');
  });
});
