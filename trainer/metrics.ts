/** Classification metrics shared by the trainer, the evaluator and the TF-IDF baseline. */

export interface ClassReport {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  rows: number;
  accuracy: number;
  /** Mean F1 over the classes that occur in the labels (a class absent from the labels is skipped). */
  macroF1: number;
  perClass: Record<string, ClassReport>;
  /** confusion[actual][predicted], classes in `classes` order. */
  confusion: number[][];
  classes: string[];
}

export function classificationReport(actual: ArrayLike<number>, predicted: ArrayLike<number>, classes: readonly string[]): ClassificationReport {
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < actual.length; i++) {
    confusion[actual[i]!]![predicted[i]!]!++;
    if (actual[i] === predicted[i]) correct++;
  }
  const perClass: Record<string, ClassReport> = {};
  const f1s: number[] = [];
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedCount === 0 ? 0 : tp / predictedCount;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[classes[c]!] = { precision: round4(precision), recall: round4(recall), f1: round4(f1), support };
    if (support > 0) f1s.push(f1);
  }
  return {
    rows: actual.length,
    accuracy: round4(actual.length === 0 ? 0 : correct / actual.length),
    macroF1: round4(f1s.length === 0 ? 0 : f1s.reduce((a, b) => a + b, 0) / f1s.length),
    perClass,
    confusion,
    classes: [...classes],
  };
}

/** Area under the ROC curve (Mann-Whitney U, ties counted half). labels: 1 = positive (anomaly). */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j + 2) / 2;
    for (let t = i; t <= j; t++) {
      if (labels[order[t]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return round4((rankSum - (positives * (positives + 1)) / 2) / (positives * negatives));
}

export function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** Seconds and other timings in reports: one decimal. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
