/**
 * A scorer whose registry names a production version it cannot load (promoted by a process where it
 * loaded, damaged here, or by a client without the promotion gate) starts anyway with the version that
 * was production before, reports the refused one, and scores: it does not exit and crash-loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../core/model/registry/index.js';
import { countById, createSetup, killAllScorers, loadReviews, MODEL_NAME, produce, readScored, registerShippedCopy, reviewMessage, startScorer, waitForCaughtUp, type TestSetup } from './helpers.js';

describe('scorer: production version that cannot be loaded', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('broken-prod', 1);
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('starts with the previous production version, says so, and scores every review once', async () => {
    // Without the load check, as a registry written by an older client would be.
    const unchecked = openRegistry(setup.registryDir, { verifyArtifacts: async () => undefined });
    const broken = await registerShippedCopy(unchecked, { actor: 'test', corrupt: true });
    await unchecked.promote(MODEL_NAME, broken, { actor: 'test', force: true, reason: 'damaged' });

    const scorer = startScorer(setup, 'broken-prod-1', { DRIFTLINE_MODEL_LOAD_RETRIES: '1' });
    const reviews = loadReviews(100, 7_000);
    await produce(setup.kafka, setup.topics.reviews, reviews.map(reviewMessage));
    await waitForCaughtUp(setup, 120_000, [scorer]);

    const scored = await readScored(setup);
    expect(countById(scored).size).toBe(reviews.length);
    expect(new Set(scored.map(({ value }) => value.model_version))).toEqual(new Set([1]));
    const lines = scorer
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; refused?: number; fallback?: number });
    expect(lines.some((l) => l.msg === 'the production version cannot be loaded; serving the previous production version' && l.refused === broken && l.fallback === 1)).toBe(true);
    expect(await scorer.kill('SIGTERM')).toBe(0);
  });
});
