/**
 * The trainer's choice of the stream tier's category blend (trainer/category-blend.ts): the tuned figure is the served
 * one, the blend is kept only when it beats the head alone, and a model without categories gets none.
 */
import { describe, expect, it } from 'vitest';
import { CATEGORY_WIDE_FILE } from '../../core/model/category-wide.js';
import { ModelForward } from '../../core/model/runtime.js';
import { type ModelBundle, withoutCategoryBlend } from '../../core/model/text-model.js';
import { loadTf } from '../../core/model/tf.js';
import { fitCategoryBlend } from '../../trainer/category-blend.js';
import { categoryClass } from '../../trainer/evaluate.js';
import { macroF1Of } from '../../trainer/teacher/log-offsets.js';
import { syntheticReviews, trainTiny } from './fixtures.js';

/** Reviews whose category shows only in rare product words: a 3-epoch, 8-dim head confuses them, a linear model does not. */
function productWordReviews(n: number, seed: number) {
  return syntheticReviews(n, seed).map((row, i) => {
    const product = `${row.category!.toLowerCase()}${i % 7}item`;
    return { ...row, text: `${row.text} ${product}`, title: null };
  });
}

describe('fitCategoryBlend', () => {
  it('reports the served validation macro-F1 and keeps the blend only when it beats the head alone', async () => {
    const { tf } = await loadTf('wasm');
    const trained = await trainTiny(productWordReviews(600, 31), { epochs: 1 });
    const bundle = withoutCategoryBlend(trained.bundle);
    const fit = productWordReviews(500, 41);
    const val = productWordReviews(200, 43);
    const lines: string[] = [];
    const fitted = fitCategoryBlend(tf, bundle, fit, val, (line) => lines.push(line));
    expect(lines.some((line) => line.startsWith('category blend: head weight'))).toBe(true);
    if (!fitted) {
      expect.unreachable('the wide part should add to a one-epoch head on product-word categories');
      return;
    }
    const { summary, categoryBlend } = fitted;
    expect(categoryBlend.file).toBe(CATEGORY_WIDE_FILE);
    expect(categoryBlend.headWeight).toBeLessThan(1);
    expect(summary.validationMacroF1.blended).toBeGreaterThan(summary.validationMacroF1.head);
    expect(Array.from(fitted.categoryWide.idf)).toEqual(Array.from(bundle.wide.idf));
    // The served forward pass with the fitted blend reproduces the reported validation figure.
    const served = new ModelForward(tf, { ...bundle, categoryWide: fitted.categoryWide, manifest: { ...bundle.manifest, formatVersion: 3, categoryBlend } });
    const classes = bundle.manifest.categories;
    const scored = val.filter((r) => categoryClass(r.category, classes) >= 0);
    const labels = Int32Array.from(scored, (r) => categoryClass(r.category, classes));
    expect(Math.round(macroF1Of(labels, served.heads(scored).category, classes) * 1e4) / 1e4).toBe(summary.validationMacroF1.blended);
  }, 120_000);

  it('gives no blend to a model without categories', async () => {
    const { tf } = await loadTf('wasm');
    const rows = syntheticReviews(300, 5).map((r) => ({ ...r, category: null }));
    const trained = await trainTiny(rows, { epochs: 1 });
    expect(trained.bundle.manifest.categories.length).toBeLessThan(2);
    expect(trained.categoryBlend).toBeUndefined();
    expect(fitCategoryBlend(tf, withoutCategoryBlend(trained.bundle), rows, rows)).toBeUndefined();
  }, 120_000);
});
