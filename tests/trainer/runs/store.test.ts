/** The run store on a real temp directory: atomic runs, unique ids, newest-first listing, safe artifact reads. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RUNS_SUBDIR, compactTimestamp, openRunStore, runsDirFor, type RunStore } from '../../../trainer/runs/store.js';
import type { RunInput, RunKind } from '../../../trainer/runs/types.js';

let dir: string;
let store: RunStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-runs-store-'));
  store = openRunStore(join(dir, 'runs'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function input(kind: RunKind, version = 1): RunInput {
  return {
    kind,
    model: { name: 'reviews', version, parentVersion: kind === 'train' ? version - 1 : null },
    params: { epochs: 2 },
    data: { fingerprint: 'ab'.repeat(32), rows: 10, files: ['data/sample/reviews-sample.jsonl'] },
    metrics: { accuracy: 0.5 },
    notes: [],
  };
}

const at = (iso: string) => new Date(iso);

describe('run store', () => {
  it('writes a run and its artifacts, and reads them back', async () => {
    const run = await store.create(input('train', 2), [
      { name: 'metrics.json', content: '{"a":1}\n', description: 'numbers' },
      { name: 'picture.png', content: Buffer.from([0x89, 0x50, 0x4e, 0x47]), description: 'a picture' },
    ], at('2026-12-06T20:17:36.123Z'));
    expect(run.id).toBe('train_20261206T201736123Z');
    expect(run.createdAt).toBe('2026-12-06T20:17:36.123Z');
    expect(run.artifacts).toEqual([
      { name: 'metrics.json', contentType: 'application/json', bytes: 8, description: 'numbers' },
      { name: 'picture.png', contentType: 'image/png', bytes: 4, description: 'a picture' },
    ]);
    expect(await store.get(run.id)).toEqual(run);
    expect(JSON.parse(await readFile(join(dir, 'runs', run.id, 'run.json'), 'utf8'))).toEqual(run);
    const picture = await store.artifact(run.id, 'picture.png');
    expect(picture.contentType).toBe('image/png');
    expect([...picture.content]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('gives runs started in the same millisecond distinct ids and leaves no temporary folder', async () => {
    const now = at('2026-12-06T20:00:00.000Z');
    const runs = await Promise.all([1, 2, 3].map((v) => store.create(input('eval', v), [], now)));
    expect(new Set(runs.map((r) => r.id)).size).toBe(3);
    expect(runs.map((r) => r.id).sort()).toEqual(['eval_20261206T200000000Z', 'eval_20261206T200000001Z', 'eval_20261206T200000002Z']);
    expect((await readdir(join(dir, 'runs'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('lists newest first across kinds, filters by kind and pages', async () => {
    await store.create(input('train'), [], at('2026-12-06T10:00:00.000Z'));
    await store.create(input('eval'), [], at('2026-12-06T11:00:00.000Z'));
    await store.create(input('train'), [], at('2026-12-06T12:00:00.000Z'));
    await store.create(input('infer'), [], at('2026-12-06T09:00:00.000Z'));
    const all = await store.list();
    expect(all.total).toBe(4);
    expect(all.runs.map((r) => r.id)).toEqual(['train_20261206T120000000Z', 'eval_20261206T110000000Z', 'train_20261206T100000000Z', 'infer_20261206T090000000Z']);
    const trains = await store.list({ kind: 'train' });
    expect(trains).toMatchObject({ total: 2, runs: [{ id: 'train_20261206T120000000Z' }, { id: 'train_20261206T100000000Z' }] });
    const page = await store.list({ offset: 1, limit: 2 });
    expect(page.total).toBe(4);
    expect(page.runs.map((r) => r.id)).toEqual(['eval_20261206T110000000Z', 'train_20261206T100000000Z']);
    expect((await openRunStore(join(dir, 'absent')).list()).total).toBe(0);
  });

  it('answers NOT_FOUND for unknown or malformed ids and for names the run does not list', async () => {
    const run = await store.create(input('eval'), [{ name: 'metrics.json', content: '{}', description: 'x' }]);
    await expect(store.get('eval_20200101T000000000Z')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.get('../etc')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.get(`${run.id}/../x`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    for (const name of ['../run.json', 'run.json', '.hidden', '..', 'missing.png', 'metrics.json/..']) {
      await expect(store.artifact(run.id, name)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await store.artifact(run.id, 'metrics.json')).contentType).toBe('application/json');
  });

  it('refuses an artifact name that is not a plain file name, writing nothing', async () => {
    await expect(store.create(input('train'), [{ name: '../escape.svg', content: '<svg/>', description: 'x' }])).rejects.toMatchObject({ code: 'INTERNAL' });
    expect((await store.list()).total).toBe(0);
  });

  it('lives in _runs inside the registry directory unless DRIFTLINE_RUNS_DIR says otherwise', () => {
    expect(runsDirFor('/data/registry', {})).toBe(join('/data/registry', DEFAULT_RUNS_SUBDIR));
    expect(runsDirFor('/data/registry', { DRIFTLINE_RUNS_DIR: '/data/runs' })).toBe('/data/runs');
    expect(compactTimestamp(at('2026-01-02T03:04:05.006Z'))).toBe('20260102T030405006Z');
  });
});
