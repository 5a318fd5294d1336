/** Shipped files and data paths (core/paths.ts): the compressed review data reads as the JSONL it was made from. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { AMAZON_2018_SOURCE_PREFIX, openDataFile, readShippedReviewLines, repoPath, repoRelative, SHIPPED_REVIEWS } from '../../core/paths.js';
import { detectFormat } from '../../ingest/index.js';

const dir = mkdtempSync(join(tmpdir(), 'driftline-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(path: string): Promise<string> {
  let text = '';
  for await (const chunk of openDataFile(path)) text += (chunk as Buffer).toString('utf8');
  return text;
}

describe('data files', () => {
  it('opens a .gz file gunzipped and a plain file as it is', async () => {
    const body = '{"review_id":"a"}\n{"review_id":"b"}\n';
    writeFileSync(join(dir, 'r.jsonl'), body);
    writeFileSync(join(dir, 'r.jsonl.gz'), gzipSync(body));
    expect(await readAll(join(dir, 'r.jsonl'))).toBe(body);
    expect(await readAll(join(dir, 'r.jsonl.gz'))).toBe(body);
  });

  it('reads the shipped reviews: 35,436 lines, 4,876 of them Amazon 2018 5-core', () => {
    const all = readShippedReviewLines();
    expect(all).toHaveLength(35_436);
    const dev = readShippedReviewLines(AMAZON_2018_SOURCE_PREFIX);
    expect(dev).toHaveLength(4_876);
    for (const line of dev.slice(0, 50)) expect((JSON.parse(line) as { source: string }).source.startsWith(AMAZON_2018_SOURCE_PREFIX)).toBe(true);
  });

  it('names files inside the repository relative to it, others absolute', () => {
    expect(repoRelative(repoPath(SHIPPED_REVIEWS))).toBe(SHIPPED_REVIEWS);
    expect(repoRelative(join(dir, 'r.jsonl'))).toBe(join(dir, 'r.jsonl'));
  });

  it('detects the format through a .gz suffix', () => {
    expect(detectFormat('reviews.csv.gz')).toBe('csv');
    expect(detectFormat('reviews.jsonl.gz')).toBe('jsonl');
  });
});
