/**
 * The stream tier's category blend (format 3): the runtime serves softmax(w ln p_head + (1 - w) wide logits + offsets)
 * from the TF-IDF row its wide sentiment pass builds, exactly what the trainer's reference functions compute, and the
 * loader refuses every inconsistent directory with MODEL_LOAD_FAILED.
 */
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, writeModelArtifacts } from '../../../core/model/artifacts.js';
import { CATEGORY_WIDE_FILE, blendCategoryRow, quantizeCategoryKernel, quantizedCategorySteps, serializeCategoryWide } from '../../../core/model/category-wide.js';
import { ModelForward, loadModelRuntime } from '../../../core/model/runtime.js';
import { loadWorkerRuntime } from '../../../core/model/worker-runtime.js';
import pino from 'pino';
import { type ModelBundle, withoutCategoryBlend } from '../../../core/model/text-model.js';
import { loadTf } from '../../../core/model/tf.js';
import { DEFAULT_CATEGORY_WIDE, categoryWideLogitRows, trainCategoryWide } from '../../../trainer/category-wide.js';
import type { TrainResult } from '../../../trainer/train.js';
import { syntheticReviews, trainTiny } from '../../trainer/fixtures.js';
import { describeRuntimeConformance, expectCode, probe } from './runtime-conformance.js';

let trained: TrainResult;
let blended: ModelBundle;
let dir: string;
const cleanup: string[] = [];

/**
 * The tiny model with a wide category part (its kernel quantized, as the trainer leaves it, unless `quantized` is false:
 * a part trained before) and a blend set by hand (the trainer may keep the head alone on easy data).
 */
function withCategoryBlend(bundle: ModelBundle, quantized = true): ModelBundle {
  const classes = bundle.manifest.categories;
  const rows = syntheticReviews(400, 21);
  const labels = (r: typeof rows) => Int32Array.from(r, (x) => classes.indexOf(x.category ?? ''));
  const { model } = trainCategoryWide(bundle.featurizer, classes, { rows: rows.slice(0, 300), labels: labels(rows.slice(0, 300)) }, { rows: rows.slice(300), labels: labels(rows.slice(300)) }, { ...DEFAULT_CATEGORY_WIDE, epochs: 2, idf: bundle.wide.idf });
  const logOffsets = classes.map((_, c) => (c === 0 ? 0.4 : c === 1 ? -0.3 : 0));
  const kernel = quantized ? quantizeCategoryKernel(model.kernel, classes.length) : model.kernel;
  return { ...bundle, categoryWide: { ...model, kernel }, manifest: { ...bundle.manifest, formatVersion: 3, categoryBlend: { file: CATEGORY_WIDE_FILE, headWeight: 0.35, logOffsets } } };
}

async function writeCopy(bundle: ModelBundle): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'driftline-category-blend-'));
  cleanup.push(copy);
  await writeModelArtifacts(bundle, copy);
  return copy;
}

