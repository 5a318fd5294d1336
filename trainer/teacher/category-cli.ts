/**
 * `tsx trainer/teacher/category-cli.ts --model DIR --data FILE... [--teacher-sample F] [--eval-sample F] [--out FILE]`:
 * the category question of the accurate tier (category-head.ts) on the version's own split, with the same rows and
 * teacher vectors as attach-cli (run it first with the same shares: the vectors then come from the cache): the head with
 * offsets tuned on the validation rows, and the head blended with the wide category part (category-wide.ts).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFeaturizerConfig } from '../../core/features/featurizer.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { MANIFEST_FILE } from '../../core/model/artifacts.js';
import { trainerSettings } from '../config.js';
import { scoreAll } from '../evaluate.js';
import { versionRows } from './attach-accurate.js';
import { categoryTable, compareCategoryHeads } from './category-head.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, data: { type: 'string', multiple: true }, 'teacher-sample': { type: 'string' }, 'eval-sample': { type: 'string' }, out: { type: 'string' } },
});
if (!values.model || !values.data?.length) {
  console.error('usage: category-cli --model DIR --data FILE... [--teacher-sample F] [--eval-sample F] [--out FILE]');
  process.exit(2);
}
const settings = trainerSettings.load();
const teacherSample = values['teacher-sample'] ? Number(values['teacher-sample']) : 1;
const log = (m: string) => console.error(m);
const rows = await versionRows(values.model, values.data, {
  holdout: settings.holdout,
  validationFraction: 0.1,
  seed: settings.seed,
  teacherSample,
  evalSample: values['eval-sample'] ? Number(values['eval-sample']) : teacherSample,
  log,
});
const { categories } = JSON.parse(await readFile(join(values.model, MANIFEST_FILE), 'utf8')) as { categories?: unknown };
if (!Array.isArray(categories) || !categories.every((c) => typeof c === 'string') || categories.length < 2) {
  console.error(`${join(values.model, MANIFEST_FILE)}: categories must be a list of at least 2 names`);
  process.exit(2);
}
const stream = await loadModelRuntime(values.model, { name: 'candidate', version: 0 });
let streamTest;
try {
  streamTest = await scoreAll(stream, rows.testRows);
} finally {
  stream.dispose();
}
const featurizer = parseFeaturizerConfig(JSON.parse(await readFile(join(values.model, 'featurizer.json'), 'utf8')));
const { comparison } = compareCategoryHeads(
  categories as string[],
  { rows: rows.fitRows, vectors: rows.vectors.fit },
  rows.fit,
  { rows: rows.testRows, vectors: rows.vectors.test, stream: streamTest },
  { rows: rows.valRows, vectors: rows.vectors.val },
  { featurizer, log },
);
console.log(categoryTable(comparison));
if (values.out) {
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify(comparison, null, 1)}\n`);
}
