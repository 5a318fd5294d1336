/**
 * The scorer's /ready on its metrics port, in a real scorer process on the real broker with the shipped
 * model: ready once the model is loaded, promotions are followed and the consumer is in its group;
 * /health is liveness only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib.js';
import { createSetup, killAllScorers, sleep, startScorer, type TestSetup } from './helpers.js';

describe('scorer readiness', () => {
  let setup: TestSetup;
  beforeAll(async () => {
    setup = await createSetup('ready');
  });
  afterAll(async () => {
    await killAllScorers();
    setup?.cleanup();
  });

  it('answers /ready 200 with model, promotions and consumer checks once it has joined its group', async () => {
    const port = await freePort();
    const scorer = startScorer(setup, 'ready-1', { DRIFTLINE_SCORER_METRICS_PORT: String(port) });
    let last: { status: number; body: unknown } | undefined;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
      if (response) last = { status: response.status, body: await response.json() };
      if (last?.status === 200) break;
      if (last) expect(last.status, JSON.stringify(last.body)).toBe(503);
      await sleep(250);
    }
    expect(last?.body).toEqual({ status: 'ready', checks: { model: { ok: true }, promotions: { ok: true }, kafka_consumer: { ok: true } } });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(await scorer.kill('SIGTERM')).toBe(0);
  });
});
