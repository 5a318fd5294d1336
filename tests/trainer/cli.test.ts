import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openRegistry } from '../../core/model/registry/index.js';
import { commands } from '../../trainer/cli.js';
import { syntheticReviews } from './fixtures.js';

let root: string;
const command = (name: string) => commands.find((c) => c.name === name)!;
const small = ['--buckets', '4096', '--dim', '8', '--epochs', '2', '--no-baseline', '--param', 'outlierFitRows=300', '--param', 'forestTrees=10', '--param', 'hidden=16', '--param', 'categoryMinRows=20'];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-train-cli-'));
  const rows = syntheticReviews(500, 41).map(({ event_time_ms, ...r }) => ({ ...r, ts: new Date(event_time_ms ?? 0).toISOString() }));
  await writeFile(join(root, 'data.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
});

afterAll(async () => {
  vi.restoreAllMocks();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('driftline train / evaluate', () => {
  it('exports train, evaluate, infer, models, runs and retrain-policy', () => {
    expect(commands.map((c) => c.name).sort()).toEqual(['evaluate', 'infer', 'models', 'retrain-policy', 'runs', 'train']);
  });

  it('answers bad arguments with exit code 2', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await command('train').run([])).toBe(2);
    expect(await command('train').run(['--data', 'x.jsonl', '--bogus'])).toBe(2);
    expect(await command('train').run(['--data', 'x.jsonl', '--param', 'nope=1'])).toBe(2);
  });

  it('retrain-policy: bad arguments exit 2; with the policy off (the default) it refuses to start', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    expect(await command('retrain-policy').run(['--bogus'])).toBe(2);
    expect(await command('retrain-policy').run(['--once'])).toBe(1);
    expect(err.join('')).toContain('CONFIG_INVALID: the retrain policy is off: set DRIFTLINE_RETRAIN_POLICY=true');
  });

  it('trains, registers, promotes with --promote --no-publish, writes the report; evaluate scores the held-out part', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const registryDir = join(root, 'registry');
    const code = await command('train').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, '--report', join(root, 'report.json'), '--promote', '--no-publish', ...small]);
    expect(code).toBe(0);
    const registry = openRegistry(registryDir);
    expect(await registry.productionVersion('cli')).toBe(1);
    const report = JSON.parse(await readFile(join(root, 'report.json'), 'utf8')) as { version: number; params: { embeddingDim: number; forestTrees: number } };
    expect(report.version).toBe(1);
    expect(report.params.embeddingDim).toBe(8);
    expect(report.params.forestTrees).toBe(10);
    out.length = 0;
    expect(await command('evaluate').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, '--held-out'])).toBe(0);
    expect(out.join('')).toMatch(/macro-F1/);
    expect((await registry.runs('cli')).map((r) => r.kind)).toEqual(['train', 'evaluate']);
    const evalRun = /run (eval_\d{8}T\d{9}Z)/.exec(out.join(''))?.[1];
    expect(evalRun).toBeDefined();

    // driftline runs: both jobs are runs, listed newest first, shown for people and as JSON.
    out.length = 0;
    expect(await command('runs').run(['list', '--registry', registryDir])).toBe(0);
    const listed = out.join('');
    expect(listed).toContain('2 of 2 runs');
    expect(listed.indexOf(evalRun!)).toBeLessThan(listed.search(/train_\d{8}T\d{9}Z/));
    out.length = 0;
    expect(await command('runs').run(['list', '--registry', registryDir, '--kind', 'train', '--json'])).toBe(0);
    const page = JSON.parse(out.join('')) as { total: number; runs: Array<{ kind: string; model: { version: number } }> };
    expect(page).toMatchObject({ total: 1, runs: [{ kind: 'train', model: { version: 1 } }] });
    out.length = 0;
    expect(await command('runs').run(['show', evalRun!, '--registry', registryDir])).toBe(0);
    expect(out.join('')).toMatch(/drift against the reference baseline: (green|amber|red)/);
    expect(out.join('')).toContain('calibration-sentiment.png');
    expect(await command('runs').run(['show', 'eval_20000101T000000000Z', '--registry', registryDir])).toBe(1);
    expect(await command('runs').run(['frob', '--registry', registryDir])).toBe(2);
    expect(await command('runs').run(['list', '--kind', 'deploy', '--registry', registryDir])).toBe(2);
  }, 120_000);

  it('continues from the production version by default (--base-version), and evaluates a version reference on a data location', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    const registryDir = join(root, 'registry');
    const light = ['--epochs', '1', '--no-baseline', '--param', 'outlierFitRows=300', '--param', 'forestTrees=10'];
    expect(await command('train').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, ...light])).toBe(0);
    expect(JSON.parse(out.join('').trim().split('\n').at(-1)!)).toMatchObject({ version: 2, parentVersion: 1, baseNote: null });
    const registry = openRegistry(registryDir);
    // The settings' embedding width (16) does not override the parent's (8): flags would, and are refused.
    expect(await registry.get('cli', 2)).toMatchObject({ parent_model: 'cli', parent_version: 1, params: { embeddingDim: 8, epochs: 1 } });
    expect(await command('train').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, '--dim', '16', ...light])).toBe(2);
    expect(await command('train').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, '--base-version', 'newest'])).toBe(2);
    expect(await command('train').run(['--data', join(root, 'data.jsonl'), '--name', 'cli', '--registry', registryDir, '--base-version', '9'])).toBe(1);
    expect(err.join('')).toContain('MODEL_NOT_FOUND');

    out.length = 0;
    expect(await command('evaluate').run(['--location', 'data/sample/reviews-sample.jsonl', '--name', 'cli', '--registry', registryDir, '--version', 'latest'])).toBe(0);
    expect(out.join('')).toMatch(/^cli v2 on 3000 reviews/);
    err.length = 0;
    expect(await command('evaluate').run(['--location', '../package.json', '--name', 'cli', '--registry', registryDir])).toBe(1);
    expect(err.join('')).toContain('DATA_LOCATION_REFUSED');
  }, 120_000);
});
