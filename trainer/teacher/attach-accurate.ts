/**
 * Adds the accurate tier to a trained model version: a class-balanced LR head over the teacher's sentence vectors
 * (fitted on the version's training rows), blended with the version's own sentiment probabilities by the weight
 * that maximises macro-F1 on its validation rows, then measured on its held-out rows beside the stream model.
 * The splits are the trainer's own (same salts), so no held-out review is ever fitted on.
 * `teacherSample` < 1 embeds only that share of the rows (by review-id hash): the teacher runs ~100 reviews/s,
 * and 2,000 labelled rows already give most of the head's quality.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ACCURATE_HEAD_FILE, ACCURATE_HEAD_FORMAT, type AccurateHead, AccurateRuntime } from '../../core/model/accurate-runtime.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { ENCODER_DIM, SentenceEncoder, encoderFiles } from '../../core/model/sentence-encoder.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { type LabeledReview, loadLabeledJsonl, sentimentLabel, splitByReviewId } from '../data.js';
import { scoreAll } from '../evaluate.js';
import { type ClassificationReport, classificationReport } from '../metrics.js';
import { HOLDOUT_SALT } from '../pipeline.js';
import { fitSoftmax } from './softmax-regression.js';
import { teacherEmbeddings } from './embeddings.js';
import { tuneBlendWeight } from './evaluate.js';
import { sampleRows } from './splits.js';

export interface AttachOptions {
  holdout: number;
  validationFraction: number;
  seed: number;
  teacherSample: number;
  log: (m: string) => void;
}

export interface AccurateReport {
  heldOutRows: number;
  blendWeight: number;
  stream: ClassificationReport;
  accurate: ClassificationReport;
}

export async function attachAccurateTier(versionDir: string, dataFiles: string[], options: AttachOptions): Promise<AccurateReport> {
  const data = await loadLabeledJsonl(dataFiles);
  const { rest: train, held } = splitByReviewId(data.rows, options.holdout, HOLDOUT_SALT);
  const { rest: fit, held: val } = splitByReviewId(train, options.validationFraction, options.seed ^ 0x7a11);
  const [fitRows, valRows, testRows] = [fit, val, held].map((rows) => sampleRows(rows, options.teacherSample));
  const all: LabeledReview[] = [...fitRows, ...valRows, ...testRows];
  options.log(`accurate tier: teacher vectors of ${all.length} rows (${fitRows.length} fit, ${valRows.length} validation, ${testRows.length} held out)`);
  // Embed the sample of the whole file (the same rows, hence the same cache entry, as the evaluation's --sample).
  const sampled = sampleRows(data.rows, options.teacherSample);
  const cached = await teacherEmbeddings(sampled, options.log);
  const position = new Map(sampled.map((r, i) => [r.review_id, i]));
  const vectors = new Float32Array(all.length * ENCODER_DIM);
  all.forEach((r, i) => {
    const at = position.get(r.review_id)!;
    vectors.set(cached.subarray(at * ENCODER_DIM, (at + 1) * ENCODER_DIM), i * ENCODER_DIM);
  });
  const labels = Int32Array.from(all, (r) => sentimentLabel(r.rating));
  const fitIdx = fitRows.map((_, i) => i);
  const model = fitSoftmax(vectors, ENCODER_DIM, fitIdx, labels, 3);
  const head: AccurateHead = { format: ACCURATE_HEAD_FORMAT, encoder: { name: 'bge-small-en-v1.5-q', dim: ENCODER_DIM }, weights: [...model.weights], bias: [...model.bias], blendWeight: 1 };

  const stream = await loadModelRuntime(versionDir, { name: 'candidate', version: 0 });
  const files = encoderFiles();
  const accurate = new AccurateRuntime(stream, await SentenceEncoder.open(files.model, files.tokenizer), head);
  try {
    // Blend weight on the validation rows: score them once with the head alone (w = 1) and the stream alone.
    const valStream = await scoreAll(stream, valRows);
    const valHead = await scoreAll(accurate, valRows);
    const toProbs = (ps: { probabilities: Record<string, number> }[]) => Float32Array.from(ps.flatMap((p) => SENTIMENTS.map((s) => p.probabilities[s])));
    const valActual = Int32Array.from(valRows, (r) => sentimentLabel(r.rating));
    head.blendWeight = tuneBlendWeight(valActual, toProbs(valHead), toProbs(valStream));
    const actual = Int32Array.from(testRows, (r) => sentimentLabel(r.rating));
    const predicted = (ps: { sentiment: string }[]) => Int32Array.from(ps, (p) => SENTIMENTS.indexOf(p.sentiment as (typeof SENTIMENTS)[number]));
    const streamReport = classificationReport(actual, predicted(await scoreAll(stream, testRows)), SENTIMENTS);
    const accurateReport = classificationReport(actual, predicted(await scoreAll(accurate, testRows)), SENTIMENTS);
    const path = join(versionDir, ACCURATE_HEAD_FILE);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(head)}\n`);
    options.log(`accurate tier: blend weight ${head.blendWeight}; held-out macro-F1 stream ${streamReport.macroF1} -> accurate ${accurateReport.macroF1}`);
    return { heldOutRows: testRows.length, blendWeight: head.blendWeight, stream: streamReport, accurate: accurateReport };
  } finally {
    accurate.dispose();
  }
}
