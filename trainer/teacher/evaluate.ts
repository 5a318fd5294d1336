/**
 * The honest evaluation: every candidate sentiment model and the TF-IDF + LR reference are trained on the same
 * split in the same run, on the random held-out split and on leave-one-source-out splits. Blends of two
 * candidates get their weight from an inner validation split of the training rows (never from the test rows).
 */
import { REFERENCE_TFIDF_PARAMS, TfidfModel } from '../baseline-tfidf.js';
import { type LabeledReview, sentimentLabel, splitByReviewId } from '../data.js';
import { type ClassificationReport, classificationReport, round1, round4 } from '../metrics.js';
import { SENTIMENTS } from '../../schemas/types.js';
import { applyLogOffsets, tuneLogOffsets } from './log-offsets.js';
import { argmaxRows } from './softmax-regression.js';
import type { EvalSplit } from './splits.js';

const CLASSES = 3;
const INNER_SALT = 0x1a7e;

/** A model family: trained on some rows, it returns class probabilities [test.length x 3] for others. */
export interface Candidate {
  name: string;
  fitPredict(train: readonly number[], test: readonly number[]): Float32Array | Promise<Float32Array>;
}

export interface SplitOptions {
  /**
   * 'all' (default): every candidate is also refitted on the inner training rows, so each gets a "+ log offsets"
   * row; 'blends': only blend parts are (a candidate that trains for minutes and brings its own calibration, like
   * the stream model, is refitted only when a blend needs its validation probabilities).
   */
  innerFit?: 'all' | 'blends';
  /**
   * Rows that pick one of several "+ log offsets" models by their macro-F1 on the inner validation rows, as the
   * attach step picks the head it serves: the chosen model's test figures under the choice's name.
   */
  choices?: readonly ChoiceSpec[];
}

export interface ChoiceSpec {
  name: string;
  /** Models without " + log offsets"; the tuned row of each is compared. */
  among: readonly string[];
}

export interface BlendSpec {
  name: string;
  /** Candidate names; the first gets weight w, the second 1 - w. */
  parts: [string, string];
}

export interface SplitResult {
  split: string;
  trainRows: number;
  testRows: number;
  models: Record<string, ModelResult>;
}

export type ModelResult = ClassificationReport & {
  blendWeight?: number;
  logOffsets?: number[];
  /** Macro-F1 on the inner validation rows, offsets applied (the "+ log offsets" rows). */
  validationMacroF1?: number;
  /** For a choice row: the model it chose. */
  chosen?: string;
  seconds: number;
};

const TUNED = ' + log offsets';

export function tfidfCandidate(rows: readonly LabeledReview[]): Candidate {
  return {
    name: 'TF-IDF + LR (word 1-2 + char 2-5, balanced)',
    fitPredict(train, test) {
      const model = TfidfModel.train(
        train.map((i) => rows[i]!),
        REFERENCE_TFIDF_PARAMS,
      );
      return model.predictProbabilities(test.map((i) => rows[i]!));
    },
  };
}

function mix(a: Float32Array, b: Float32Array, w: number): Float32Array {
  return Float32Array.from(a, (x, i) => w * x + (1 - w) * b[i]!);
}

function macroF1(actual: Int32Array, probabilities: Float32Array): number {
  return classificationReport(actual, argmaxRows(probabilities, CLASSES), SENTIMENTS).macroF1;
}

/** The blend weight (0..1 by 0.05) with the best macro-F1 on validation rows. */
export function tuneBlendWeight(actual: Int32Array, a: Float32Array, b: Float32Array): number {
  let best = { w: 0.5, f1: -1 };
  for (let k = 0; k <= 20; k++) {
    const w = k / 20;
    const f1 = macroF1(actual, mix(a, b, w));
    if (f1 > best.f1 + 1e-9) best = { w, f1 };
  }
  return best.w;
}

