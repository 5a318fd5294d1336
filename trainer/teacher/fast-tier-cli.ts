/**
 * `tsx trainer/teacher/fast-tier-cli.ts [--sample F] [--epochs N] [--sources a,b] [--variant K=V,...]... [--students
 * [--student-init zero] [--no-soft-labels]] [--out FILE] FILE.jsonl[.gz]...`:
 * the fast tier's honest evaluation (issue 11). The stream model as `driftline train` builds it and TF-IDF + LR (the
 * issue's recipe) are trained on the same split in the same run, on the random 20 % split and on leave-one-source-out
 * splits, and reported per class. With --students, the distilled students (trainer/teacher/fast-students.ts; they
 * need the teacher's cached vectors: run under flock /tmp/driftline-teacher.lock) and their blends with the stream
 * model are added (--student-init zero: tables fitted from zero, which runs no encoder: only cached sentence vectors
 * are read); blend weights come from an inner validation split of the training rows, never from test rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTf } from '../../core/model/tf.js';
import { loadLabeledJsonl } from '../data.js';
import { type BlendSpec, type Candidate, type SplitResult, evaluateSplit, resultsTable, tfidfCandidate } from './evaluate.js';
import { DEFAULT_SOURCES, type EvalSplit, leaveSourceOut, randomSplit, sampleRows } from './splits.js';
import { STREAM_MODEL, streamCandidate, streamParams } from './stream-candidate.js';
import { cachedCandidate } from './cached-candidate.js';
import { REFERENCE_TFIDF_PARAMS } from '../baseline-tfidf.js';
import { DEFAULT_TRAIN_PARAMS } from '../train.js';
import { FAST_STUDENT_VARIANTS, ZERO_INIT_VARIANTS, fastStudentCandidates } from './fast-students.js';

const { values, positionals } = parseArgs({
  options: { sample: { type: 'string' }, out: { type: 'string' }, sources: { type: 'string' }, epochs: { type: 'string' }, students: { type: 'boolean' }, 'student-init': { type: 'string' }, 'no-soft-labels': { type: 'boolean' }, variant: { type: 'string', multiple: true } },
  allowPositionals: true,
});
const log = (m: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${m}`);
const data = await loadLabeledJsonl(positionals);
const rows = sampleRows(data.rows, values.sample ? Number(values.sample) : 1);
log(`${rows.length} reviews (sample ${values.sample ?? 1} of ${data.rows.length})`);
const { tf, backend } = await loadTf();
// Both are seeded: their probabilities per split are cached, so runs with other students reuse them.
const tfidf = cachedCandidate(tfidfCandidate(rows), rows, JSON.stringify(REFERENCE_TFIDF_PARAMS));
const streamOverrides = values.epochs ? { epochs: Number(values.epochs) } : {};
const stream = cachedCandidate(streamCandidate(tf, backend, rows, streamOverrides, log), rows, JSON.stringify(streamParams(streamOverrides)));
const candidates: Candidate[] = [tfidf, stream];
// --variant KEY=VALUE[,KEY=VALUE]: the stream model again with other training parameters (one candidate per flag).
for (const spec of values.variant ?? []) {
  const pairs = spec.split(',').map((kv) => kv.split('='));
  const unknown = pairs.filter(([k, v]) => !(k! in DEFAULT_TRAIN_PARAMS) || !Number.isFinite(Number(v)));
  if (unknown.length > 0) throw new Error(`--variant ${spec}: not KEY=NUMBER of the training parameters`);
  const overrides = { ...streamOverrides, ...Object.fromEntries(pairs.map(([k, v]) => [k!, Number(v)])) };
  const variant = streamCandidate(tf, backend, rows, overrides, log);
  candidates.push(cachedCandidate({ name: `${STREAM_MODEL}, ${spec}`, fitPredict: variant.fitPredict }, rows, JSON.stringify(streamParams(overrides))));
}
const blends: BlendSpec[] = [];
if (values.students) {
  const streams = candidates.filter((c) => c.name.startsWith(STREAM_MODEL));
  // --no-soft-labels: the distilled head's cross-fitted teacher heads triple a student's fit time.
  const variants = (values['student-init'] === 'zero' ? ZERO_INIT_VARIANTS : FAST_STUDENT_VARIANTS).filter((v) => !(values['no-soft-labels'] && v.distilled));
  const students = await fastStudentCandidates(data.rows, rows, log, variants);
  students.forEach((student, k) => {
    // Seeded and deterministic as well: cached like the stream model.
    candidates.push(cachedCandidate(student, rows, `fast-student v1 ${JSON.stringify(variants[k])}`));
    for (const s of streams) blends.push({ name: `${s.name} blended with ${student.name}`, parts: [s.name, student.name] });
  });
}
const sources = values.sources ? values.sources.split(',') : DEFAULT_SOURCES;
const splits: EvalSplit[] = [randomSplit(rows, 0.2), ...sources.map((s) => leaveSourceOut(rows, s))];
const results: SplitResult[] = [];
for (const split of splits) {
  results.push(await evaluateSplit(rows, split, candidates, blends, log, { innerFit: 'blends' }));
  if (values.out) write(values.out, results);
}
console.log(resultsTable(results, tfidf.name));

function write(file: string, done: SplitResult[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ data: data.files, sample: values.sample ?? 1, rows: rows.length, epochs: values.epochs ?? 'default', results: done }, null, 1)}\n`);
}
