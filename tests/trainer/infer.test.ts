/**
 * Batch inference (`driftline infer`): the shipped model on real files. Bad lines are counted with the codes
 * ingest gives them (data/broken/expected.json), valid ones are scored and written, and the job is an infer_ run.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { repoPath } from '../../core/paths.js';
import { commands } from '../../trainer/cli.js';
import { runBatchInference } from '../../trainer/infer.js';
import { openRunStore, runsDirFor, type RunStore } from '../../trainer/runs/store.js';

let root: string;
let registry: ModelRegistry;
let store: RunStore;
const BROKEN = repoPath('data', 'broken', 'broken-reviews.jsonl');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-infer-'));
  registry = openRegistry(join(root, 'registry'));
  await registry.seedFromDirectory('reviews', repoPath('models', 'default'), { actor: 'test' });
  store = openRunStore(runsDirFor(registry.root, {}));
});

afterAll(async () => {
  vi.restoreAllMocks();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('batch inference', () => {
  it('skips each broken line under the code ingest gives it, scores the rest and records an infer_ run', async () => {
    const expected = JSON.parse(await readFile(repoPath('data', 'broken', 'expected.json'), 'utf8')) as Record<string, Array<{ expect: string; review_id: string | null }>>;
    const lines = expected['broken-reviews.jsonl']!;
    const tally: Record<string, number> = {};
    for (const line of lines) if (line.expect !== 'valid') tally[line.expect] = (tally[line.expect] ?? 0) + 1;
    const valid = lines.filter((line) => line.expect === 'valid').map((line) => line.review_id);

    const out = join(root, 'predictions.jsonl');
    const warnings: string[] = [];
    const result = await runBatchInference({ registry, name: 'reviews', file: BROKEN, out, runs: store, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(result.invalid).toEqual(tally);
    expect(result.rows).toBe(valid.length);
    expect(result.invalidExamples[0]).toMatchObject({ line: 3, code: 'RECORD_UNPARSEABLE' });
    const written = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { review_id: string; model_version: number; confidence: number });
    expect(written.map((p) => p.review_id)).toEqual(valid);
    expect(written.every((p) => p.model_version === 1 && p.confidence > 0 && p.confidence <= 1)).toBe(true);

    const run = await store.get(result.runId!);
    expect(run).toMatchObject({ kind: 'infer', model: { name: 'reviews', version: 1 }, data: { rows: valid.length, files: ['data/broken/broken-reviews.jsonl'] }, params: { version: 1, predictionsWritten: true } });
    expect(run.id).toMatch(/^infer_\d{8}T\d{9}Z$/);
    expect(run.metrics).toMatchObject({ invalid: tally, invalidRows: lines.length - valid.length });
    expect(run.data.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('measures a batch of real reviews against the ratings and the reference baseline, through the CLI', async () => {
    const sample = (await readFile(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8')).split('\n').slice(0, 400).join('\n');
    await writeFile(join(root, 'batch.jsonl'), `${sample}\n`);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const infer = commands.find((c) => c.name === 'infer')!;
    expect(await infer.run(['--data', join(root, 'batch.jsonl'), '--registry', registry.root, '--json'])).toBe(0);
    const result = JSON.parse(out.join('')) as { rows: number; runId: string; invalid: Record<string, number> };
    expect(result).toMatchObject({ rows: 400, invalid: {} });
    const run = await store.get(result.runId);
    expect(run.metrics['accuracy']).toBeGreaterThan(0.6);
    expect(['green', 'amber', 'red']).toContain((run.metrics['drift'] as { status: string }).status);
    expect(run.artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(['confusion-sentiment.png', 'calibration-sentiment.png', 'drift-report.json']));
    expect((await store.list({ kind: 'infer' })).total).toBe(2);

    expect(await infer.run(['--registry', registry.root])).toBe(2);
    expect(await infer.run(['--data', join(root, 'batch.jsonl'), '--registry', registry.root, '--version', '9'])).toBe(1);
  });
});
