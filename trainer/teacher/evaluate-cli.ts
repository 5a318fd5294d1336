/**
 * `tsx trainer/teacher/evaluate-cli.ts [--sample F] [--out FILE] [--sources a,b] FILE.jsonl[.gz]...`: the honest
 * evaluation of the sentiment candidates (see evaluate.ts) on the random split and leave-one-source-out splits;
 * prints a markdown table and writes the full reports as JSON. Needs scripts/fetch-teacher.sh.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLabeledJsonl, sentimentLabel } from '../data.js';
import { foldStars } from '../../core/model/accurate-runtime.js';
import { ENCODER_DIM } from '../../core/model/sentence-encoder.js';
import { STAR_HEAD_SOFTMAX } from './attach-accurate.js';
import { teacherEmbeddings } from './embeddings.js';
import { type BlendSpec, type Candidate, type SplitResult, evaluateSplit, resultsTable, tfidfCandidate } from './evaluate.js';
import { fitSoftmax, softmaxProbabilities } from './softmax-regression.js';
import { DEFAULT_SOURCES, type EvalSplit, leaveSourceOut, randomSplit, sampleRows } from './splits.js';
import { studentCandidates } from './students.js';

const { values, positionals } = parseArgs({
  options: { sample: { type: 'string' }, out: { type: 'string' }, sources: { type: 'string' }, students: { type: 'boolean' } },
  allowPositionals: true,
});
const log = (m: string) => console.error(m);
const data = await loadLabeledJsonl(positionals);
const rows = sampleRows(data.rows, values.sample ? Number(values.sample) : 1);
log(`${rows.length} reviews (sample ${values.sample ?? 1} of ${data.rows.length})`);
// The whole file's vectors (one cache entry for every sample), then the sampled rows' vectors.
const allVectors = await teacherEmbeddings(data.rows, log);
const position = new Map(data.rows.map((r, i) => [r.review_id, i]));
const embeddings = new Float32Array(rows.length * ENCODER_DIM);
rows.forEach((r, i) => embeddings.set(allVectors.subarray(position.get(r.review_id)! * ENCODER_DIM, (position.get(r.review_id)! + 1) * ENCODER_DIM), i * ENCODER_DIM));
const labels = Int32Array.from(rows, (r) => sentimentLabel(r.rating));

const tfidf = tfidfCandidate(rows);
const teacherHead: Candidate = {
  name: 'teacher (bge-small CLS) + LR',
  fitPredict: (train, test) => softmaxProbabilities(fitSoftmax(embeddings, ENCODER_DIM, train, labels, 3), embeddings, test),
};
// The accurate tier's star-rating head (attach-accurate.ts fitHead): five star classes folded into three sentiments.
const stars = Int32Array.from(rows, (r) => r.rating - 1);
const starHead: Candidate = {
  name: 'teacher + LR over star ratings (folded)',
  fitPredict(train, test) {
    const p5 = softmaxProbabilities(fitSoftmax(embeddings, ENCODER_DIM, train, stars, 5, STAR_HEAD_SOFTMAX), embeddings, test);
    const folded = new Float32Array(test.length * 3);
    for (let r = 0; r < test.length; r++) folded.set(foldStars(p5, r * 5), r * 3);
    return folded;
  },
};
const candidates: Candidate[] = [tfidf, teacherHead, starHead];
const blends: BlendSpec[] = [
  { name: 'accurate: teacher + LR blended with TF-IDF + LR', parts: [teacherHead.name, tfidf.name] },
  { name: 'accurate: star head blended with TF-IDF + LR', parts: [starHead.name, tfidf.name] },
];
if (values.students) {
  for (const s of await studentCandidates(rows, embeddings, labels, log)) {
    candidates.push(s);
    blends.push({ name: `${s.name} blended with TF-IDF + LR`, parts: [s.name, tfidf.name] });
  }
}

const sources = values.sources ? values.sources.split(',') : DEFAULT_SOURCES;
const splits: EvalSplit[] = [randomSplit(rows, 0.2), ...sources.map((s) => leaveSourceOut(rows, s))];
const results: SplitResult[] = [];
// The attach step serves whichever head's blend scores higher on validation: the same choice, per split.
const choices = [{ name: 'accurate as attach serves it: the head with the better validation macro-F1 + log offsets', among: [blends[0]!.name, blends[1]!.name] }];
for (const split of splits) results.push(await evaluateSplit(rows, split, candidates, blends, log, { choices }));
console.log(resultsTable(results, tfidf.name));
if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify({ data: data.files, sample: values.sample ?? 1, rows: rows.length, results }, null, 1)}\n`);
}
