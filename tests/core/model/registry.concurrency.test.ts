/**
 * Two separate processes register versions into one registry at the same time while this process
 * keeps reading index.json: no version number may be lost or handed out twice, every artifact
 * directory must belong to the record that names it, and every read of the index must be valid JSON.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { repoPath } from '../../../core/paths.js';
import { openRegistry } from '../../../core/model/registry/index.js';

const PER_WRITER = 12;
const WRITERS = ['a', 'b'];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftline-registry-race-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function writerScript(registryDir: string): string {
  const registryModule = pathToFileURL(repoPath('core', 'model', 'registry', 'index.ts')).href;
  return `
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistry } from ${JSON.stringify(registryModule)};

const writer = process.argv[2];
const registryDir = ${JSON.stringify(registryDir)};
await writeFile(join(registryDir, 'ready-' + writer), '');
while (!existsSync(join(registryDir, 'go'))) await new Promise((r) => setTimeout(r, 5));
const registry = openRegistry(registryDir, { lockWaitMs: 2000, conflictRetries: 10 });
for (let i = 0; i < ${PER_WRITER}; i++) {
  const result = await registry.register({
    name: 'race',
    writeArtifacts: (dir) => writeFile(join(dir, 'owner.txt'), writer + ':' + i),
    metrics: { macroF1: 0.5 },
    baseline: { formatVersion: 1, modelName: 'race', modelVersion: 0, createdAtMs: 0, rows: 0, features: {},
      reference: { accuracy: 0, macroF1: 0, meanConfidence: 0, outlierRate: 0 } },
    featurizer: null,
    dataFingerprint: writer,
    params: { writer, i },
    timings: {},
  });
  await registry.recordRun('race', { kind: 'training', version: result.version, writer });
}
`;
}

function runWriter(script: string, writer: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('npx', ['tsx', script, writer], { cwd: repoPath(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolveRun({ code, stderr }));
  });
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

it('two concurrent writer processes lose and duplicate no version, and the index is always valid JSON', async () => {
  const script = join(dir, 'writer.mts');
  await writeFile(script, writerScript(dir));
  const writers = WRITERS.map((writer) => runWriter(script, writer));
  let finished = false;
  const done = Promise.all(writers).finally(() => (finished = true));

  // Release both writers at once, then read the index continuously while they run.
  while (!(await Promise.all(WRITERS.map((w) => exists(join(dir, `ready-${w}`))))).every(Boolean)) {
    if (finished) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await writeFile(join(dir, 'go'), '');
  const indexPath = join(dir, 'race', 'index.json');
  let reads = 0;
  const invalid: string[] = [];
  while (!finished) {
    try {
      const raw = await readFile(indexPath, 'utf8');
      reads += 1;
      try {
        JSON.parse(raw);
      } catch {
        invalid.push(raw.slice(0, 80));
      }
    } catch {
      // not created yet
    }
    await new Promise((r) => setImmediate(r));
  }
  const results = await done;
  for (const result of results) expect(result.stderr).toBe('');
  expect(results.map((r) => r.code)).toEqual([0, 0]);
  expect(invalid).toEqual([]);
  expect(reads).toBeGreaterThan(0);

  const registry = openRegistry(dir);
  const records = await registry.list('race');
  const total = PER_WRITER * WRITERS.length;
  expect(records.map((r) => r.version)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  for (const record of records) {
    const owner = await readFile(join(registry.versionDir('race', record.version), 'owner.txt'), 'utf8');
    expect(owner).toBe(`${String(record.params['writer'])}:${String(record.params['i'])}`);
  }
  for (const writer of WRITERS) {
    expect(records.filter((r) => r.params['writer'] === writer).map((r) => r.params['i'])).toEqual(Array.from({ length: PER_WRITER }, (_, i) => i));
  }
  const runs = await registry.runs('race');
  expect(runs.map((r) => r.version).sort((x, y) => Number(x) - Number(y))).toEqual(records.map((r) => r.version));
  // No lock or half-registered directory left behind.
  expect((await readdir(join(dir, 'race'))).sort()).toEqual(['index.json', 'runs.jsonl', 'versions']);
});
