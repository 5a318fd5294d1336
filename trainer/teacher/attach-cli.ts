/**
 * `tsx trainer/teacher/attach-cli.ts --model DIR --data FILE... [--teacher-sample F] [--eval-sample F]`: adds the
 * accurate tier (accurate/head.json + accurate/report.json) to a trained model version and prints its held-out table
 * beside the stream model and TF-IDF + LR. `--teacher-sample` is the share of training rows embedded by the teacher
 * (default 1), `--eval-sample` the share of validation and held-out rows (default: the teacher sample).
 * Needs scripts/fetch-teacher.sh.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainerSettings } from '../config.js';
import { MODEL_NAMES, attachAccurateTier } from './attach-accurate.js';
import { categoryTable } from './category-head.js';
import { resultsTable } from './evaluate.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', multiple: true }, 'teacher-sample': { type: 'string' }, 'eval-sample': { type: 'string' } } });
if (!values.model || !values.data?.length) {
  console.error('usage: attach-cli --model DIR --data FILE... [--teacher-sample F] [--eval-sample F]');
  process.exit(2);
}

function share(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (!(x > 0 && x <= 1)) {
    console.error(`--${flag} must be a share in (0, 1], got ${value}`);
    process.exit(2);
  }
  return x;
}

const settings = trainerSettings.load();
const teacherSample = share('teacher-sample', values['teacher-sample'], 1);
const report = await attachAccurateTier(values.model, values.data, {
  holdout: settings.holdout,
  validationFraction: 0.1,
  seed: settings.seed,
  teacherSample,
  evalSample: share('eval-sample', values['eval-sample'], teacherSample),
  log: (m) => console.error(m),
});
await writeFile(join(values.model, 'accurate', 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(resultsTable([report.heldOut], MODEL_NAMES.tfidf));
console.log(categoryTable(report.category));
console.log(JSON.stringify({ blendWeight: report.blendWeight, logOffsets: report.logOffsets, rows: report.rows, stream: report.stream.macroF1, accurate: report.accurate.macroF1, neutralF1: report.accurate.perClass.neutral?.f1 ?? null, category: report.category.served, runtimeCheck: report.runtimeCheck }));
