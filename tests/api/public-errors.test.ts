/**
 * Public routes do not leak internals: a ClickHouse failure behind GET /v1/drift is answered with its
 * code and a safe message (the driver's text is logged under the request id), and GET /v1/models does
 * not show logins, host names or client addresses of whoever changed a stage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { MODEL_NAME, SHIPPED_MODEL_DIR, buildTestApi, type TestApi } from './helpers.js';

/** A pino logger whose JSON lines are kept in `lines`. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

describe('GET /v1/drift when ClickHouse fails', () => {
  // A real embedded ClickHouse whose database has no drift tables: every query fails in the driver.
  const DATABASE = 'driftline_leak_probe';
  let dir: string;
  let clickhouse: ClickHouseClient;
  let test: TestApi;
  const captured = capturingLogger();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'driftline-api-leak-'));
    clickhouse = await createClickHouse(coreSettings.load({}, { clickhousePath: join(dir, 'chdb'), clickhouseDatabase: DATABASE }));
    test = await buildTestApi({ loadModel: false, clickhouse, core: { clickhouseDatabase: DATABASE }, logger: captured.logger });
  });
  afterAll(async () => {
    await test?.close();
    await clickhouse?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 CLICKHOUSE_UNAVAILABLE with a safe message and logs the driver error under the request id', async () => {
    for (const url of ['/v1/drift', '/v1/drift/windows']) {
      const response = await test.api.app.inject({ method: 'GET', url, headers: { 'x-request-id': `leak-${url.length}` } });
      expect(response.statusCode).toBe(503);
      const body = response.json() as Record<string, unknown>;
      expect(body).toMatchObject({ code: 'CLICKHOUSE_UNAVAILABLE', retriable: true, request_id: `leak-${url.length}` });
      expect(body.message).toBe('The drift tables could not be read from ClickHouse; the API log has the details under this request id.');
      expect(response.body).not.toContain(DATABASE);
      expect(response.body).not.toMatch(/DB::Exception|Code: \d+|SELECT|FINAL/);
      const logged = captured.lines.filter((line) => line.includes(`"reqId":"leak-${url.length}"`));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.join('\n')).toContain(DATABASE);
    }
  });
});

describe('GET /v1/models', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi({ loadModel: false });
    // What the CLI (USER@host) and an admin call through the API (api:<client ip>) write to the registry.
    await test.registry.seedFromDirectory(MODEL_NAME, SHIPPED_MODEL_DIR, { actor: 'alice@build-host-7.corp.example' });
    await test.registry.archive(MODEL_NAME, 1, { actor: 'api:203.0.113.7', reason: 'retired', force: true });
  });
  afterAll(async () => {
    await test?.close();
  });

  it('shows the kind of actor of each stage change, never a login, host name or client address', async () => {
    for (const url of ['/v1/models', `/v1/models/${MODEL_NAME}`]) {
      const response = await test.api.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toMatch(/alice|build-host-7|corp\.example|203\.0\.113\.7/);
      const summary = (url === '/v1/models' ? response.json().models[0] : response.json()) as { versions: Array<{ stage_history: Array<{ action: string; actor: string }> }> };
      expect(summary.versions[0]!.stage_history.map((entry) => [entry.action, entry.actor])).toEqual([
        ['register', 'cli'],
        ['promote', 'cli'],
        ['archive', 'api'],
      ]);
    }
    // The registry itself keeps the full actor for operators.
    const record = await test.registry.get(MODEL_NAME, 1);
    expect(record.stage_history.at(-1)?.actor).toBe('api:203.0.113.7');
  });
});
