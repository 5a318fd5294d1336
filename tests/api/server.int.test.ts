/**
 * The real API server (api/server.ts) listening on 127.0.0.1 with real Kafka: readiness follows the
 * promotion follower, a promotion published through the admin route hot-swaps the model while a
 * stream of requests runs (none fails), and shutdown lets an in-flight request finish.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../api/server.js';
import type { RunningApi } from '../../api/types.js';
import type { ReferenceBaseline } from '../../core/drift/baseline.js';
import { createLogger } from '../../core/logger.js';
import { BASELINE_FILE } from '../../core/model/registry/index.js';
import { ADMIN_TOKEN, MODEL_NAME, SHIPPED_MODEL_DIR, sampleItems } from './helpers.js';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface StreamResult {
  statuses: number[];
  versions: number[];
}

describe('API server with Kafka promotions', () => {
  let dir: string;
  let running: RunningApi;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-api-int-'));
    running = await startApiServer({
      logger: createLogger('api-int-test', 'warn'),
      clickhouse: false,
      settings: { host: '127.0.0.1', port: 0, modelName: MODEL_NAME, adminToken: ADMIN_TOKEN, followPromotions: true, groupId: `t-${randomUUID()}-api` },
      core: { registryDir: join(dir, 'registry'), topicPromotions: `t-${randomUUID()}-promotions` },
    });
    await waitFor('readiness', async () => ((await fetch(`${running.url}/ready`)).ok ? true : undefined));
    // Version 2: the shipped artifacts again, registered as staging (publishes a 'register' event).
    const baseline = JSON.parse(await readFile(join(SHIPPED_MODEL_DIR, BASELINE_FILE), 'utf8')) as ReferenceBaseline;
    await running.registry.register({
      name: MODEL_NAME,
      writeArtifacts: (target) => cp(SHIPPED_MODEL_DIR, target, { recursive: true }),
      metrics: {},
      baseline,
      featurizer: null,
      dataFingerprint: 'int-test-v2',
      params: {},
      timings: {},
    });
  });

  afterAll(async () => {
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is ready with the seeded production model and a connected follower', async () => {
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toBeTruthy();
    expect(await ready.json()).toMatchObject({ model: { name: MODEL_NAME, version: 1 }, checks: { model: true, promotion_follower: true } });
  });

  it('hot-swaps to a promoted version during a stream of requests without a failed request', async () => {
    const items = sampleItems(200);
    let stop = false;
    const worker = async (offset: number): Promise<StreamResult> => {
      const result: StreamResult = { statuses: [], versions: [] };
      for (let i = offset; !stop; i += 4) {
        const batch = [items[i % items.length]!, items[(i + 1) % items.length]!].map((item, k) => ({ ...item, id: `${item.id}-${i}-${k}` }));
        const response = await fetch(`${running.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reviews: batch }) });
        result.statuses.push(response.status);
        if (response.ok) {
          const body = (await response.json()) as { model: { version: number }; predictions: Array<{ model: { version: number } }> };
          expect(body.predictions.every((p) => p.model.version === body.model.version)).toBe(true);
          result.versions.push(body.model.version);
        } else {
          result.versions.push(-1);
        }
      }
      return result;
    };
    const workers = [0, 1, 2, 3].map(worker);
    // Let the stream run on version 1 first.
    await waitFor('requests on v1', async () => ((await streamCount()) >= 40 ? true : undefined));

    const promoted = await fetch(`${running.url}/v1/models/${MODEL_NAME}/promote`, { method: 'POST', headers: auth, body: JSON.stringify({ version: 2, force: true }) });
    expect(promoted.status).toBe(200);
    expect(await promoted.json()).toMatchObject({ version: 2, stage: 'production', event_published: true });

    // The follower receives the event and the ModelService swaps; the stream keeps going meanwhile.
    await waitFor('swap to v2', async () => (running.modelService.isReady() && running.modelService.current().version === 2 ? true : undefined));
    const countAtSwap = await streamCount();
    await waitFor('requests on v2', async () => ((await streamCount()) >= countAtSwap + 40 ? true : undefined));
    stop = true;
    const results = await Promise.all(workers);

    const statuses = results.flatMap((r) => r.statuses);
    expect(statuses.length).toBeGreaterThan(80);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    for (const { versions } of results) {
      // Each client sees v1, then v2, never back.
      const firstV2 = versions.indexOf(2);
      expect(firstV2).toBeGreaterThan(-1);
      expect(versions.slice(0, firstV2).every((v) => v === 1)).toBe(true);
      expect(versions.slice(firstV2).every((v) => v === 2)).toBe(true);
    }
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/driftline_api_model_swaps_total\{[^}]*model="reviews"[^}]*\} 1/);
    expect(metrics).toMatch(/driftline_api_model_version\{[^}]*model="reviews"[^}]*\} 2/);
  });

  it('rolls back through the admin route and swaps back to version 1', async () => {
    const rolledBack = await fetch(`${running.url}/v1/models/${MODEL_NAME}/rollback`, { method: 'POST', headers: auth, body: '{}' });
    expect(rolledBack.status).toBe(200);
    await waitFor('swap back to v1', async () => (running.modelService.current().version === 1 ? true : undefined));
    const response = await fetch(`${running.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ review: sampleItems(1)[0] }) });
    expect(((await response.json()) as { model: { version: number } }).model.version).toBe(1);
  });

  it('reports 503 on /ready naming the promotion follower once it is disconnected', async () => {
    await running.follower()?.stop();
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ code: 'KAFKA_UNAVAILABLE', missing: ['promotion_follower'], checks: { model: true, promotion_follower: false } });
  });

  it('finishes an in-flight request when shut down, then stops listening', async () => {
    // The body is sent in two halves: the request is surely in flight (headers received, body not
    // yet complete) when the shutdown starts, and can only finish after it started.
    const body = Buffer.from(JSON.stringify({ reviews: sampleItems(50) }));
    const { port } = new URL(running.url);
    let answer: { status: number; body: string } | undefined;
    const request = httpRequest({ host: '127.0.0.1', port: Number(port), method: 'POST', path: '/v1/predict', headers: { 'content-type': 'application/json', 'content-length': body.length } });
    const answered = new Promise<void>((resolve, reject) => {
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          answer = { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
          resolve();
        });
      });
      request.on('error', reject);
    });
    request.write(body.subarray(0, 100));
    await waitFor('request in flight', async () => ((await inFlightRequests()) > 0 ? true : undefined));

    const closing = running.close();
    await waitFor('draining', async () => (running.api.isDraining() ? true : undefined));
    request.end(body.subarray(100));
    await answered;
    expect(answer?.status).toBe(200);
    expect((JSON.parse(answer?.body ?? '{}') as { predictions: unknown[] }).predictions).toHaveLength(50);
    await closing;
    await expect(fetch(`${running.url}/health`)).rejects.toThrow();
  });

  async function streamCount(): Promise<number> {
    const metric = await running.api.metrics.httpRequests.get();
    return metric.values.filter((v) => v.labels.route === '/v1/predict').reduce((sum, v) => sum + v.value, 0);
  }

  async function inFlightRequests(): Promise<number> {
    const metric = await running.api.metrics.inFlight.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  }
});