async function editManifest(copy: string, edit: (manifest: Record<string, unknown>) => void): Promise<void> {
  const manifest = JSON.parse(await readFile(join(copy, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  edit(manifest);
  await writeFile(join(copy, MANIFEST_FILE), JSON.stringify(manifest));
}

beforeAll(async () => {
  trained = await trainTiny();
  blended = withCategoryBlend(withoutCategoryBlend(trained.bundle));
  dir = await writeCopy(blended);
}, 120_000);

afterAll(async () => {
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

// Round trip bit for bit, empty batch, concurrent calls, load/check failures, dispose: over the blended model too.
describeRuntimeConformance('main-thread runtime with a category blend', loadModelRuntime, () => ({ trained: { ...trained, bundle: blended }, dir }));

describe('category blend: serving', () => {
  const unquantized = () => withCategoryBlend(withoutCategoryBlend(trained.bundle), false);
  it.each([
    ['int8 weights in the serving blocks', () => blended],
    ['a float kernel trained before int8, read from its own table', unquantized],
  ])('serves the trainer reference (%s): head probabilities, wide logits of the same reviews, blendCategoryRow', async (_what, bundleOf) => {
    const { tf } = await loadTf('wasm');
    const bundle = bundleOf();
    const { manifest } = bundle;
    const k = manifest.categories.length;
    expect(quantizedCategorySteps(bundle.categoryWide!.kernel, k) !== null).toBe(bundle === blended);
    const head = new ModelForward(tf, withoutCategoryBlend(bundle)).heads(probe).category;
    const wide = categoryWideLogitRows(bundle.categoryWide!, probe, bundle.featurizer);
    for (let r = 0; r < probe.length; r++) blendCategoryRow(head, r * k, wide, r * k, k, manifest.categoryBlend!);
    const runtime = await loadModelRuntime(bundle === blended ? dir : await writeCopy(bundle), { name: 'tiny', version: 1 });
    try {
      const served = await runtime.score(probe);
      served.forEach((p, r) => {
        const row = Array.from(head.subarray(r * k, (r + 1) * k));
        const best = row.indexOf(Math.max(...row));
        expect(p.category).toBe(manifest.categories[best]);
        expect(p.categoryConfidence).toBe(row[best]);
      });
    } finally {
      runtime.dispose();
    }
  });

  it('changes the served categories: the head alone gives other confidences', async () => {
    const { tf } = await loadTf('wasm');
    const withBlend = new ModelForward(tf, blended).heads(probe).category;
    const headAlone = new ModelForward(tf, withoutCategoryBlend(blended)).heads(probe).category;
    expect(Array.from(withBlend)).not.toEqual(Array.from(headAlone));
  });

  it('computes the same blend with the wide sentiment part switched off (wideWeight 0: the row is still collected)', async () => {
    const { tf } = await loadTf('wasm');
    const off = { ...blended, manifest: { ...blended.manifest, blend: { ...blended.manifest.blend, wideWeight: 0 } } };
    expect(Array.from(new ModelForward(tf, off).heads(probe).category)).toEqual(Array.from(new ModelForward(tf, blended).heads(probe).category));
  });

  it('gives a review the same category alone and inside a batch', async () => {
    const { tf } = await loadTf('wasm');
    const forward = new ModelForward(tf, blended);
    const k = blended.manifest.categories.length;
    const batch = forward.heads(probe.slice(0, 30)).category;
    expect(Array.from(forward.heads([probe[11]!]).category)).toEqual(Array.from(batch.subarray(11 * k, 12 * k)));
  });
});

describe('the whole category distribution on request (ScoreOptions.categoryProbabilities)', () => {
  it('is the served distribution: it sums to 1, its argmax is the category and its maximum the confidence; worker pool the same', async () => {
    const runtime = await loadModelRuntime(dir, { name: 'tiny', version: 1 });
    const pool = await loadWorkerRuntime(dir, { name: 'tiny', version: 1 }, { threads: 1, logger: pino({ level: 'silent' }) });
    try {
      const classes = blended.manifest.categories;
      const plain = await runtime.score(probe.slice(0, 20));
      expect(plain.every((p) => p.categoryProbabilities === undefined)).toBe(true);
      const withDistribution = await runtime.score(probe.slice(0, 20), { categoryProbabilities: true });
      withDistribution.forEach((p, r) => {
        const d = p.categoryProbabilities!;
        expect(d).toHaveLength(classes.length);
        expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(classes[d.indexOf(Math.max(...d))]).toBe(p.category);
        expect(Math.max(...d)).toBe(p.categoryConfidence);
        const { categoryProbabilities: _d, ...rest } = p;
        expect(rest).toEqual(plain[r]);
      });
      expect(await pool.score(probe.slice(0, 20), { categoryProbabilities: true })).toEqual(withDistribution);
    } finally {
      runtime.dispose();
      pool.dispose();
    }
  });
});

describe('category blend: load failures', () => {
  const refusals: Array<[string, (copy: string) => Promise<void>, RegExp]> = [
    ['a missing category-wide.bin', (copy) => unlink(join(copy, CATEGORY_WIDE_FILE)), /category-wide\.bin.*cannot be read/],
    ['a format-2 manifest with a categoryBlend', (copy) => editManifest(copy, (m) => void (m.formatVersion = 2)), /categoryBlend needs formatVersion 3/],
    ['a file name pointing elsewhere', (copy) => editManifest(copy, (m) => void ((m.categoryBlend as Record<string, unknown>).file = '../category-wide.bin')), /file must be category-wide\.bin/],
    ['a head weight outside [0, 1]', (copy) => editManifest(copy, (m) => void ((m.categoryBlend as Record<string, unknown>).headWeight = 1.5)), /headWeight must be in \[0, 1\]/],
    ['one offset too few', (copy) => editManifest(copy, (m) => void ((m.categoryBlend as { logOffsets: number[] }).logOffsets.pop())), /logOffsets must be \d+ finite numbers/],
    [
      'an idf other than the wide part\'s',
      async (copy) => {
        const part = blended.categoryWide!;
        const idf = part.idf.slice();
        const at = idf.findIndex((x) => x > 0);
        idf[at] = idf[at]! + 0.5;
        await writeFile(join(copy, CATEGORY_WIDE_FILE), serializeCategoryWide({ ...part, idf }));
      },
      /idf differs from the wide sentiment part/,
    ],
  ];
  for (const [what, damage, message] of refusals) {
    it(`MODEL_LOAD_FAILED for ${what}`, async () => {
      const copy = await writeCopy(blended);
      await damage(copy);
      const err = await expectCode(loadModelRuntime(copy, { name: 'tiny', version: 1 }), 'MODEL_LOAD_FAILED');
      expect(err.message).toMatch(message);
    });
  }

  it('serves the head alone when the manifest names no blend (a stray category-wide.bin is not read)', async () => {
    const copy = await writeCopy(blended);
    await editManifest(copy, (m) => void delete m.categoryBlend);
    const runtime = await loadModelRuntime(copy, { name: 'tiny', version: 1 });
    const plain = await loadModelRuntime(await writeCopy(withoutCategoryBlend(blended)), { name: 'tiny', version: 1 });
    try {
      expect((await runtime.score(probe)).map((p) => p.categoryConfidence)).toEqual((await plain.score(probe)).map((p) => p.categoryConfidence));
    } finally {
      runtime.dispose();
      plain.dispose();
    }
  });

  it('MODEL_LOAD_FAILED for an in-memory bundle with a part and no blend', async () => {
    const { tf } = await loadTf('wasm');
    const { categoryBlend: _blend, ...manifest } = blended.manifest;
    expect(() => new ModelForward(tf, { ...blended, manifest })).toThrow(/no categoryBlend for the bundle's wide category part/);
  });
});
