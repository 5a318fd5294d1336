/**
 * The streaming components' HTTP endpoint (core/metrics.ts serveMetrics): /metrics, /health (liveness)
 * and /ready (readiness checks with reasons and a timeout), over a real socket.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { checkReadiness, readinessCondition, serveMetrics, type ReadinessCheck } from '../../core/metrics.js';

const servers: Server[] = [];

async function serve(readiness?: ReadinessCheck[]): Promise<string> {
  const server = await serveMetrics(new Registry(), 0, '127.0.0.1', readiness ? { readiness } : {});
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

describe('/ready', () => {
  it('answers 200 with every check when all pass', async () => {
    const base = await serve([readinessCondition('model', () => true, 'no model'), { name: 'redis', check: async () => undefined }]);
    const response = await fetch(`${base}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { model: { ok: true }, redis: { ok: true } } });
  });

  it('answers 503 naming the failing checks and why, while /health stays 200', async () => {
    let loaded = false;
    const base = await serve([
      readinessCondition('model', () => loaded, 'no reviews version loaded'),
      { name: 'clickhouse', check: async () => Promise.reject(new Error('connection refused')) },
    ]);
    const response = await fetch(`${base}/ready`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not ready',
      checks: { model: { ok: false, reason: 'no reviews version loaded' }, clickhouse: { ok: false, reason: 'connection refused' } },
    });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    loaded = true;
    const again = (await (await fetch(`${base}/ready`)).json()) as { checks: Record<string, { ok: boolean }> };
    expect(again.checks.model).toEqual({ ok: true });
  });

  it('counts a check that does not answer in time as failed', async () => {
    const report = await checkReadiness([{ name: 'redis', check: () => new Promise<void>(() => undefined) }], 200);
    expect(report).toEqual({ ready: false, checks: { redis: { ok: false, reason: 'no answer within 200 ms' } } });
  });

  it('is not served when the component gives no checks (404), /metrics and /health are', async () => {
    const base = await serve();
    expect((await fetch(`${base}/ready`)).status).toBe(404);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});
