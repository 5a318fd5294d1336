/** POST /v1/drift/compare with real reviews: same-source halves stay green, a shifted dataset drifts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVIEWS, buildTestApi, type TestApi } from './helpers.js';

interface FeatureBody {
  feature: string;
  kind: string;
  status: string;
  reference_count: number;
  current_count: number;
  metrics: Array<{ metric: string; value: number; status: string }>;
}

const asItem = (r: (typeof REVIEWS)[number]) => ({ review_id: r.review_id, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified });

describe('POST /v1/drift/compare', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi({ loadModel: false, settings: { maxCompareRows: 500 } });
  });
  afterAll(async () => {
    await test?.close();
  });

  const compare = (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/drift/compare', payload });

  it('reports every monitored feature with its metrics for two datasets', async () => {
    const reference = REVIEWS.slice(0, 300).map(asItem);
    const current = REVIEWS.slice(300, 600).map(asItem);
    const response = await compare({ reference, current });
    expect(response.statusCode).toBe(200);
    const body = response.json() as { status: string; reference_count: number; current_count: number; features: FeatureBody[] };
    expect(body.reference_count).toBe(300);
    expect(body.current_count).toBe(300);
    const names = body.features.map((f) => f.feature);
    expect(names).toEqual(expect.arrayContaining(['rating', 'verified', 'category', 'helpful_votes']));
    expect(names.some((n) => n.startsWith('feature.'))).toBe(true);
    const rating = body.features.find((f) => f.feature === 'rating');
    expect(rating?.kind).toBe('categorical');
    expect(rating?.metrics.map((m) => m.metric)).toEqual(expect.arrayContaining(['psi', 'chi_square']));
    for (const feature of body.features) expect(['green', 'amber', 'red']).toContain(feature.status);
  });

  it('flags a dataset whose ratings and texts differ (red on rating)', async () => {
    // Above the default minimum of 200 values per side, so the statuses are not 'insufficient'.
    const positive = REVIEWS.filter((r) => r.rating === 5).slice(0, 250).map(asItem);
    const negative = REVIEWS.filter((r) => r.rating <= 3).slice(0, 250);
    expect(negative).toHaveLength(250);
    const response = await compare({ reference: positive, current: negative.map(asItem) });
    const body = response.json() as { status: string; features: FeatureBody[] };
    expect(body.status).toBe('red');
    expect(body.features.find((f) => f.feature === 'rating')?.status).toBe('red');
  });

  it('names bad rows of either dataset and caps their size', async () => {
    const bad = await compare({ reference: [{ text: 'ok' }, { rating: 2 }], current: [{ text: 5 }] });
    expect(bad.statusCode).toBe(400);
    const fields = (bad.json().errors as Array<{ field: string }>).map((e) => e.field).sort();
    expect(fields).toEqual(['current.0.text', 'reference.1.text']);
    const tooMany = await compare({ reference: REVIEWS.slice(0, 501).map(asItem), current: [{ text: 'x' }] });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().errors[0]).toMatchObject({ field: 'reference', code: 'FIELD_RANGE' });
  });
});
