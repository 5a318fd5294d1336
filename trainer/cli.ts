/** `driftline train`, `driftline evaluate`, `driftline infer` (and `driftline models`, which lives with the registry, `driftline runs` and `driftline retrain-policy`). */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { guardedRun, type CliCommand } from '../core/cli.js';
import { coreSettings } from '../core/config.js';
import { DriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { kafkaPromotionPublisher, publishingRegistry } from '../core/model/promotions.js';
import { MANIFEST_FILE } from '../core/model/artifacts.js';
import { modelsCommand } from './registry-cli.js';
import { openRegistry, type ModelRegistry } from '../core/model/registry/index.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { userPath } from '../core/paths.js';
import { dataRoots, withDataLocation } from '../core/data-location.js';
import { parseVersionRef, resolveVersionRef } from '../core/model/version-ref.js';
import { trainerSettings } from './config.js';
import { loadLabeledJsonl, splitByReviewId } from './data.js';
import { evaluateOutliers, evaluatePredictions, scoreAll } from './evaluate.js';
import { HOLDOUT_SALT, printComparison, runTrainingJob } from './pipeline.js';
import { DEFAULT_TRAIN_PARAMS } from './train.js';
import { type BaseModelRequest, parseBaseVersion } from './base-model.js';
import { recordEvaluation } from './runs/hooks.js';
import { openRunStore, runsDirFor } from './runs/store.js';
import { runsCommand } from './runs/cli.js';
import { runBatchInference } from './infer.js';
import { retrainPolicyCommand } from './retrain-policy-cli.js';

const TRAIN_USAGE = `usage: driftline train --data FILE.jsonl[,FILE2] [options]

Trains the sentiment/category/outlier models on labelled reviews (JSONL, rating 1-5), evaluates them on a
deterministic held-out part (by review_id hash), compares with a TF-IDF + logistic-regression baseline,
builds the drift reference baseline and registers a new version (stage staging).

  --name NAME        model name (default: DRIFTLINE_TRAIN_MODEL_NAME or 'reviews')
  --base-version V   continue training from this version's weights (warm start): N, latest, production
                     (default; from scratch when there is no production version yet) or none (from scratch)
  --base-model NAME  model name of --base-version (default: --name)
  --rebuild-vocabulary  refit numeric scaling, category classes and wide idf instead of keeping the base's
  --epochs N         epochs (default: DRIFTLINE_TRAIN_EPOCHS); the best epoch by validation macro-F1 is kept
  --seed S           seed (default: DRIFTLINE_TRAIN_SEED): same data + seed = same model
  --holdout F        held-out share (default 0.2)
  --buckets B        hash buckets (default: DRIFTLINE_TRAIN_BUCKETS; a warm start keeps the base's)
  --dim D            embedding width (default: DRIFTLINE_TRAIN_EMBEDDING_DIM; a warm start keeps the base's)
  --limit N          use only the first N reviews of the data
  --param K=V        override any training parameter (repeatable), e.g. --param embeddingLearningRate=0.05
  --no-baseline      skip the TF-IDF comparison
  --promote          promote to production if held-out macro-F1 is not worse than production's
  --no-publish       with --promote: do not publish the ModelPromotion event to Kafka
  --registry DIR     registry directory (default: DRIFTLINE_REGISTRY_DIR)
  --report FILE      write the full training report (JSON)`;

const EVALUATE_USAGE = `usage: driftline evaluate (--data FILE.jsonl[,FILE2] | --location LOC) [--version V] [options]

Scores labelled reviews with a registered version (default: production) and prints accuracy, macro-F1,
per-class and per-source quality, category accuracy and outlier AUROC on injected anomalies.

  --data FILES       labelled JSONL files (any path this user can read)
  --location LOC     a labelled JSONL file inside the data roots (DRIFTLINE_DATA_ROOTS, default data/),
                     e.g. data/sample/reviews-sample.jsonl: what the API's dataset_location reads
  --name NAME        model name (default: DRIFTLINE_TRAIN_MODEL_NAME or 'reviews')
  --version V        N, latest or production (default: production)
  --held-out         only the reviews the trainer holds out (same hash split as training)
  --registry DIR     registry directory (default: DRIFTLINE_REGISTRY_DIR)
  --report FILE      write the evaluation report (JSON)`;

const INFER_USAGE = `usage: driftline infer --data FILE.jsonl [--out PREDICTIONS.jsonl] [--version N] [options]

Batch inference: scores every valid review of the file with a registered version (default: production), writes
one prediction per line to --out, and records an infer_ run (quality against the star ratings, calibration,
confusion pictures, drift against the version's reference baseline: driftline runs show RUN_ID). Lines that fail
validation are counted by error code and skipped.

  --name NAME        model name (default: DRIFTLINE_TRAIN_MODEL_NAME or 'reviews')
  --version N        version (default: the production version)
  --out FILE         write the predictions (JSONL)
  --registry DIR     registry directory (default: DRIFTLINE_REGISTRY_DIR)
  --json             print the summary as JSON`;

type Flags = Map<string, string | true>;

function parseFlags(argv: string[], valueFlags: string[], booleanFlags: string[], params?: Record<string, number>): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--param' && params) {
      const [key, raw] = (argv[++i] ?? '').split('=');
      const value = Number(raw);
      if (!key || !(key in DEFAULT_TRAIN_PARAMS) || !Number.isFinite(value)) {
        throw new DriftlineError('REQUEST_INVALID', `--param needs KEY=NUMBER with KEY one of ${Object.keys(DEFAULT_TRAIN_PARAMS).join(', ')}`, { field: '--param' });
      }
      params[key] = value;
    } else if (booleanFlags.includes(arg)) flags.set(arg, true);
    else if (valueFlags.includes(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new DriftlineError('REQUEST_INVALID', `${arg} needs a value`, { field: arg });
      flags.set(arg, value);
    } else throw new DriftlineError('REQUEST_INVALID', `unknown argument ${arg}`, { field: arg });
  }
  return flags;
}

