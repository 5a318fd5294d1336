/**
 * Runs recorded by the real jobs: a tiny training (runTrainingJob, as `driftline train` and API jobs run it)
 * and an evaluation of the version it registered (evaluateReviews, as POST /v1/evaluate runs it), then read
 * back through the store and the CLI's formatting.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { createModelService, type ManagedModelService } from '../../../core/model/service.js';
import { createLogger } from '../../../core/logger.js';
import { evaluateReviews } from '../../../trainer/job-runner.js';
import { runTrainingJob, type TrainingReport } from '../../../trainer/pipeline.js';
import { formatRun, formatRunList } from '../../../trainer/runs/cli.js';
import { openRunStore, runsDirFor, type RunStore } from '../../../trainer/runs/store.js';
import { TINY_PARAMS, syntheticReviews } from '../fixtures.js';
import { PNG_SIGNATURE, assertWellFormedXml } from './support.js';

let root: string;
let registry: ModelRegistry;
let store: RunStore;
let report: TrainingReport;
let modelService: ManagedModelService;
const warnings: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-runs-record-'));
  registry = openRegistry(join(root, 'registry'));
  store = openRunStore(runsDirFor(registry.root, {}));
  report = await runTrainingJob({ registry, name: 'tiny', rows: syntheticReviews(700, 41), params: TINY_PARAMS, compareBaseline: false, progress: () => {} });
  modelService = createModelService({ registry, modelName: 'tiny', logger: createLogger('runs-test', 'silent'), reconcileIntervalMs: 0, disposeGraceMs: 100 });
}, 180_000);

afterAll(async () => {
  await modelService?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('runs of real jobs', () => {
  it('records a training as a train_ run with lineage, held-out quality, pictures and the job numbers', async () => {
    expect(report.runId).toMatch(/^train_\d{8}T\d{9}Z$/);
    const run = await store.get(report.runId!);
    expect(run).toMatchObject({ kind: 'train', model: { name: 'tiny', version: report.version, parentVersion: null }, data: { fingerprint: report.data.fingerprint, rows: 700 } });
    expect(run.params).toMatchObject({ epochs: TINY_PARAMS.epochs, holdout: 0.2 });
    expect(run.metrics).toMatchObject({ accuracy: report.heldOut.sentiment.accuracy, macroF1: report.heldOut.sentiment.macroF1, outlierAuroc: report.outliers.auroc, rows: report.data.heldOutRows });
    const heads = run.metrics['heads'] as { sentiment: { perClass: Record<string, { f1: number }> }; category: { classes: string[] } };
    expect(heads.sentiment.perClass['positive']?.f1).toBe(report.heldOut.sentiment.perClass['positive']?.f1);
    expect(heads.category.classes).toEqual(report.heldOut.category?.classes);
    expect(run.artifacts.map((a) => a.name).sort()).toEqual([
      'calibration-sentiment.png',
      'calibration-sentiment.svg',
      'confusion-category.png',
      'confusion-category.svg',
      'confusion-sentiment.png',
      'confusion-sentiment.svg',
      'metrics.json',
    ]);
    expect(run.notes).toEqual([]);
    for (const name of ['confusion-sentiment.svg', 'confusion-category.svg', 'calibration-sentiment.svg']) assertWellFormedXml((await store.artifact(run.id, name)).content.toString('utf8'));
    const png = await store.artifact(run.id, 'calibration-sentiment.png');
    expect(png.contentType).toBe('image/png');
    expect([...png.content.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });

  it('records an evaluation as an eval_ run with the drift report against the version baseline', async () => {
    await registry.promote('tiny', report.version, { actor: 'test', force: true });
    await modelService.loadProduction();
    const reviews = syntheticReviews(300, 99).map((r) => ({ review_id: r.review_id, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified }));
    const answer = await evaluateReviews(reviews, { registry, modelService, name: 'tiny', version: report.version, runs: { store, warn: (m) => warnings.push(m) } });
    expect(warnings).toEqual([]);
    expect(answer.run_id).toMatch(/^eval_\d{8}T\d{9}Z$/);
    const run = await store.get(answer.run_id as string);
    // The evaluated version's parent (the registry's parent_version, else its training run's): none, it was trained from scratch.
    expect(run).toMatchObject({ kind: 'eval', model: { name: 'tiny', version: report.version, parentVersion: null }, data: { rows: 300, files: [] } });
    expect(run.data.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(run.metrics).toMatchObject({ accuracy: answer.accuracy, macroF1: answer.macro_f1 });
    const drift = run.metrics['drift'] as { status: string; drifted: unknown[] };
    expect(['green', 'amber', 'red']).toContain(drift.status);
    const full = JSON.parse((await store.artifact(run.id, 'drift-report.json')).content.toString('utf8')) as { baseline: { modelVersion: number }; rows: number; assessments: unknown[] };
    expect(full.baseline.modelVersion).toBe(report.version);
    expect(full.rows).toBe(300);
    expect(full.assessments.length).toBeGreaterThan(20);
  });

  it('still answers the evaluation when the run cannot be written, and says why', async () => {
    const blocked = join(root, 'not-a-directory');
    await writeFile(blocked, 'a file where the run store should be');
    const reviews = syntheticReviews(50, 5).map((r) => ({ review_id: r.review_id, text: r.text, rating: r.rating }));
    const said: string[] = [];
    const answer = await evaluateReviews(reviews, { registry, modelService, name: 'tiny', version: report.version, runs: { store: openRunStore(blocked), warn: (m) => said.push(m) } });
    expect(answer.rows).toBe(50);
    expect(answer.run_id).toBeNull();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^run not recorded: INTERNAL: .*(EEXIST|ENOTDIR)/);
  });

  it('lists and shows the runs for people', async () => {
    const page = await store.list();
    expect(page.runs.map((r) => r.kind)).toEqual(['eval', 'train']);
    const listed = formatRunList(page.runs, page.total).join('\n');
    expect(listed).toContain(report.runId!);
    // Trained from scratch (a fresh registry has no production version): no "(from vN)" lineage.
    expect(listed).toContain(`tiny v${report.version}`);
    expect(listed).not.toContain(`tiny v${report.version} (from`);
    const shown = formatRun(page.runs[1]!, store.dir).join('\n');
    expect(shown).toContain('sentiment: accuracy');
    expect(shown).toContain(join(store.dir, report.runId!, 'artifacts', 'confusion-sentiment.png'));
  });
});
