/**
 * Two scorer processes in one group: a second one joins mid-stream (rebalance), then the first one is stopped
 * (rebalance again). Partitions move with their transactional ids; nothing is lost or doubled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countById, createSetup, groupProgress, loadReviews, produceAtRate, readScored, reviewMessage, startScorer, waitForCaughtUp, waitUntil, type ScorerChild, killAllScorers, type TestSetup } from './helpers.js';

function assignedPartitions(logs: string): number[][] {
  return logs
    .split('\n')
    .filter((line) => line.includes('"partitions assigned"'))
    .map((line) => (JSON.parse(line) as { partitions: number[] }).partitions);
}

describe('scorer: horizontal scale', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('scale', 4);
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('shares partitions between two processes and loses nothing across two rebalances', async () => {
    const total = 2_400;
    const reviews = loadReviews(total, 3_000);
    const env = { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '50' };
    const first = startScorer(setup, 'scale-1', env);
    let second: ScorerChild | undefined;
    const committed = async (): Promise<number> => (await groupProgress(setup.kafka, setup.groupId, setup.topics.reviews)).committed;
    // Production pauses at each step until it is done, so both rebalances happen mid-stream.
    let step = 0;
    await produceAtRate(setup.kafka, setup.topics.reviews, reviews.map(reviewMessage), 300, async (sent) => {
      if (step === 0 && sent >= 600) {
        step = 1;
        await waitUntil('first scorer to commit 300 reviews', async () => (await committed()) >= 300, 120_000, [first]);
        second = startScorer(setup, 'scale-2', env);
        const joined = second;
        await waitUntil('second scorer to get partitions', () => assignedPartitions(joined.logs()).some((p) => p.length > 0), 120_000, [first, joined]);
        const shared = assignedPartitions(joined.logs()).at(-1)!;
        expect(shared.length).toBeGreaterThan(0);
        expect(shared.length).toBeLessThan(4);
      }
      if (step === 1 && sent >= 1_500) {
        step = 2;
        const joined = second!;
        await waitUntil('the second scorer to work on its partitions', () => joined.logs().includes('transactional producer ready'), 120_000, [first, joined]);
        expect(await first.kill('SIGTERM')).toBe(0);
        await waitUntil('second scorer to own every partition', () => assignedPartitions(joined.logs()).at(-1)?.length === 4, 120_000, [joined]);
      }
    });
    expect(step).toBe(2);
    await waitForCaughtUp(setup, 180_000, [first, second!]);
    expect(await second!.kill('SIGTERM')).toBe(0);

    const scored = await readScored(setup);
    const counts = countById(scored);
    expect([...counts.entries()].filter(([, c]) => c > 1)).toEqual([]);
    expect(counts.size).toBe(total);
    expect(scored).toHaveLength(total);
  });
});