function stringFlag(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function numberFlag(flags: Flags, name: string, integer: boolean): number | undefined {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) throw new DriftlineError('REQUEST_INVALID', `${name} must be a ${integer ? 'whole ' : ''}number, got ${raw}`, { field: name });
  return value;
}

function dataFiles(flags: Flags): string[] {
  const raw = stringFlag(flags, '--data');
  if (!raw) throw new DriftlineError('REQUEST_INVALID', '--data FILE.jsonl is required', { field: '--data' });
  return raw.split(',').filter(Boolean).map(userPath);
}

function baseRequest(flags: Flags): BaseModelRequest {
  const version = stringFlag(flags, '--base-version');
  const model = stringFlag(flags, '--base-model');
  return {
    ...(version === undefined ? {} : { version: parseBaseVersion(version, '--base-version') }),
    ...(model === undefined ? {} : { model }),
    rebuildVocabulary: flags.has('--rebuild-vocabulary'),
  };
}

function definedOnly(values: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, number] => entry[1] !== undefined));
}

/** The rows of --data (any readable files) or --location (one file or s3:// object inside the data roots), not both. */
async function evaluationRows(flags: Flags): Promise<Awaited<ReturnType<typeof loadLabeledJsonl>>> {
  const location = stringFlag(flags, '--location');
  if (location === undefined) return loadLabeledJsonl(dataFiles(flags));
  if (flags.has('--data')) throw new DriftlineError('REQUEST_INVALID', 'give --data or --location, not both', { field: '--location' });
  // The run records the location, not the temporary copy an s3:// object is read through.
  const loaded = await withDataLocation(location, dataRoots(), '--location', (path) => loadLabeledJsonl([path]));
  return { ...loaded, files: [location] };
}

async function train(argv: string[]): Promise<number> {
  const overrides: Record<string, number> = {};
  const flags = parseFlags(
    argv,
    ['--data', '--name', '--base-version', '--base-model', '--epochs', '--seed', '--holdout', '--buckets', '--dim', '--limit', '--registry', '--report'],
    ['--promote', '--no-publish', '--no-baseline', '--rebuild-vocabulary'],
    overrides,
  );
  const settings = trainerSettings.load();
  const files = dataFiles(flags);
  const base = openRegistry(stringFlag(flags, '--registry') ?? coreSettings.load().registryDir);
  let publisher: ReturnType<typeof kafkaPromotionPublisher> | undefined;
  let registry: ModelRegistry = base;
  if (flags.has('--promote') && !flags.has('--no-publish')) {
    publisher = kafkaPromotionPublisher(createKafka(coreSettings.load(), 'trainer'));
    registry = publishingRegistry(base, publisher);
  }
  try {
    const limit = numberFlag(flags, '--limit', true);
    const rows = limit === undefined ? undefined : (await loadLabeledJsonl(files)).rows.slice(0, limit);
    const report = await runTrainingJob({
      registry,
      name: stringFlag(flags, '--name') ?? settings.modelName,
      ...(rows ? { rows } : { files }),
      holdout: numberFlag(flags, '--holdout', false) ?? settings.holdout,
      promote: flags.has('--promote'),
      compareBaseline: !flags.has('--no-baseline') && settings.compareBaseline,
      base: baseRequest(flags),
      // Flags given win over the base model's parameters; the settings only fill what neither sets.
      params: {
        ...definedOnly({ epochs: numberFlag(flags, '--epochs', true), seed: numberFlag(flags, '--seed', true), buckets: numberFlag(flags, '--buckets', true), embeddingDim: numberFlag(flags, '--dim', true) }),
        ...overrides,
      },
      paramDefaults: { epochs: settings.epochs, seed: settings.seed, buckets: settings.buckets, embeddingDim: settings.embeddingDim },
      reportPath: stringFlag(flags, '--report') ? userPath(stringFlag(flags, '--report')!) : undefined,
    });
    process.stdout.write(`${JSON.stringify({ name: report.name, version: report.version, stage: report.stage, parentVersion: report.base.parentVersion, baseNote: report.base.note, macroF1: report.heldOut.sentiment.macroF1, accuracy: report.heldOut.sentiment.accuracy, outlierAuroc: report.outliers.auroc })}\n`);
    return 0;
  } finally {
    await publisher?.close();
  }
}

