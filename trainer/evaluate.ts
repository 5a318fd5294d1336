/**
 * Evaluation of a model runtime on labelled reviews (the held-out part only): sentiment quality overall
 * and per source family, category accuracy, and outlier AUROC on anomalies injected into the same rows.
 */
import type { MonitoredInput } from '../core/drift/baseline.js';
import type { Random } from '../core/model/prng.js';
import type { ModelRuntime, Prediction, ScoreOptions } from '../core/model/types.js';
import type { ReviewInput } from '../core/review.js';
import { SENTIMENTS } from '../schemas/types.js';
import { type LabeledReview, sentimentLabel, sourceFamily } from './data.js';
import { INJECTED_KINDS, buildInjectedSet } from './anomalies.js';
import { type ClassificationReport, auroc, classificationReport, round4 } from './metrics.js';

export interface EvaluationReport {
  rows: number;
  sentiment: ClassificationReport;
  perSource: Record<string, ClassificationReport>;
  /**
   * The category head on rows whose category is one of the model's classes ('other' included): accuracy,
   * per-class precision/recall/F1 and macro-F1 (over the classes present in these rows).
   */
  category: ClassificationReport | null;
  meanConfidence: number;
  outlierRate: number;
  disagreementRate: number;
}

const SCORE_BATCH = 512;

export async function scoreAll(runtime: ModelRuntime, rows: readonly ReviewInput[], options?: ScoreOptions): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let i = 0; i < rows.length; i += SCORE_BATCH) out.push(...(await runtime.score(rows.slice(i, i + SCORE_BATCH), options)));
  return out;
}

export function evaluatePredictions(rows: readonly LabeledReview[], predictions: readonly Prediction[], categories: readonly string[]): EvaluationReport {
  const actual = Int32Array.from(rows, (r) => sentimentLabel(r.rating));
  const predicted = Int32Array.from(predictions, (p) => SENTIMENTS.indexOf(p.sentiment));
  const families = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const family = sourceFamily(r.source);
    let list = families.get(family);
    if (!list) families.set(family, (list = []));
    list.push(i);
  });
  const perSource: Record<string, ClassificationReport> = {};
  for (const [family, idx] of [...families.entries()].sort()) {
    perSource[family] = classificationReport(
      idx.map((i) => actual[i]!),
      idx.map((i) => predicted[i]!),
      SENTIMENTS,
    );
  }
  const category = categories.length > 0 ? categoryReport(rows, predictions, categories) : null;
  const mean = (f: (p: Prediction) => number) => (predictions.length === 0 ? 0 : predictions.reduce((a, p) => a + f(p), 0) / predictions.length);
  return {
    rows: rows.length,
    sentiment: classificationReport(actual, predicted, SENTIMENTS),
    perSource,
    category,
    meanConfidence: round4(mean((p) => p.confidence)),
    outlierRate: round4(mean((p) => (p.outlierFlag ? 1 : 0))),
    disagreementRate: round4(mean((p) => (p.ratingTextDisagreement ? 1 : 0))),
  };
}

/** The class a row's category counts as: itself when it is a class, else 'other' when that is one, else -1 (not scored). */
export function categoryClass(category: string | null | undefined, categories: readonly string[]): number {
  if (!category) return -1;
  const i = categories.indexOf(category);
  return i >= 0 ? i : categories.indexOf('other');
}

function categoryReport(rows: readonly LabeledReview[], predictions: readonly Prediction[], categories: readonly string[]): ClassificationReport {
  const actual: number[] = [];
  const predicted: number[] = [];
  rows.forEach((r, i) => {
    const expected = categoryClass(r.category, categories);
    if (expected < 0) return;
    actual.push(expected);
    // A prediction outside the class list cannot happen with the model's own head; count it as a miss.
    const p = categories.indexOf(predictions[i]!.category ?? '');
    predicted.push(p >= 0 ? p : (expected + 1) % categories.length);
  });
  return classificationReport(actual, predicted, categories);
}

