/**
 * Datasets by location and models by version reference on the admin and drift routes: POST /v1/evaluate reads a
 * labelled file inside the data roots and evaluates a version named by number, latest or production;
 * POST /v1/drift/compare reads either dataset from a file; anything outside the roots is 403, a missing file 404.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';
import { ADMIN_TOKEN, MODEL_NAME, REVIEWS, buildTestApi, registerShippedCopy, type TestApi } from './helpers.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SAMPLE = 'data/sample/reviews-sample.jsonl';
const asLine = (r: (typeof REVIEWS)[number]) => JSON.stringify({ review_id: r.review_id, text: r.text, title: r.title, category: r.category, rating: r.rating, helpful_votes: r.helpful_votes, verified: r.verified, ts: r.ts });

describe('datasets by location, models by version', () => {
  let test: TestApi;
  let scratch: string;
  beforeAll(async () => {
    // Roots: the repository's data/ plus a scratch root holding a small file and a link that leads out of it.
    scratch = mkdtempSync(join(tmpdir(), 'driftline-locations-api-'));
    mkdirSync(join(scratch, 'root'));
    writeFileSync(join(scratch, 'root', 'small.jsonl'), `${REVIEWS.slice(0, 200).map(asLine).join('\n')}\n`);
    writeFileSync(join(scratch, 'outside.jsonl'), `${REVIEWS.slice(200, 260).map(asLine).join('\n')}\n`);
    symlinkSync(join(scratch, 'outside.jsonl'), join(scratch, 'root', 'escape.jsonl'));
    test = await buildTestApi({ dataRoots: [repoPath('data'), join(scratch, 'root')], settings: { maxCompareRows: 5000, rateLimitHeavy: 0 } });
    // A second version (the shipped model again), so latest and production differ.
    await registerShippedCopy(test.registry);
  });
  afterAll(async () => {
    await test?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const evaluate = (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/evaluate', payload, headers: auth });

  it('evaluates a version (number, latest, production) on a dataset named by location', async () => {
    const byLocation = await evaluate({ dataset_location: SAMPLE, version: 'production' });
    expect(byLocation.statusCode).toBe(200);
    const body = byLocation.json();
    expect(body).toMatchObject({ model: { name: MODEL_NAME, version: 1 }, rows: 3000, dataset: { location: SAMPLE, rows: 3000, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(body.accuracy).toBeGreaterThan(0.5);
    // The same file named relative to its root, read from the scratch root, and evaluated by another version.
    expect((await evaluate({ dataset_location: 'sample/reviews-sample.jsonl', version: 1 })).json().rows).toBe(3000);
    const latest = await evaluate({ dataset_location: 'small.jsonl', version: 'latest' });
    expect(latest.json()).toMatchObject({ model: { version: 2 }, rows: 200 });
    // Its eval run names the version's parent from the registry (v2 was registered from v1).
    const run = await test.api.app.inject({ method: 'GET', url: `/v1/runs/${latest.json().run_id as string}`, headers: auth });
    expect(run.json()).toMatchObject({ kind: 'eval', model: { version: 2, parent_version: 1 } });
    // Same weights (a copy) on the same rows: same figures, whichever version scored.
    expect(latest.json().accuracy).toBe((await evaluate({ dataset_location: 'small.jsonl', version: 1 })).json().accuracy);
    expect((await evaluate({ dataset_location: SAMPLE, version: 9 })).statusCode).toBe(404);
    expect((await evaluate({ dataset_location: SAMPLE, version: 'newest' })).statusCode).toBe(400);
  });

  it('refuses locations outside the roots (403) and answers 404 for a missing file, never naming a server path', async () => {
    for (const location of ['../package.json', '/etc/passwd', 'escape.jsonl', 's3://bucket/reviews.jsonl', join(scratch, 'outside.jsonl')]) {
      const refused = await evaluate({ dataset_location: location });
      expect(refused.statusCode, location).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'DATA_LOCATION_REFUSED', field: 'dataset_location' });
      expect(refused.json().message).not.toContain(join(scratch, 'root'));
    }
    const missing = await evaluate({ dataset_location: 'data/sample/missing.jsonl' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('DATA_LOCATION_NOT_FOUND');
    const broken = await evaluate({ dataset_location: 'data/broken/broken-reviews.jsonl' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().message).toContain('data/broken/broken-reviews.jsonl:');
    expect(broken.json().message).not.toContain(repoPath());
    expect((await evaluate({ dataset_location: SAMPLE, reviews: [] })).statusCode).toBe(400);
  });

  it('compares datasets named by location (either side), with the same refusals', async () => {
    const compare = (payload: Record<string, unknown>) => test.api.app.inject({ method: 'POST', url: '/v1/drift/compare', payload });
    const same = await compare({ reference_location: SAMPLE, current_location: 'sample/reviews-sample.jsonl' });
    expect(same.statusCode).toBe(200);
    expect(same.json()).toMatchObject({ status: 'green', reference_count: 3000, current_count: 3000 });
    const mixed = await compare({ reference_location: SAMPLE, current: REVIEWS.slice(0, 300).map((r) => ({ review_id: r.review_id, text: r.text, rating: r.rating, category: r.category })) });
    expect(mixed.statusCode).toBe(200);
    expect(mixed.json()).toMatchObject({ reference_count: 3000, current_count: 300 });
    expect((await compare({ reference_location: 'escape.jsonl', current_location: SAMPLE })).statusCode).toBe(403);
    expect((await compare({ reference_location: SAMPLE, current_location: 'nope.jsonl' })).statusCode).toBe(404);
    expect((await compare({ reference_location: SAMPLE })).statusCode).toBe(400);
  });
});
