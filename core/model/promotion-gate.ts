/**
 * The quality part of the promotion gate, on the held-out metrics a version was registered with:
 * a candidate is refused when it loses sentiment macro-F1 or category macro-F1 against production, or
 * when it loses a per-class floor: a sentiment or category class of it has F1 under the floor (one collapsed
 * class hides easily in an average), unless production's F1 of that class was under the floor too and the
 * candidate is no worse on it. Without that exception a model could never replace a copy of itself once one of its
 * classes is weak (the shipped stream model's AMAZON_FASHION and Appliances categories are): the gate stops
 * regressions, it does not demand a quality production never had. A class production does not report (a new
 * category class) must meet the floor. Metrics a version does not have (older versions) are not compared.
 */

export interface ClassF1 {
  f1: number;
}

export interface GateMetrics {
  macroF1?: unknown;
  perClass?: unknown;
  categoryMacroF1?: unknown;
  categoryPerClass?: unknown;
}

export interface GateRefusal {
  reason: string;
  details: Record<string, unknown>;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Class -> F1 of a per-class table ({ cls: { f1, ... } }); entries without a finite f1 are skipped. */
export function classF1s(table: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof table !== 'object' || table === null) return out;
  for (const [cls, entry] of Object.entries(table)) {
    const f1 = finite((entry as Partial<ClassF1> | null)?.f1);
    if (f1 !== undefined) out.set(cls, f1);
  }
  return out;
}

/** A candidate class under the floor, unless production's same class was under it too and the candidate is no worse. */
function losesFloor(candidateF1: number, productionF1: number | undefined, floor: number): boolean {
  if (candidateF1 >= floor) return false;
  return productionF1 === undefined || productionF1 >= floor || candidateF1 < productionF1;
}

/**
 * Why `candidate` may not replace `production` (null: it may). Sentiment macro-F1 is checked by the
 * registry itself (heldOutMacroF1); this adds category macro-F1 and the per-class floor.
 */
export function qualityRefusal(candidate: GateMetrics, production: GateMetrics, minClassF1: number): GateRefusal | null {
  const candidateCategory = finite(candidate.categoryMacroF1);
  const productionCategory = finite(production.categoryMacroF1);
  if (candidateCategory !== undefined && productionCategory !== undefined && candidateCategory < productionCategory) {
    return {
      reason: `category macro-F1 ${candidateCategory.toFixed(4)} < production's ${productionCategory.toFixed(4)}`,
      details: { candidateCategoryMacroF1: candidateCategory, productionCategoryMacroF1: productionCategory },
    };
  }
  for (const [task, table, productionTable] of [['sentiment', candidate.perClass, production.perClass], ['category', candidate.categoryPerClass, production.categoryPerClass]] as const) {
    const before = classF1s(productionTable);
    const below = [...classF1s(table).entries()].filter(([cls, f1]) => losesFloor(f1, before.get(cls), minClassF1));
    if (below.length > 0) {
      return {
        reason: `${task} class F1 under the floor ${minClassF1}: ${below.map(([cls, f1]) => `${cls} ${f1.toFixed(4)}`).join(', ')}`,
        details: { task, minClassF1, classesBelowFloor: Object.fromEntries(below) },
      };
    }
  }
  return null;
}