/** What monitoring sees of a scored training review (the same shape the scorer emits). */
export function monitoredInput(row: LabeledReview, p: Prediction): MonitoredInput {
  return {
    rating: row.rating,
    helpful_votes: row.helpful_votes ?? null,
    verified: row.verified ?? null,
    category: row.category ?? null,
    features: p.features,
    sentiment: p.sentiment,
    confidence: p.confidence,
    outlier_score: p.outlierScore,
    shift_score: p.shiftScore,
    embedding: p.embedding ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Simple anomalies (the runtime tests' probes; the evaluation uses the six kinds of trainer/anomalies.ts)

export const ANOMALY_KINDS = ['gibberish', 'spam', 'foreign', 'tiny', 'huge'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

const FOREIGN_WORDS: Record<string, string[]> = {
  de: 'das ist ein sehr gutes produkt aber die lieferung war leider viel zu langsam und der kundendienst hat nicht geantwortet ich würde es trotzdem wieder kaufen weil der preis stimmt'.split(' '),
  es: 'este producto es muy bueno pero el envío llegó tarde y la caja estaba rota no lo recomiendo a nadie porque la calidad es mala y el precio demasiado alto'.split(' '),
  fr: 'ce produit est vraiment très bien mais la livraison était lente et le service client ne répond jamais je ne le recommande pas du tout malgré le prix'.split(' '),
  ru: 'это очень хороший товар но доставка была медленной и упаковка порвана я не рекомендую его потому что качество плохое'.split(' '),
  zh: '这个 产品 非常 好 但是 快递 太 慢 了 包装 也 坏 了 客服 没有 回复 我 不 推荐'.split(' '),
};

function pick<T>(list: readonly T[], random: Random): T {
  return list[Math.floor(random() * list.length)]!;
}

function gibberish(random: Random, words: number): string {
  const letters = 'bcdfghjklmnpqrstvwxzaeiouy';
  const out: string[] = [];
  for (let w = 0; w < words; w++) {
    const len = 3 + Math.floor(random() * 9);
    let word = '';
    for (let i = 0; i < len; i++) word += letters[Math.floor(random() * letters.length)];
    out.push(word);
  }
  return out.join(' ');
}

/** One anomalous review of the given kind, built from a normal one (kept fields, replaced text). */
export function makeAnomaly(kind: AnomalyKind, base: LabeledReview, random: Random, index: number): LabeledReview {
  let text: string;
  switch (kind) {
    case 'gibberish':
      text = gibberish(random, 10 + Math.floor(random() * 60));
      break;
    case 'spam': {
      const phrase = pick(['BUY NOW!!! best price', 'click here free gift card', 'visit my shop for cheap deals', 'WIN WIN WIN great offer'], random);
      text = Array.from({ length: 8 + Math.floor(random() * 30) }, () => phrase).join(' ');
      break;
    }
    case 'foreign': {
      const words = FOREIGN_WORDS[pick(Object.keys(FOREIGN_WORDS), random)]!;
      text = Array.from({ length: 12 + Math.floor(random() * 40) }, () => pick(words, random)).join(' ');
      break;
    }
    case 'tiny':
      text = pick(['k', '.', '!!', 'a', '??', '5'], random);
      break;
    case 'huge':
      text = Array.from({ length: 30 }, () => base.text).join(' ').slice(0, 30_000);
      break;
  }
  return { ...base, review_id: `anomaly-${kind}-${index}`, text, title: kind === 'huge' ? base.title : null };
}

export interface OutlierEvaluation {
  auroc: number;
  perKind: Record<string, number>;
  /** Share of each injected kind flagged at the runtime's threshold. */
  perKindFlagRate: Record<string, number>;
  normalRows: number;
  anomalies: number;
  /** Share of injected anomalies flagged at the runtime's threshold. */
  anomalyFlagRate: number;
  normalFlagRate: number;
}

/**
 * AUROC of outlierScore: held-out normal reviews (label 0) against injected anomalies (label 1) of the
 * six kinds of trainer/anomalies.ts, overall and per kind, and the share of each kind flagged.
 */
export async function evaluateOutliers(runtime: ModelRuntime, normal: readonly LabeledReview[], normalPredictions: readonly Prediction[], perKind = 100, seed = 7): Promise<OutlierEvaluation> {
  const anomalies = buildInjectedSet(normal, { perKind, seed });
  const anomalyPredictions = await scoreAll(runtime, anomalies);
  const normalScores = normalPredictions.map((p) => p.outlierScore);
  const all = [...normalScores, ...anomalyPredictions.map((p) => p.outlierScore)];
  const labels = [...normalScores.map(() => 0), ...anomalyPredictions.map(() => 1)];
  const perKindAuroc: Record<string, number> = {};
  const perKindFlagRate: Record<string, number> = {};
  for (const kind of INJECTED_KINDS) {
    const predictions = anomalyPredictions.filter((_, i) => anomalies[i]!.kind === kind);
    const scores = predictions.map((p) => p.outlierScore);
    perKindAuroc[kind] = auroc([...normalScores, ...scores], [...normalScores.map(() => 0), ...scores.map(() => 1)]);
    perKindFlagRate[kind] = flagRate(predictions);
  }
  return {
    auroc: auroc(all, labels),
    perKind: perKindAuroc,
    perKindFlagRate,
    normalRows: normal.length,
    anomalies: anomalies.length,
    anomalyFlagRate: flagRate(anomalyPredictions),
    normalFlagRate: flagRate(normalPredictions),
  };
}

function flagRate(predictions: readonly Prediction[]): number {
  return round4(predictions.length === 0 ? 0 : predictions.filter((p) => p.outlierFlag).length / predictions.length);
}
