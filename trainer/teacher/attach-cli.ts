/**
 * `tsx trainer/teacher/attach-cli.ts --model DIR --data FILE... [--teacher-sample F]`: adds the accurate tier
 * (accurate/head.json + accurate/report.json) to a trained model version. Needs scripts/fetch-teacher.sh.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainerSettings } from '../config.js';
import { attachAccurateTier } from './attach-accurate.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', multiple: true }, 'teacher-sample': { type: 'string' } } });
if (!values.model || !values.data?.length) {
  console.error('usage: attach-cli --model DIR --data FILE... [--teacher-sample F]');
  process.exit(2);
}
const settings = trainerSettings.load();
const report = await attachAccurateTier(values.model, values.data, {
  holdout: settings.holdout,
  validationFraction: 0.1,
  seed: settings.seed,
  teacherSample: values['teacher-sample'] ? Number(values['teacher-sample']) : 1,
  log: (m) => console.error(m),
});
await writeFile(join(values.model, 'accurate', 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
console.log(JSON.stringify({ blendWeight: report.blendWeight, heldOutRows: report.heldOutRows, stream: report.stream.macroF1, accurate: report.accurate.macroF1, neutralF1: report.accurate.perClass.neutral.f1 }));
