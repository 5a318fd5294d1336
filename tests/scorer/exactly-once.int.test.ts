/**
 * The scorer as a child process on the real broker with the shipped model: every review in yields exactly one
 * ScoredReview (read with read_committed), SIGTERM drains and exits 0, and the metrics say what happened.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countById, createSetup, loadReviews, produce, readDeadLetters, readScored, reviewMessage, startScorer, waitForCaughtUp, killAllScorers, type TestSetup } from './helpers.js';
import { NUMERIC_FEATURES } from '../../core/features/featurizer.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function metricValue(body: string, name: string, labels = ''): number {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

describe('scorer: exactly once', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('eo');
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('scores N reviews into exactly N scored events, keyed by review id, then drains on SIGTERM', async () => {
    const reviews = loadReviews(600);
    await produce(setup.kafka, setup.topics.reviews, reviews.map(reviewMessage));
    const port = await freePort();
    const scorer = startScorer(setup, 'eo-1', { DRIFTLINE_SCORER_METRICS_PORT: String(port), DRIFTLINE_SCORER_MAX_TXN_RECORDS: '150' });
    await waitForCaughtUp(setup, 120_000, [scorer]);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metricValue(metrics, 'driftline_scorer_scored_total', 'model_version="1"')).toBe(600);
    expect(metricValue(metrics, 'driftline_scorer_model_version', 'model_name="default"')).toBe(1);
    expect(metrics).toContain('driftline_scorer_end_to_end_seconds_bucket');

    expect(await scorer.kill('SIGTERM')).toBe(0);
    expect(scorer.logs()).toContain('scorer stopped');

    const scored = await readScored(setup);
    const counts = countById(scored);
    expect(scored).toHaveLength(600);
    expect([...counts.keys()].sort()).toEqual(reviews.map((r) => r.review_id).sort());
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    for (const { value, key } of scored) {
      expect(key).toBe(value.review_id);
      expect(value.model_name).toBe('default');
      expect(value.model_version).toBe(1);
      expect(['negative', 'neutral', 'positive']).toContain(value.sentiment);
      expect(value.prob_negative + value.prob_neutral + value.prob_positive).toBeCloseTo(1, 3);
      // v5: the features travel as values in NUMERIC_FEATURES order, the map left empty.
      expect(value.feature_values).toHaveLength(NUMERIC_FEATURES.length);
      expect(value.features).toEqual({});
      expect(value.scored_time_ms).toBeGreaterThanOrEqual(value.ingest_time_ms);
    }
    // Input positions are unique and name the partition each review was read from.
    expect(new Set(scored.map(({ value }) => `${value.input_partition}:${value.input_offset}`)).size).toBe(600);
    expect(await readDeadLetters(setup)).toHaveLength(0);
  });
});
