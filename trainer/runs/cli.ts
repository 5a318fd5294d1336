/** `driftline runs list|show`: the run store for people (tables) and scripts (--json). */
import { join } from 'node:path';
import { guardedRun, type CliCommand } from '../../core/cli.js';
import { coreSettings } from '../../core/config.js';
import { DriftlineError } from '../../core/errors.js';
import { ARTIFACTS_DIR, openRunStore, runsDirFor, type RunStore } from './store.js';
import { RUN_KINDS, type RunKind, type RunRecord } from './types.js';

const USAGE = `usage: driftline runs <list|show> [options]

  list [--kind train|eval|infer] [--limit N] [--offset N] [--json]   runs, newest first
  show RUN_ID [--json]                                             one run: model, data, metrics, artifacts

options:
  --dir DIR        run store (default: DRIFTLINE_RUNS_DIR, else _runs in the registry directory)
  --registry DIR   registry directory whose _runs to read (default: DRIFTLINE_REGISTRY_DIR)`;

const VALUE_FLAGS = new Set(['--kind', '--limit', '--offset', '--dir', '--registry']);

interface Args {
  positional: string[];
  values: Map<string, string>;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { positional: [], values: new Map(), json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') args.json = true;
    else if (VALUE_FLAGS.has(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new DriftlineError('REQUEST_INVALID', `${arg} needs a value`, { field: arg });
      args.values.set(arg, value);
    } else if (arg.startsWith('--')) throw new DriftlineError('REQUEST_INVALID', `unknown option ${arg}`, { field: arg });
    else args.positional.push(arg);
  }
  return args;
}

function wholeNumber(args: Args, flag: string, fallback: number, min: number): number {
  const raw = args.values.get(flag);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new DriftlineError('REQUEST_INVALID', `${flag} must be a whole number >= ${min}, got ${raw}`, { field: flag });
  return value;
}

function kindOf(args: Args): RunKind | undefined {
  const raw = args.values.get('--kind');
  if (raw === undefined) return undefined;
  if (!(RUN_KINDS as readonly string[]).includes(raw)) throw new DriftlineError('REQUEST_INVALID', `--kind must be one of ${RUN_KINDS.join(', ')}, got ${raw}`, { field: '--kind' });
  return raw as RunKind;
}

function storeOf(args: Args): RunStore {
  const dir = args.values.get('--dir');
  return openRunStore(dir ?? runsDirFor(args.values.get('--registry') ?? coreSettings.load().registryDir));
}

function num(value: unknown, digits = 4): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function driftStatus(run: RunRecord): string {
  const drift = run.metrics['drift'] as { status?: string } | undefined;
  return drift?.status ?? '-';
}

function modelLabel(run: RunRecord): string {
  const version = run.model.version === null ? '' : ` v${run.model.version}`;
  const parent = run.model.parentVersion === null ? '' : ` (from v${run.model.parentVersion})`;
  return `${run.model.name}${version}${parent}`;
}

/** What the retrain policy (trainer/retrain-policy.ts) keeps in its candidate's train_ run: metrics.comparison. */
interface RetrainComparison {
  trigger: string;
  productionVersion: number;
  production: Record<'holdout' | 'recent', { macroF1: number | null }>;
  candidate: Record<'holdout' | 'recent', { macroF1: number | null }>;
}

function retrainComparison(run: RunRecord): RetrainComparison | null {
  const comparison = run.metrics['comparison'] as Partial<RetrainComparison> | undefined;
  return comparison && typeof comparison.trigger === 'string' && comparison.production && comparison.candidate ? (comparison as RetrainComparison) : null;
}

/** Why a candidate was trained, where people look: the list and the detail of its run. */
function retrainLines(comparison: RetrainComparison): string[] {
  const pair = (head: 'holdout' | 'recent'): string => `${num(comparison.production[head].macroF1)} -> ${num(comparison.candidate[head].macroF1)}`;
  return [
    `retrain policy: candidate from production v${comparison.productionVersion} because ${comparison.trigger}`,
    `  macro-F1 production -> candidate: fixed hold-out ${pair('holdout')}, recent hold-out ${pair('recent')}`,
  ];
}

export function formatRunList(runs: readonly RunRecord[], total: number): string[] {
  const lines = [`${runs.length} of ${total} runs`, `${'run'.padEnd(27)} ${'model'.padEnd(20)} ${'rows'.padStart(6)}  accuracy  macroF1   ECE     drift  artifacts`];
  for (const run of runs) {
    lines.push(
      `${run.id.padEnd(27)} ${modelLabel(run).padEnd(20)} ${String(run.data.rows).padStart(6)}  ${num(run.metrics['accuracy']).padEnd(8)}  ${num(run.metrics['macroF1']).padEnd(8)}  ${num(run.metrics['ece'], 3).padEnd(6)}  ${driftStatus(run).padEnd(5)}  ${run.artifacts.length}`,
    );
    const retrain = retrainComparison(run);
    if (retrain) lines.push(`${''.padEnd(28)}retrain policy: ${retrain.trigger}`);
  }
  return lines;
}

interface Head {
  classes: string[];
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  accuracy: number;
  macroF1: number;
}

function headLines(title: string, head: Head | null | undefined): string[] {
  if (!head) return [];
  const lines = [`${title}: accuracy ${num(head.accuracy)}, macro-F1 ${num(head.macroF1)}`, `  ${'class'.padEnd(26)} precision  recall    F1        support`];
  for (const cls of head.classes) {
    const m = head.perClass[cls];
    if (m) lines.push(`  ${cls.padEnd(26)} ${num(m.precision).padEnd(9)}  ${num(m.recall).padEnd(8)}  ${num(m.f1).padEnd(8)}  ${m.support}`);
  }
  return lines;
}

export function formatRun(run: RunRecord, storeDir: string): string[] {
  const heads = run.metrics['heads'] as { sentiment?: Head; category?: Head | null } | undefined;
  const drift = run.metrics['drift'] as { status: string; drifted: Array<{ feature: string; status: string; drivers: string[] }> } | undefined;
  const lines = [
    `${run.id}  (${run.kind}, ${run.createdAt})`,
    `model     ${modelLabel(run)}`,
    `data      ${run.data.rows} reviews, fingerprint ${run.data.fingerprint.slice(0, 16)}${run.data.files.length > 0 ? `, ${run.data.files.join(', ')}` : ' (inline rows)'}`,
    `params    ${JSON.stringify(run.params)}`,
    `calibration  ECE ${num(run.metrics['ece'], 3)}, Brier ${num(run.metrics['brier'], 3)}, mean confidence ${num(run.metrics['meanConfidence'], 3)}`,
    ...headLines('sentiment', heads?.sentiment),
    ...headLines('category', heads?.category),
  ];
  const retrain = retrainComparison(run);
  if (retrain) lines.push(...retrainLines(retrain));
  if (drift) {
    lines.push(`drift against the reference baseline: ${drift.status}`);
    for (const d of drift.drifted) lines.push(`  ${d.feature.padEnd(34)} ${d.status.padEnd(5)} ${d.drivers.join(', ')}`);
  }
  lines.push('artifacts');
  for (const a of run.artifacts) lines.push(`  ${join(storeDir, run.id, ARTIFACTS_DIR, a.name)}  (${a.bytes} bytes)  ${a.description}`);
  for (const note of run.notes) lines.push(`note: ${note}`);
  return lines;
}

async function runsMain(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const [sub, id, ...extra] = args.positional;
  const print = (lines: string[]) => process.stdout.write(`${lines.join('\n')}\n`);
  const store = storeOf(args);
  if (sub === 'list' && id === undefined) {
    const kind = kindOf(args);
    const page = await store.list({ ...(kind ? { kind } : {}), limit: wholeNumber(args, '--limit', 20, 1), offset: wholeNumber(args, '--offset', 0, 0) });
    if (args.json) print([JSON.stringify(page)]);
    else print(formatRunList(page.runs, page.total));
    return 0;
  }
  if (sub === 'show' && id !== undefined && extra.length === 0) {
    const run = await store.get(id);
    if (args.json) print([JSON.stringify(run)]);
    else print(formatRun(run, store.dir));
    return 0;
  }
  throw new DriftlineError('REQUEST_INVALID', sub === 'show' ? 'show needs exactly one RUN_ID' : `unknown subcommand ${JSON.stringify(sub ?? '')} (list or show)`);
}

export const runsCommand: CliCommand = {
  name: 'runs',
  summary: 'List and show the runs of training, evaluation and batch inference (metrics, pictures, drift)',
  usage: USAGE,
  run: guardedRun('runs', USAGE, runsMain),
};
