/**
 * The stream tier's category blend: the deep category head (pooled hashed-token embedding, ~0.6 macro-F1 on the
 * held-out rows: small categories are lost in 16 dimensions) combined with a wide category part (a class-balanced
 * softmax regression over the same TF-IDF rows as the wide sentiment part, with its idf, so serving reuses the row
 * it has already built; core/model/category-wide.ts). The head's weight and the per-class log offsets are chosen on
 * validation rows through blendCategoryRow, the function that serves them.
 */
import type { CategoryWideModel } from '../core/model/category-wide.js';
import { CATEGORY_WIDE_FILE, blendCategoryRow, quantizeCategoryKernel } from '../core/model/category-wide.js';
import { ModelForward } from '../core/model/runtime.js';
import { type CategoryBlend, type ModelBundle, withoutCategoryBlend } from '../core/model/text-model.js';
import type { Tf } from '../core/model/tf.js';
import { DEFAULT_CATEGORY_WIDE, categoryWideLogitRows, categoryWideProbabilities, trainCategoryWide } from './category-wide.js';
import type { LabeledReview } from './data.js';
import { categoryClass } from './evaluate.js';
import { round4 } from './metrics.js';
import { macroF1Of, tuneLogOffsets } from './teacher/log-offsets.js';

/** Head weights searched: 1 (head alone) down to 0 (wide part alone) by 0.05. */
const WEIGHT_STEPS = 20;
/** Rows per forward call while scoring the validation rows. */
const CHUNK = 512;

export interface CategoryBlendSummary {
  headWeight: number;
  /** The wide part's epoch kept (best validation macro-F1). */
  bestEpoch: number;
  /**
   * Validation macro-F1 of the head alone, the wide part alone (as served: its kernel quantized), the served blend,
   * and the wide part before its kernel was quantized (what the int8 weights cost).
   */
  validationMacroF1: { head: number; wide: number; blended: number; wideUnquantized: number };
  seconds: number;
}

export interface FittedCategoryBlend {
  categoryWide: CategoryWideModel;
  categoryBlend: CategoryBlend;
  summary: CategoryBlendSummary;
}

/**
 * Fits the wide category part on `fitRows` (from `start`, a warm start's parent part, if given) and the blend on
 * `valRows`; undefined when the model has fewer than two categories or when the head alone does best on validation
 * (then there is nothing worth serving).
 */
export function fitCategoryBlend(
  tf: Tf,
  bundle: ModelBundle,
  fitRows: readonly LabeledReview[],
  valRows: readonly LabeledReview[],
  progress: (line: string) => void = () => {},
  start?: CategoryWideModel,
): FittedCategoryBlend | undefined {
  const started = performance.now();
  const classes = bundle.manifest.categories;
  const k = classes.length;
  if (k < 2) return undefined;
  const labelsOf = (rows: readonly LabeledReview[]) => Int32Array.from(rows, (r) => categoryClass(r.category, classes));
  const trained = trainCategoryWide(bundle.featurizer, classes, { rows: fitRows, labels: labelsOf(fitRows) }, { rows: valRows, labels: labelsOf(valRows) }, { ...DEFAULT_CATEGORY_WIDE, idf: bundle.wide.idf, ...(start ? { start } : {}) }, progress);
  // Int8 weights: serving packs them into the blocks it gathers anyway (core/model/wide-scoring.ts), so the blend is tuned on them.
  const model: CategoryWideModel = { ...trained.model, kernel: quantizeCategoryKernel(trained.model.kernel, k) };
  const val = valRows.filter((r) => categoryClass(r.category, classes) >= 0);
  const labels = labelsOf(val);
  const head = headCategoryProbabilities(tf, bundle, val);
  const wide = categoryWideLogitRows(model, val, bundle.featurizer);
  const served = (blend: Omit<CategoryBlend, 'file'>) => {
    const probabilities = head.slice();
    const scratch = wide.slice();
    for (let r = 0; r < val.length; r++) blendCategoryRow(probabilities, r * k, scratch, r * k, k, blend);
    return probabilities;
  };
  const zero = new Array<number>(k).fill(0);
  let best = { headWeight: 1, logOffsets: zero, macroF1: macroF1Of(labels, head, classes) };
  const headAlone = best.macroF1;
  for (let step = WEIGHT_STEPS - 1; step >= 0; step--) {
    const headWeight = step / WEIGHT_STEPS;
    const logOffsets = tuneLogOffsets(labels, served({ headWeight, logOffsets: zero }), classes);
    const macroF1 = macroF1Of(labels, served({ headWeight, logOffsets }), classes);
    // Strictly better only: ties keep the larger head weight.
    if (macroF1 > best.macroF1 + 1e-9) best = { headWeight, logOffsets, macroF1 };
  }
  const wideAlone = macroF1Of(labels, served({ headWeight: 0, logOffsets: zero }), classes);
  const wideUnquantized = macroF1Of(labels, categoryWideProbabilities(trained.model, val, bundle.featurizer), classes);
  const summary: CategoryBlendSummary = {
    headWeight: best.headWeight,
    bestEpoch: trained.bestEpoch,
    validationMacroF1: { head: round4(headAlone), wide: round4(wideAlone), blended: round4(best.macroF1), wideUnquantized: round4(wideUnquantized) },
    seconds: round4((performance.now() - started) / 1000),
  };
  progress(
    `category blend: head weight ${best.headWeight}, offsets ${JSON.stringify(best.logOffsets)}; validation macro-F1 head ${headAlone.toFixed(4)}, wide part ${wideAlone.toFixed(4)} (${wideUnquantized.toFixed(4)} before int8), blend ${best.macroF1.toFixed(4)}`,
  );
  if (best.headWeight === 1) return undefined;
  return { categoryWide: model, categoryBlend: { file: CATEGORY_WIDE_FILE, headWeight: best.headWeight, logOffsets: best.logOffsets }, summary };
}

/** The category head's probabilities (no blend) of `rows`, [rows x classes], through the serving forward pass. */
function headCategoryProbabilities(tf: Tf, bundle: ModelBundle, rows: readonly LabeledReview[]): Float32Array {
  const forward = new ModelForward(tf, withoutCategoryBlend(bundle));
  const k = bundle.manifest.categories.length;
  const out = new Float32Array(rows.length * k);
  for (let at = 0; at < rows.length; at += CHUNK) out.set(forward.heads(rows.slice(at, at + CHUNK)).category, at * k);
  return out;
}