export async function evaluateSplit(
  rows: readonly LabeledReview[],
  split: EvalSplit,
  candidates: readonly Candidate[],
  blends: readonly BlendSpec[],
  log: (m: string) => void,
  options: SplitOptions = {},
): Promise<SplitResult> {
  const labels = Int32Array.from(rows, (r) => sentimentLabel(r.rating));
  const actual = Int32Array.from(split.test, (i) => labels[i]!);
  const result: SplitResult = { split: split.name, trainRows: split.train.length, testRows: split.test.length, models: {} };
  const testProbs = new Map<string, Float32Array>();
  const seconds = new Map<string, number>();
  for (const c of candidates) {
    const t0 = performance.now();
    const p = await c.fitPredict(split.train, split.test);
    seconds.set(c.name, (performance.now() - t0) / 1000);
    testProbs.set(c.name, p);
    result.models[c.name] = { ...classificationReport(actual, argmaxRows(p, CLASSES), SENTIMENTS), seconds: round1(seconds.get(c.name)!) };
    log(`${split.name}: ${c.name} macro-F1 ${result.models[c.name]!.macroF1}`);
  }
  // Inner validation split of the training rows: blend weights and log offsets are tuned there, never on test rows.
  const indexed = split.train.map((i) => ({ review_id: rows[i]!.review_id, i }));
  const { rest, held } = splitByReviewId(indexed, 0.2, INNER_SALT);
  const innerTrain = rest.map((r) => r.i);
  const innerVal = held.map((r) => r.i);
  const valActual = Int32Array.from(innerVal, (i) => labels[i]!);
  const valProbs = new Map<string, Float32Array>();
  const blended = new Set(blends.flatMap((b) => b.parts));
  for (const c of candidates) if (options.innerFit !== 'blends' || blended.has(c.name)) valProbs.set(c.name, await c.fitPredict(innerTrain, innerVal));
  for (const blend of blends) {
    const [a, b] = blend.parts;
    const w = tuneBlendWeight(valActual, valProbs.get(a)!, valProbs.get(b)!);
    const p = mix(testProbs.get(a)!, testProbs.get(b)!, w);
    testProbs.set(blend.name, p);
    valProbs.set(blend.name, mix(valProbs.get(a)!, valProbs.get(b)!, w));
    seconds.set(blend.name, seconds.get(a)! + seconds.get(b)!);
    result.models[blend.name] = { ...classificationReport(actual, argmaxRows(p, CLASSES), SENTIMENTS), blendWeight: w, seconds: round1(seconds.get(blend.name)!) };
    log(`${split.name}: ${blend.name} (w=${w}) macro-F1 ${result.models[blend.name]!.macroF1}`);
  }
  for (const name of [...testProbs.keys()]) {
    if (!valProbs.has(name)) continue;
    const offsets = tuneLogOffsets(valActual, valProbs.get(name)!, SENTIMENTS);
    const p = applyLogOffsets(testProbs.get(name)!, offsets);
    const tuned = `${name}${TUNED}`;
    const validationMacroF1 = round4(macroF1(valActual, applyLogOffsets(valProbs.get(name)!, offsets)));
    result.models[tuned] = { ...classificationReport(actual, argmaxRows(p, CLASSES), SENTIMENTS), blendWeight: result.models[name]!.blendWeight, logOffsets: offsets, validationMacroF1, seconds: round1(seconds.get(name)!) };
    log(`${split.name}: ${tuned} [${offsets.join(', ')}] macro-F1 ${result.models[tuned].macroF1} (validation ${validationMacroF1})`);
  }
  for (const choice of options.choices ?? []) {
    const chosen = chooseOnValidation(result, choice);
    result.models[choice.name] = { ...result.models[chosen]!, chosen };
    log(`${split.name}: ${choice.name} chose ${chosen}: macro-F1 ${result.models[chosen]!.macroF1}`);
  }
  return result;
}

/** The tuned model of `choice.among` with the best validation macro-F1 (ties: the first listed). */
function chooseOnValidation(result: SplitResult, choice: ChoiceSpec): string {
  let best: { name: string; f1: number } | undefined;
  for (const name of choice.among) {
    const f1 = result.models[`${name}${TUNED}`]?.validationMacroF1;
    if (f1 === undefined) throw new Error(`choice ${choice.name}: ${name} has no tuned row (is it fitted on the inner split?)`);
    if (!best || f1 > best.f1 + 1e-9) best = { name: `${name}${TUNED}`, f1 };
  }
  if (!best) throw new Error(`choice ${choice.name}: nothing to choose from`);
  return best.name;
}

/** A markdown table: one row per model and split, per-class F1 and the gap to the reference. */
export function resultsTable(results: readonly SplitResult[], reference: string): string {
  const lines = ['| split | model | macro-F1 | Δ vs TF-IDF+LR | F1 neg | F1 neu | F1 pos | blend w |', '|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    for (const [name, m] of Object.entries(r.models)) {
      // Tuned models are compared with the tuned reference: offsets lift TF-IDF + LR too. A choice row is as
      // tuned as the model it chose, whatever its name. (Without a tuned reference in the run, the plain one.)
      const tuned = (m.chosen ?? name).endsWith(TUNED);
      const ref = ((tuned ? r.models[`${reference}${TUNED}`] : undefined) ?? r.models[reference])?.macroF1 ?? Number.NaN;
      const f = (c: string) => (m.perClass[c]!.support === 0 ? '–' : m.perClass[c]!.f1.toFixed(3));
      const delta = name === reference || name === `${reference}${TUNED}` ? '' : (m.macroF1 - ref >= 0 ? '+' : '') + (m.macroF1 - ref).toFixed(3);
      lines.push(`| ${r.split} (${r.testRows}) | ${name} | ${m.macroF1.toFixed(3)} | ${delta} | ${f('negative')} | ${f('neutral')} | ${f('positive')} | ${m.blendWeight ?? ''} |`);
    }
  }
  return lines.join('\n');
}
