/**
 * `tsx trainer/sentences-cli.ts --model DIR --data FILE...`: trains and adds the sentence model
 * (sentences/, see trainer/sentences.ts) to an already trained version directory, on the same hold-out
 * split as its training (the version's recorded holdout and salt), and writes its evaluation into the
 * directory's training-report.json. How models/default got its sentence model without retraining the rest.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readModelBundle, writeSentenceModel } from '../core/model/artifacts.js';
import { RECORD_FILE } from '../core/model/registry/index.js';
import { loadTf } from '../core/model/tf.js';
import { loadLabeledJsonl, splitByReviewId } from './data.js';
import { attachSentenceModel } from './sentences.js';
import { readVersionRecord, recordedHoldout } from './version-record.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string', multiple: true } } });
if (!values.model || !values.data?.length) {
  console.error('usage: sentences-cli --model DIR --data FILE...');
  process.exit(2);
}
const dir = values.model;
const split = recordedHoldout(await readVersionRecord(dir));
if (!split) {
  console.error(`${join(dir, RECORD_FILE)} records no holdout/holdoutSalt: the version's split cannot be reproduced`);
  process.exit(1);
}
const { tf } = await loadTf();
const bundle = await readModelBundle(tf, dir);
const loaded = await loadLabeledJsonl(values.data);
const { rest: train, held } = splitByReviewId(loaded.rows, split.holdout, split.holdoutSalt);
console.error(`data: ${loaded.rows.length} reviews (${train.length} train, ${held.length} held out, split as the version was trained)`);
const report = attachSentenceModel(tf, bundle, train, held);
await writeSentenceModel(bundle.sentences!, dir);
const reportPath = join(dir, 'training-report.json');
const training = JSON.parse(await readFile(reportPath, 'utf8')) as Record<string, unknown>;
training['sentences'] = report;
await writeFile(reportPath, `${JSON.stringify(training, null, 2)}\n`);
bundle.head.dispose();
bundle.autoencoder.dispose();
console.log(JSON.stringify({ sentences: report.sentences, reviewModelMacroF1: report.reviewModel.macroF1, sentenceModelMacroF1: report.sentenceModel.macroF1, perClass: report.sentenceModel.perClass, seconds: report.seconds }));
