/**
 * Label-free performance estimate (CBPE) against the realized figures on held-out traffic, per window:
 * prints the table the README and docs/drift.md show and writes bench/results/cbpe.json. A quality
 * figure, not a speed one: the same numbers on every machine (seeded model, fixed data, fixed order).
 *
 *   npx tsx bench/cbpe.ts [--per-window 200] [--file data/sample/reviews-sample.jsonl]
 *
 * The default is what tests/drift-aggregator/cbpe-sample.test.ts asserts (±0.05 per window); with
 * `--file data/reviews/reviews-dev-large.jsonl.gz` it runs on all 7,036 held-out reviews of the training data.
 */
import { parseArgs } from 'node:util';
import { SAMPLE_FILE, heldOutEstimateTable, markdownTable } from '../fixtures/cbpe-windows.js';
import { machineInfo, writeResult } from './lib.js';

const { values: args } = parseArgs({ options: { 'per-window': { type: 'string', default: '200' }, file: { type: 'string', default: SAMPLE_FILE } } });
const perWindow = Number(args['per-window']);
if (!Number.isInteger(perWindow) || perWindow < 10) throw new Error(`--per-window must be an integer of at least 10, got ${args['per-window']}`);

const table = await heldOutEstimateTable({ perWindow, file: args.file });
const worst = Math.max(...table.windows.map((w) => Math.abs(w.estimatedAccuracy - w.accuracy)));
process.stdout.write(`${table.heldOutReviews} held-out reviews of ${table.file} (never seen in training), windows of ${perWindow}, model models/default\n\n`);
process.stdout.write(`${markdownTable(table)}\n\nlargest per-window |CBPE accuracy - accuracy|: ${worst.toFixed(3)}\n`);
const path = writeResult(args.file === SAMPLE_FILE ? 'cbpe' : `cbpe-${perWindow}-${args.file.split('/').pop()!.split('.')[0]}`, {
  at: new Date().toISOString(),
  machine: machineInfo(),
  ...table,
  largestAccuracyError: worst,
});
process.stdout.write(`written to ${path}\n`);
