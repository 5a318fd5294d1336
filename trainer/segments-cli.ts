/**
 * `tsx trainer/segments-cli.ts --model DIR --data FILE...`: adds per-category references
 * (baseline.json `segments`, core/drift/segments.ts) to a version trained before they existed, from its
 * own held-out rows (the version's recorded holdout and salt) scored by the version itself. The global
 * reference is left exactly as it is; the segments are binned on its edges. How models/default got them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ReferenceBaseline } from '../core/drift/baseline.js';
import { withSegmentBaselines } from '../core/drift/segments.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { BASELINE_FILE, RECORD_FILE } from '../core/model/registry/index.js';
import { loadLabeledJsonl, splitByReviewId } from './data.js';
import { monitoredInput, scoreAll } from './evaluate.js';
import { readVersionRecord, recordedHoldout } from './version-record.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', multiple: true } } });
if (!values.model || !values.data?.length) {
  console.error('usage: segments-cli --model DIR --data FILE...');
  process.exit(2);
}
const dir = values.model;
const record = await readVersionRecord(dir);
const split = recordedHoldout(record);
if (!split) {
  console.error(`${join(dir, RECORD_FILE)} records no holdout/holdoutSalt: the version's held-out rows cannot be found again`);
  process.exit(1);
}
const baselinePath = join(dir, BASELINE_FILE);
const global = JSON.parse(await readFile(baselinePath, 'utf8')) as ReferenceBaseline;
const loaded = await loadLabeledJsonl(values.data);
const { held } = splitByReviewId(loaded.rows, split.holdout, split.holdoutSalt);
const runtime = await loadModelRuntime(dir, { name: record?.name ?? 'model', version: record?.version ?? 1 });
try {
  const predictions = await scoreAll(runtime, held);
  const { segments } = withSegmentBaselines(global, held.map((row, i) => monitoredInput(row, predictions[i]!)));
  await writeFile(baselinePath, `${JSON.stringify({ ...global, segments })}\n`);
  const sizes = Object.fromEntries(Object.entries(segments ?? {}).map(([name, s]) => [name, s.rows]));
  console.log(JSON.stringify({ heldOut: held.length, globalRows: global.rows, segments: sizes }));
} finally {
  runtime.dispose();
}