async function evaluate(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, ['--data', '--location', '--name', '--version', '--registry', '--report'], ['--held-out']);
  const name = stringFlag(flags, '--name') ?? trainerSettings.load().modelName;
  const registry = openRegistry(stringFlag(flags, '--registry') ?? coreSettings.load().registryDir);
  const versionFlag = stringFlag(flags, '--version');
  const version = await resolveVersionRef(registry, name, versionFlag === undefined ? 'production' : parseVersionRef(versionFlag, '--version'), '--version');
  const record = await registry.get(name, version);
  const loaded = await evaluationRows(flags);
  const holdout = typeof record.params['holdout'] === 'number' ? record.params['holdout'] : 0.2;
  const rows = flags.has('--held-out') ? splitByReviewId(loaded.rows, holdout, HOLDOUT_SALT).held : loaded.rows;
  const runtime = await loadModelRuntime(await registry.localVersionDir(name, version), { name, version });
  try {
    await runtime.check();
    const started = performance.now();
    const predictions = await scoreAll(runtime, rows);
    const manifest = JSON.parse(await readFile(join(await registry.localVersionDir(name, version), MANIFEST_FILE), 'utf8')) as { categories: string[] };
    const report = evaluatePredictions(rows, predictions, manifest.categories);
    const outliers = await evaluateOutliers(runtime, rows, predictions);
    const seconds = (performance.now() - started) / 1000;
    const log = (line: string) => process.stdout.write(`${line}\n`);
    log(`${name} v${version} on ${rows.length} reviews (${loaded.fingerprint.slice(0, 16)}), ${runtime.backend} backend, ${seconds.toFixed(1)} s`);
    printComparison(log, report, null, outliers);
    const run = await recordEvaluation(openRunStore(runsDirFor(registry.root)), {
      registry,
      name,
      version,
      rows,
      predictions,
      data: { files: loaded.files, fingerprint: loaded.fingerprint },
      params: { heldOutOnly: flags.has('--held-out') },
      warn: (message) => process.stderr.write(`${message}\n`),
    });
    if (run) log(`run ${run.id}: driftline runs show ${run.id}`);
    await registry.recordRun(name, { kind: 'evaluate', version, data: { files: loaded.files, fingerprint: loaded.fingerprint, rows: rows.length, heldOutOnly: flags.has('--held-out') }, accuracy: report.sentiment.accuracy, macroF1: report.sentiment.macroF1, outlierAuroc: outliers.auroc });
    const reportPath = stringFlag(flags, '--report');
    if (reportPath) await writeFile(userPath(reportPath), `${JSON.stringify({ name, version, report, outliers }, null, 2)}\n`);
    return 0;
  } finally {
    runtime.dispose();
  }
}

async function infer(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, ['--data', '--name', '--version', '--out', '--registry'], ['--json']);
  const raw = stringFlag(flags, '--data');
  if (!raw) throw new DriftlineError('REQUEST_INVALID', '--data FILE.jsonl is required', { field: '--data' });
  const registry = openRegistry(stringFlag(flags, '--registry') ?? coreSettings.load().registryDir);
  const version = numberFlag(flags, '--version', true);
  const out = stringFlag(flags, '--out');
  const result = await runBatchInference({
    registry,
    name: stringFlag(flags, '--name') ?? trainerSettings.load().modelName,
    ...(version === undefined ? {} : { version }),
    file: userPath(raw),
    ...(out === undefined ? {} : { out: userPath(out) }),
    runs: openRunStore(runsDirFor(registry.root)),
    warn: (message) => process.stderr.write(`${message}\n`),
  });
  if (flags.has('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const skipped = Object.entries(result.invalid).map(([code, n]) => `${code}=${n}`).join(', ');
  process.stdout.write(`${result.name} v${result.version}: ${result.rows} reviews scored in ${result.seconds.toFixed(1)} s${skipped ? `, skipped ${skipped}` : ''}${result.out ? `, predictions in ${result.out}` : ''}\n`);
  for (const example of result.invalidExamples) process.stdout.write(`  skipped line ${example.line}: ${example.code}: ${example.message}\n`);
  if (result.runId) process.stdout.write(`run ${result.runId}: driftline runs show ${result.runId}\n`);
  return 0;
}

export const commands: CliCommand[] = [
  { name: 'train', summary: 'Train sentiment/category/outlier models and register a version', usage: TRAIN_USAGE, run: guardedRun('train', TRAIN_USAGE, train) },
  { name: 'evaluate', summary: 'Evaluate a model version on labelled reviews', usage: EVALUATE_USAGE, run: guardedRun('evaluate', EVALUATE_USAGE, evaluate) },
  { name: 'infer', summary: 'Batch inference: score a file of reviews with a model version, recorded as a run', usage: INFER_USAGE, run: guardedRun('infer', INFER_USAGE, infer) },
  modelsCommand,
  runsCommand,
  retrainPolicyCommand,
];
