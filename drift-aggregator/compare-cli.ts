/**
 * `driftline drift compare --reference A.jsonl --current B.jsonl [--json]`: per-feature drift between
 * two review datasets (core/drift/compare.ts). Lines are validated like ingest does; invalid ones are
 * counted by error code and skipped, not fatal.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { CliCommand } from '../core/cli.js';
import { DRIFT_STATUSES, type DriftStatus } from '../schemas/types.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { userPath } from '../core/paths.js';
import { validateReview } from '../core/validation.js';
import { compareDatasets, type CompareReport, type ReviewRecord } from '../core/drift/compare.js';
import { applyThresholdsJson, loadDriftThresholds } from '../core/drift/config.js';
import { severity } from '../core/drift/status.js';

const USAGE = `usage: driftline drift compare --reference A.jsonl --current B.jsonl [options]

Compares two review datasets feature by feature (no model needed): text/title lengths and the other
featurizer values, helpful votes, rating, verified, category. Reference quantile bins, PSI / KS /
JS distance / Wasserstein for numbers, PSI / JS / chi-square + unseen rate for categories, Holm-
corrected p-values, green/amber/red by the drift thresholds (DRIFTLINE_DRIFT_* settings).

options:
  --reference FILE       reference reviews, JSONL (one review object a line)
  --current FILE         current reviews, JSONL
  --json                 print the full report as JSON instead of a table
  --bins N               equal-mass reference bins per numeric feature (default 10)
  --max-categories N     categories kept per categorical feature, the rest is 'other' (default 50)
  --min-samples N        fewest values per side for a status (default DRIFTLINE_DRIFT_MIN_SAMPLES)
  --thresholds FILE      thresholds JSON (same format as DRIFTLINE_DRIFT_THRESHOLDS_FILE)
  --fail-on amber|red    exit 1 when the overall status is at least this (for CI)`;

export interface LoadedDataset {
  records: ReviewRecord[];
  lines: number;
  /** Invalid lines by error code (RECORD_UNPARSEABLE, FIELD_MISSING, ...). */
  invalid: Record<string, number>;
}

/** Reads a JSONL file of reviews; blank lines are skipped, bad lines counted by error code. */
export async function loadReviewsJsonl(path: string): Promise<LoadedDataset> {
  const records: ReviewRecord[] = [];
  const invalid: Record<string, number> = {};
  let lines = 0;
  const input = createReadStream(userPath(path), { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (cause) => reject(new DriftlineError('NOT_FOUND', `cannot read ${path}: ${cause.message}`, { cause })));
  });
  await opened;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    lines++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      invalid.RECORD_UNPARSEABLE = (invalid.RECORD_UNPARSEABLE ?? 0) + 1;
      continue;
    }
    const result = validateReview(parsed);
    if (result.ok) records.push(result.review);
    else invalid[result.error.code] = (invalid[result.error.code] ?? 0) + 1;
  }
  return { records, lines, invalid };
}

function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(4);
}

/** The aligned table: one row per feature x metric; `value` is the number compared with the thresholds. */
export function formatCompareTable(report: CompareReport): string {
  const header = ['feature', 'metric', 'value', 'amber', 'red', 'p (adj.)', 'status'];
  const rows = report.features.flatMap((feature) =>
    feature.metrics.map((m) => [
      feature.feature,
      m.metric,
      formatNumber(m.effect),
      formatNumber(m.thresholdAmber),
      formatNumber(m.thresholdRed),
      formatNumber(m.pValueAdjusted),
      m.insufficient ? 'green (insufficient)' : m.rawStatus,
    ]),
  );
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const numeric = new Set([2, 3, 4, 5]);
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  const summary = report.features
    .filter((feature) => feature.status !== 'green')
    .map((feature) => `${feature.feature} ${feature.status} (${feature.drivers.join(', ')})`);
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    `reference ${report.referenceCount} reviews, current ${report.currentCount} reviews; ${report.settings.bins} bins, ${report.settings.pAdjust} p-value correction, alpha ${report.settings.alpha}, min samples ${report.settings.minSamples}`,
    `overall status: ${report.status}${summary.length > 0 ? ` — ${summary.join('; ')}` : ''}`,
  ].join('\n');
}

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new DriftlineError('REQUEST_INVALID', `--${name} must be a positive integer, got ${JSON.stringify(raw)}`, { field: name });
  return value;
}

export async function runDriftCompare(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        reference: { type: 'string' },
        current: { type: 'string' },
        json: { type: 'boolean', default: false },
        bins: { type: 'string' },
        'max-categories': { type: 'string' },
        'min-samples': { type: 'string' },
        thresholds: { type: 'string' },
        'fail-on': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`driftline drift compare: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const reference = values.reference;
  const current = values.current;
  const failOn = values['fail-on'];
  if (typeof reference !== 'string' || typeof current !== 'string' || (failOn !== undefined && !(DRIFT_STATUSES as readonly unknown[]).includes(failOn))) {
    process.stderr.write(`driftline drift compare: --reference and --current are required; --fail-on takes amber or red\n\n${USAGE}\n`);
    return 2;
  }
  try {
    let thresholds = loadDriftThresholds();
    if (typeof values.thresholds === 'string') thresholds = applyThresholdsJson(thresholds, readFileSync(userPath(values.thresholds), 'utf8'), values.thresholds);
    const minSamples = positiveInt('min-samples', values['min-samples'] as string | undefined);
    if (minSamples !== undefined) thresholds = { ...thresholds, minSamples };
    const [referenceData, currentData] = await Promise.all([loadReviewsJsonl(reference), loadReviewsJsonl(current)]);
    const report = compareDatasets(referenceData.records, currentData.records, {
      thresholds,
      bins: positiveInt('bins', values.bins as string | undefined),
      maxCategories: positiveInt('max-categories', values['max-categories'] as string | undefined),
    });
    if (values.json) {
      const input = { reference: { file: reference, ...omitRecords(referenceData) }, current: { file: current, ...omitRecords(currentData) } };
      process.stdout.write(`${JSON.stringify({ input, ...report }, null, 2)}\n`);
    } else {
      for (const [name, data] of [['reference', referenceData], ['current', currentData]] as const) {
        const skipped = Object.entries(data.invalid);
        if (skipped.length > 0) process.stdout.write(`${name}: skipped ${skipped.map(([code, count]) => `${count} ${code}`).join(', ')} of ${data.lines} lines\n`);
      }
      process.stdout.write(`${formatCompareTable(report)}\n`);
    }
    return failOn !== undefined && severity(report.status) >= severity(failOn as DriftStatus) ? 1 : 0;
  } catch (err) {
    const error = toDriftlineError(err);
    process.stderr.write(`driftline drift compare: ${error.code}: ${error.message}\n`);
    return 1;
  }
}

function omitRecords(data: LoadedDataset): { lines: number; valid: number; invalid: Record<string, number> } {
  return { lines: data.lines, valid: data.records.length, invalid: data.invalid };
}

export const driftCompareCommand: CliCommand = {
  name: 'drift',
  summary: 'Drift tools: compare two review datasets feature by feature',
  usage: USAGE,
  /** Takes `compare --reference ...` (as `driftline drift`) or the options alone (when a parent command already consumed `compare`). */
  async run(argv) {
    const args = argv[0] === 'compare' ? argv.slice(1) : argv;
    const first = args[0];
    if (first !== undefined && !first.startsWith('-')) {
      process.stderr.write(`driftline drift: unknown subcommand '${first}'\n\n${USAGE}\n`);
      return 2;
    }
    return runDriftCompare(args);
  },
};
