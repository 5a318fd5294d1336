/**
 * Hot reload mid-stream: a second version (a copy of models/default) is registered and promoted, then rolled
 * back, then an event promotes a corrupt third version, while reviews keep flowing (the registry itself refuses
 * to promote it; the event stands for a version that loaded where it was promoted and not here). Every review is scored exactly
 * once, each event names the version that scored it, versions change only between batches (per input partition
 * the sequence of versions is 1…, 2…, 1…), and the corrupt version is refused while the old one keeps scoring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { kafkaPromotionPublisher, publishPromotion, publishingRegistry } from '../../core/model/promotions.js';
import { openRegistry } from '../../core/model/registry/index.js';
import { countById, createSetup, registerShippedCopy, loadReviews, MODEL_NAME, produceAtRate, readScored, reviewMessage, startScorer, waitForCaughtUp, waitUntil, type ScorerChild, killAllScorers, type TestSetup } from './helpers.js';

interface LogLine {
  msg?: string;
  version?: number;
}

function logLines(child: ScorerChild): LogLine[] {
  return child
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

const swappedTo = (child: ScorerChild, version: number, after: number): boolean =>
  logLines(child)
    .slice(after)
    .some((l) => l.msg === 'scoring with model version' && l.version === version);

describe('scorer: hot reload', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('promo');
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('swaps versions between batches mid-stream, refuses a corrupt version, and scores everything once', async () => {
    const total = 1_800;
    const reviews = loadReviews(total, 6_000);
    const publisher = kafkaPromotionPublisher(setup.kafka, setup.topics.promotions);
    const registry = publishingRegistry(openRegistry(setup.registryDir), publisher);
    // One retry of a failing load (default 6): the refusal of v3 comes sooner, the behaviour is the same.
    const scorer = startScorer(setup, 'promo-1', { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '50', DRIFTLINE_MODEL_LOAD_RETRIES: '1' });
    let mark = 0;
    const steps: Array<{ at: number; run: () => Promise<void> }> = [
      {
        at: 400,
        run: async () => {
          const v2 = await registerShippedCopy(registry, { actor: 'test' });
          expect(v2).toBe(2);
          mark = logLines(scorer).length;
          await registry.promote(MODEL_NAME, 2, { actor: 'test', force: true, reason: 'mid-stream promotion' });
          await waitUntil('the scorer to swap to v2', () => swappedTo(scorer, 2, mark), 60_000, [scorer]);
        },
      },
      {
        at: 900,
        run: async () => {
          mark = logLines(scorer).length;
          await registry.rollback(MODEL_NAME, { actor: 'test', reason: 'mid-stream rollback' });
          await waitUntil('the scorer to roll back to v1', () => swappedTo(scorer, 1, mark), 60_000, [scorer]);
        },
      },
      {
        at: 1_300,
        run: async () => {
          const v3 = await registerShippedCopy(registry, { actor: 'test', corrupt: true });
          mark = logLines(scorer).length;
          await expect(registry.promote(MODEL_NAME, v3, { actor: 'test', force: true, reason: 'corrupt version' })).rejects.toMatchObject({ code: 'PROMOTION_REFUSED' });
          await publishPromotion(setup.kafka, setup.topics.promotions, {
            event_id: randomUUID(),
            model_name: MODEL_NAME,
            version: v3,
            action: 'promote',
            from_stage: 'staging',
            to_stage: 'production',
            previous_production_version: 1,
            reason: 'corrupt version',
            actor: 'test',
            time_ms: Date.now(),
          });
          await waitUntil('the scorer to refuse v3', () => logLines(scorer).slice(mark).some((l) => l.msg === 'model version refused' && l.version === v3), 60_000, [scorer]);
        },
      },
    ];
    await produceAtRate(setup.kafka, setup.topics.reviews, reviews.map(reviewMessage), 200, async (sent) => {
      while (steps.length > 0 && sent >= steps[0]!.at) await steps.shift()!.run();
    });
    await waitForCaughtUp(setup, 180_000, [scorer]);
    expect(await scorer.kill('SIGTERM')).toBe(0);
    await publisher.close();

    const scored = await readScored(setup);
    const counts = countById(scored);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(counts.size).toBe(total);
    const versions = new Set(scored.map(({ value }) => value.model_version));
    expect(versions).toEqual(new Set([1, 2]));

    // Per input partition, in input order, versions change in the order of the swaps: 1 → 2 → 1.
    const byPartition = new Map<number, Array<{ offset: number; version: number }>>();
    for (const { value } of scored) {
      const list = byPartition.get(value.input_partition) ?? [];
      list.push({ offset: value.input_offset, version: value.model_version });
      byPartition.set(value.input_partition, list);
    }
    for (const list of byPartition.values()) {
      const runs = list
        .sort((a, b) => a.offset - b.offset)
        .map((e) => e.version)
        .filter((v, i, all) => i === 0 || all[i - 1] !== v);
      expect([[1], [1, 2], [1, 2, 1], [2], [2, 1]]).toContainEqual(runs);
      expect(runs.at(-1)).toBe(1); // after the rollback and the refused v3, v1 scores the rest
    }
  });
});
