import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { qualityRefusal } from '../../../core/model/promotion-gate.js';
import { type ModelRegistry, type RegisterInput, openRegistry } from '../../../core/model/registry/index.js';

const perClass = (f1s: Record<string, number>) => Object.fromEntries(Object.entries(f1s).map(([cls, f1]) => [cls, { precision: f1, recall: f1, f1, support: 10 }]));

const GOOD = {
  macroF1: 0.7,
  perClass: perClass({ negative: 0.7, neutral: 0.45, positive: 0.92 }),
  categoryMacroF1: 0.6,
  categoryPerClass: perClass({ Books: 0.8, DVD: 0.55, Electronics: 0.45 }),
};

describe('qualityRefusal', () => {
  it('lets an equal or better candidate through', () => {
    expect(qualityRefusal(GOOD, GOOD, 0.3)).toBeNull();
    expect(qualityRefusal({ ...GOOD, categoryMacroF1: 0.65 }, GOOD, 0.3)).toBeNull();
  });

  it('refuses a candidate that loses category macro-F1', () => {
    expect(qualityRefusal({ ...GOOD, categoryMacroF1: 0.59 }, GOOD, 0.3)?.reason).toMatch(/category macro-F1 0.5900 < production's 0.6000/);
  });

  it('refuses a candidate with a sentiment or a category class under the floor, naming the classes', () => {
    const weakNeutral = qualityRefusal({ ...GOOD, perClass: perClass({ negative: 0.7, neutral: 0.2, positive: 0.95 }) }, GOOD, 0.3);
    expect(weakNeutral?.reason).toMatch(/sentiment class F1 under the floor 0.3: neutral 0.2000/);
    const weakCategory = qualityRefusal({ ...GOOD, categoryPerClass: perClass({ Books: 0.9, DVD: 0.1, Electronics: 0.25 }) }, GOOD, 0.3);
    expect(weakCategory?.details).toMatchObject({ task: 'category', classesBelowFloor: { DVD: 0.1, Electronics: 0.25 } });
  });

  it('lets through a class production was under the floor on too, unless the candidate is worse on it', () => {
    const weakProduction = { ...GOOD, categoryPerClass: perClass({ Books: 0.8, DVD: 0.55, Electronics: 0.1 }) };
    expect(qualityRefusal(weakProduction, weakProduction, 0.3)).toBeNull();
    expect(qualityRefusal({ ...weakProduction, categoryPerClass: perClass({ Books: 0.8, DVD: 0.55, Electronics: 0.2 }) }, weakProduction, 0.3)).toBeNull();
    const worse = qualityRefusal({ ...weakProduction, categoryPerClass: perClass({ Books: 0.8, DVD: 0.55, Electronics: 0.05 }) }, weakProduction, 0.3);
    expect(worse?.details).toMatchObject({ task: 'category', classesBelowFloor: { Electronics: 0.05 } });
    // A class production does not report (a new category) must meet the floor.
    const newClass = qualityRefusal({ ...weakProduction, categoryPerClass: perClass({ Books: 0.8, DVD: 0.55, Electronics: 0.1, Appliances: 0.2 }) }, weakProduction, 0.3);
    expect(newClass?.details).toMatchObject({ task: 'category', classesBelowFloor: { Appliances: 0.2 } });
  });

  it('does not compare what a version does not report (versions registered before per-class metrics)', () => {
    expect(qualityRefusal({ macroF1: 0.7 }, GOOD, 0.3)).toBeNull();
    expect(qualityRefusal(GOOD, { macroF1: 0.7 }, 0.3)).toBeNull();
  });
});

describe('the registry applies the gate on promotion', () => {
  let dir: string;
  let registry: ModelRegistry;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-gate-'));
    // Metrics-only versions (no model files): the gate under test is the metrics comparison, not the load check.
    registry = openRegistry(dir, { verifyArtifacts: async () => undefined });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function input(metrics: Record<string, unknown>): RegisterInput {
    return {
      name: 'reviews',
      writeArtifacts: async (d) => writeFile(join(d, 'model.bin'), 'weights'),
      metrics,
      baseline: {
        formatVersion: 1,
        modelName: 'reviews',
        modelVersion: 0,
        createdAtMs: 1_700_000_000_000,
        rows: 1,
        features: {},
        reference: { accuracy: 0.9, macroF1: 0.7, meanConfidence: 0.7, outlierRate: 0.01 },
      },
      featurizer: null,
      dataFingerprint: 'sha256:abc',
      params: {},
      timings: {},
    };
  }

  it('refuses (PROMOTION_REFUSED) a candidate with the same sentiment macro-F1 but a lost category macro-F1 or a collapsed class; --force overrides', async () => {
    await registry.register(input(GOOD));
    await registry.register(input({ ...GOOD, categoryMacroF1: 0.5 }));
    await registry.register(input({ ...GOOD, categoryPerClass: perClass({ Books: 0.9, DVD: 0.7, Electronics: 0.05 }) }));
    await registry.register(input({ ...GOOD, macroF1: 0.71, categoryMacroF1: 0.61 }));
    await registry.promote('reviews', 1, { actor: 'test' });
    for (const version of [2, 3]) {
      const refused = await registry.promote('reviews', version, { actor: 'test' }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(DriftlineError);
      expect((refused as DriftlineError).code).toBe('PROMOTION_REFUSED');
    }
    expect(await registry.productionVersion('reviews')).toBe(1);
    await registry.promote('reviews', 4, { actor: 'test' });
    expect(await registry.productionVersion('reviews')).toBe(4);
    await registry.promote('reviews', 3, { actor: 'test', force: true });
    expect(await registry.productionVersion('reviews')).toBe(3);
  });
});
