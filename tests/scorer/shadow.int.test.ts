/**
 * Shadow scoring on real Kafka (DRIFTLINE_SHADOW=staging): with a staged candidate (a copy of models/default
 * registered as v2), every review production scores also gets one event from the candidate on the shadow
 * topic, naming v2, and none on the scored topic; a candidate registered while running (v3, through the
 * registration event) takes over the shadow. Production's output is the same as a scorer's without shadow
 * (same reviews, same predictions), and with shadow off nothing reaches the shadow topic.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { ensureTopics } from '../../core/kafka.js';
import { kafkaPromotionPublisher, publishingRegistry } from '../../core/model/promotions.js';
import { openRegistry } from '../../core/model/registry/index.js';
import type { ScoredReview } from '../../schemas/types.js';
import { countById, createSetup, killAllScorers, loadReviews, loggedWithVersion, produce, readScored, readTopic, registerShippedCopy, reviewMessage, startScorer, waitForCaughtUp, waitUntil, type ScorerChild, type TestSetup } from './helpers.js';

const FIRST = 300;
const SECOND = 150;
const reviews = loadReviews(FIRST + SECOND, 9_000);

async function withShadowTopic(setup: TestSetup): Promise<string> {
  const topic = `t-${setup.id}-shadow`;
  await ensureTopics(setup.kafka, [topic], undefined, 3);
  setup.env.DRIFTLINE_TOPIC_SHADOW = topic;
  return topic;
}

const readShadow = (setup: TestSetup, topic: string) => readTopic<ScoredReview>(setup.kafka, topic, (v) => codecFor('ScoredReview').decode(v));

function shadowingWith(child: ScorerChild, version: number): boolean {
  return loggedWithVersion(child, 'shadow scoring with the staging candidate', version);
}

/** review_id → the production prediction, for comparing two runs. */
function predictions(records: Array<{ value: ScoredReview }>): Map<string, string> {
  return new Map(records.map(({ value: r }) => [r.review_id, JSON.stringify([r.sentiment, r.prob_negative, r.prob_neutral, r.prob_positive, r.predicted_category, r.model_version])]));
}

describe('scorer: shadow scoring', () => {
  const setups: TestSetup[] = [];
  afterAll(async () => {
    await killAllScorers();
    for (const setup of setups) setup.cleanup();
  });

  let withShadowOutput: Map<string, string> | undefined;

  it('publishes a staged candidate\'s events to the shadow topic only, in the same transactions, and follows a newly registered candidate', async () => {
    const setup = await createSetup('shadow-on');
    setups.push(setup);
    const shadowTopic = await withShadowTopic(setup);
    const publisher = kafkaPromotionPublisher(setup.kafka, setup.topics.promotions);
    const registry = publishingRegistry(openRegistry(setup.registryDir), publisher);
    try {
      expect(await registerShippedCopy(registry, { actor: 'test' })).toBe(2); // staging
      const scorer = startScorer(setup, 'shadow-on', { DRIFTLINE_SHADOW: 'staging', DRIFTLINE_SCORER_MAX_TXN_RECORDS: '100' });
      await waitUntil('the scorer to shadow-score with v2', () => shadowingWith(scorer, 2), 90_000, [scorer]);

      await produce(setup.kafka, setup.topics.reviews, reviews.slice(0, FIRST).map(reviewMessage));
      await waitForCaughtUp(setup, 90_000, [scorer]);
      const scored = await readScored(setup);
      const shadow = await readShadow(setup, shadowTopic);
      expect(scored).toHaveLength(FIRST);
      expect(new Set(scored.map((s) => s.value.model_version))).toEqual(new Set([1]));
      expect(shadow).toHaveLength(FIRST);
      expect(new Set(shadow.map((s) => s.value.model_version))).toEqual(new Set([2]));
      expect([...countById(shadow).values()].every((n) => n === 1)).toBe(true);
      expect(new Set(shadow.map((s) => s.value.review_id))).toEqual(new Set(scored.map((s) => s.value.review_id)));

      // A newer candidate registered while running: its registration event moves the shadow to v3.
      expect(await registerShippedCopy(registry, { actor: 'test' })).toBe(3);
      await waitUntil('the scorer to shadow-score with v3', () => shadowingWith(scorer, 3), 90_000, [scorer]);
      await produce(setup.kafka, setup.topics.reviews, reviews.slice(FIRST).map(reviewMessage));
      await waitForCaughtUp(setup, 90_000, [scorer]);
      const scoredAll = await readScored(setup);
      const shadowAll = await readShadow(setup, shadowTopic);
      expect(scoredAll).toHaveLength(FIRST + SECOND);
      expect(new Set(scoredAll.map((s) => s.value.model_version))).toEqual(new Set([1]));
      const newIds = new Set(reviews.slice(FIRST).map((r) => r.review_id));
      const shadowOfNew = shadowAll.filter((s) => newIds.has(s.value.review_id));
      expect(shadowOfNew).toHaveLength(SECOND);
      expect(new Set(shadowOfNew.map((s) => s.value.model_version))).toEqual(new Set([3]));
      withShadowOutput = predictions(scoredAll.filter((s) => !newIds.has(s.value.review_id)));
      await scorer.kill('SIGTERM');
    } finally {
      await publisher.close();
    }
  }, 300_000);

  it('with shadow off, produces nothing on the shadow topic and the same production output', async () => {
    const setup = await createSetup('shadow-off');
    setups.push(setup);
    const shadowTopic = await withShadowTopic(setup);
    expect(await registerShippedCopy(openRegistry(setup.registryDir), { actor: 'test' })).toBe(2); // staged, but shadow is off
    const scorer = startScorer(setup, 'shadow-off', { DRIFTLINE_SCORER_MAX_TXN_RECORDS: '100' });
    await produce(setup.kafka, setup.topics.reviews, reviews.slice(0, FIRST).map(reviewMessage));
    await waitForCaughtUp(setup, 90_000, [scorer]);
    const scored = await readScored(setup);
    expect(scored).toHaveLength(FIRST);
    expect(await readShadow(setup, shadowTopic)).toHaveLength(0);
    expect(scorer.logs()).not.toContain('shadow scoring with the staging candidate');
    if (withShadowOutput) expect(predictions(scored)).toEqual(withShadowOutput);
    await scorer.kill('SIGTERM');
  }, 200_000);
});

