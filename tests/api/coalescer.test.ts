/**
 * The score coalescer with the real shipped model: concurrent requests share one runtime call, get
 * exactly their own predictions, and a request that breaks the combined call fails alone.
 * Runtime calls are counted by wrapping the real runtime (failures are injected the same way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoreCoalescer } from '../../api/coalescer.js';
import { DriftlineError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { openRegistry } from '../../core/model/registry/index.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import { createModelService, type ManagedModelService } from '../../core/model/service.js';
import type { ModelRuntime } from '../../core/model/types.js';
import type { ReviewInput } from '../../core/review.js';
import { MODEL_NAME, SHIPPED_MODEL_DIR, sampleItems } from './helpers.js';

const calls: number[] = [];
const POISON = '\u0000poison';

function counted(runtime: ModelRuntime): ModelRuntime {
  return {
    name: runtime.name,
    version: runtime.version,
    backend: runtime.backend,
    score: async (reviews, options) => {
      calls.push(reviews.length);
      if (reviews.some((review) => review.text.includes(POISON))) throw new DriftlineError('MODEL_SCORING_FAILED', 'injected failure');
      return runtime.score(reviews, options);
    },
    check: () => runtime.check(),
    dispose: () => runtime.dispose(),
  };
}

const inputs: ReviewInput[] = sampleItems(12, 300).map((item) => ({ review_id: String(item.id), text: String(item.text), title: (item.title as string | null) ?? null }));

describe('score coalescer', () => {
  let dir: string;
  let service: ManagedModelService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftline-coalescer-'));
    const registry = openRegistry(join(dir, 'registry'));
    await registry.seedFromDirectory(MODEL_NAME, SHIPPED_MODEL_DIR);
    service = createModelService({
      registry,
      modelName: MODEL_NAME,
      logger: createLogger('coalescer-test', 'silent'),
      reconcileIntervalMs: 0,
      loadRuntime: async (versionDir, meta) => counted(await loadModelRuntime(versionDir, meta)),
    });
    await service.loadProduction();
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scores requests that arrive together in one call, each getting its own predictions', async () => {
    const alone = await service.current().score(inputs);
    const coalescer = createScoreCoalescer(service, { maxRows: 100 });
    calls.length = 0;
    const results = await Promise.all(inputs.map((input) => coalescer.score([input], false)));
    expect(calls).toEqual([12]);
    results.forEach((result, i) => {
      expect(result.runtime.version).toBe(1);
      expect(result.predictions).toHaveLength(1);
      expect(result.predictions[0]!.review_id).toBe(inputs[i]!.review_id);
      expect(result.predictions[0]!.probabilities.positive).toBeCloseTo(alone[i]!.probabilities.positive, 5);
    });
  });

  it('keeps sentence scoring apart and splits at maxRows', async () => {
    const coalescer = createScoreCoalescer(service, { maxRows: 4 });
    calls.length = 0;
    const [a, b, c, withSentences] = await Promise.all([
      coalescer.score(inputs.slice(0, 2), false),
      coalescer.score(inputs.slice(2, 4), false),
      coalescer.score(inputs.slice(4, 6), false),
      coalescer.score(inputs.slice(6, 7), true),
    ]);
    expect(calls).toEqual([4, 2, 1]);
    expect([...a.predictions, ...b.predictions, ...c.predictions].map((p) => p.review_id)).toEqual(inputs.slice(0, 6).map((i) => i.review_id));
    expect(withSentences.predictions[0]!.sentences?.length).toBeGreaterThan(0);
    expect(a.predictions[0]!.sentences).toBeUndefined();
  });

  it('scores a request above maxRows alone, in slices, answers in order', async () => {
    const coalescer = createScoreCoalescer(service, { maxRows: 5 });
    calls.length = 0;
    const [big, small] = await Promise.all([coalescer.score(inputs, false), coalescer.score(inputs.slice(0, 1), false)]);
    // The small request is scored between the big one's slices, not after all of them.
    expect(calls).toEqual([5, 1, 5, 2]);
    expect(big.predictions.map((p) => p.review_id)).toEqual(inputs.map((i) => i.review_id));
    expect(small.predictions[0]!.review_id).toBe(inputs[0]!.review_id);
  });

  it('isolates a request that fails the combined call', async () => {
    const coalescer = createScoreCoalescer(service, { maxRows: 100 });
    calls.length = 0;
    const outcomes = await Promise.allSettled([
      coalescer.score([inputs[0]!], false),
      coalescer.score([{ ...inputs[1]!, text: `bad ${POISON}` }], false),
      coalescer.score([inputs[2]!], false),
    ]);
    expect(calls).toEqual([3, 1, 1, 1]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'MODEL_SCORING_FAILED' });
  });

  it('rejects with MODEL_NOT_READY when no model is loaded', async () => {
    const empty = createModelService({ registry: openRegistry(join(dir, 'empty')), modelName: MODEL_NAME, logger: createLogger('coalescer-test', 'silent'), reconcileIntervalMs: 0 });
    const coalescer = createScoreCoalescer(empty, { maxRows: 10 });
    await expect(coalescer.score([inputs[0]!], false)).rejects.toMatchObject({ code: 'MODEL_NOT_READY' });
    await empty.close();
  });
});
