/**
 * SIGKILL mid-stream: the scorer dies with transactions open (and possibly committing); a restarted process
 * fences the dead one's transactional ids, and the output still holds every review exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countById, createSetup, groupProgress, loadReviews, produceAtRate, readScored, reviewMessage, startScorer, waitForCaughtUp, waitUntil, type ScorerChild, killAllScorers, type TestSetup } from './helpers.js';

describe('scorer: crash and restart', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('crash');
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('still yields exactly N scored events after two SIGKILLs and restarts mid-stream', async () => {
    const total = 2_400;
    const reviews = loadReviews(total);
    // Small transactions: many commits are in flight when the kill lands.
    const env = { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '40' };
    const children: ScorerChild[] = [startScorer(setup, 'crash-1', env)];
    const committed = async (): Promise<number> => (await groupProgress(setup.kafka, setup.groupId, setup.topics.reviews)).committed;
    // Production pauses at each step until it is done, so every kill lands mid-stream with work in flight.
    const steps = [
      { at: 700, committedAtLeast: 400, victim: 0, next: 'crash-2' },
      { at: 1_500, committedAtLeast: 1_100, victim: 1, next: 'crash-3' },
    ];
    await produceAtRate(setup.kafka, setup.topics.reviews, reviews.map(reviewMessage), 300, async (sent) => {
      const step = steps[0];
      if (!step || sent < step.at) return;
      steps.shift();
      await waitUntil(`${step.committedAtLeast} reviews committed`, async () => (await committed()) >= step.committedAtLeast, 120_000, children);
      expect(await children[step.victim]!.kill('SIGKILL')).toBe(-1);
      children.push(startScorer(setup, step.next, env));
    });
    expect(steps).toEqual([]);
    await waitForCaughtUp(setup, 180_000, children);
    expect(await children[2]!.kill('SIGTERM')).toBe(0);

    const scored = await readScored(setup);
    const counts = countById(scored);
    const duplicates = [...counts.entries()].filter(([, c]) => c > 1);
    expect(duplicates).toEqual([]);
    expect(counts.size).toBe(total);
    expect(scored).toHaveLength(total);
    expect(new Set(reviews.map((r) => r.review_id))).toEqual(new Set(counts.keys()));
  });
});
