/**
 * `tsx trainer/segments-cli.ts --model DIR --data FILE... [--histograms]`: rebuilds parts of a stored
 * version's reference baseline from its own held-out rows (the version's recorded holdout and salt) scored
 * by the version itself (trainer/held-out-inputs.ts), the rows training built it from:
 * - always the per-category references (baseline.json `segments`, core/drift/segments.ts), binned on the
 *   global edges — how models/default got them;
 * - with `--histograms` first the global histograms too, in the current format (DEFAULT_NUMERIC_BINS
 *   tie-aware quantile bins with per-bin sums and std, core/drift/baseline.ts) — how models/default got
 *   its precise numeric bins — and the embedding-drift reference (core/drift/embedding.ts) from the
 *   same rows' representations. Everything else (reference quality, calibration, names, rows) is kept; the
 *   tool refuses when the held-out rows are not the ones the baseline counted.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildReferenceBaseline, type ReferenceBaseline } from '../core/drift/baseline.js';
import { withSegmentBaselines } from '../core/drift/segments.js';
import { BASELINE_FILE } from '../core/model/registry/index.js';
import { heldOutMonitoredInputs } from './held-out-inputs.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', multiple: true }, histograms: { type: 'boolean', default: false } } });
if (!values.model || !values.data?.length) {
  console.error('usage: segments-cli --model DIR --data FILE... [--histograms]');
  process.exit(2);
}
const dir = values.model;
const baselinePath = join(dir, BASELINE_FILE);
let global = JSON.parse(await readFile(baselinePath, 'utf8')) as ReferenceBaseline;
const { held, inputs } = await heldOutMonitoredInputs(dir, values.data);
if (values.histograms) {
  if (held.length !== global.rows) {
    console.error(`the held-out rows (${held.length}) are not the ${global.rows} the baseline was built from: refusing to rebuild its histograms`);
    process.exit(1);
  }
  const rebuilt = buildReferenceBaseline(inputs, { modelName: global.modelName, modelVersion: global.modelVersion, reference: global.reference, createdAtMs: global.createdAtMs });
  global = { ...global, features: rebuilt.features, ...(rebuilt.embedding ? { embedding: rebuilt.embedding } : {}) };
}
const { segments } = withSegmentBaselines(global, inputs);
await writeFile(baselinePath, `${JSON.stringify({ ...global, segments })}\n`);
const sizes = Object.fromEntries(Object.entries(segments ?? {}).map(([name, s]) => [name, s.rows]));
const bins = Object.fromEntries(Object.entries(global.features).flatMap(([name, f]) => (f.kind === 'numeric' ? [[name, f.counts.length]] : [])));
console.log(JSON.stringify({ heldOut: held.length, globalRows: global.rows, segments: sizes, numericBins: bins }));
