/**
 * The webhook side of `driftline alerts`: the Slack-compatible body and human line of each kind of
 * change, the URL check, and which answers of a real local HTTP server are retried (429, 5xx, no answer)
 * and which are final (other 4xx).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepWindow } from '../../drift-aggregator/alert-episodes.js';
import { alertLine, changeKind, deliverAlert, parseWebhookUrl, postWebhook, slackBody } from '../../drift-aggregator/alert-webhook.js';
import type { DriftAlert, DriftStatus } from '../../schemas/types.js';

/** A change previous → status (built as a raise, then given the wanted states). */
function alertOf(previous: DriftStatus, status: DriftStatus): DriftAlert {
  const [alert] = stepWindow({ modelName: 'reviews', modelVersion: 4, start: Date.UTC(2026, 0, 1) }, 60_000, [
    { segment: 'Books', feature: 'feature.text_chars', metric: 'ks', value: 0.31, pValue: 2e-9, thresholdAmber: 0.1, thresholdRed: 0.2, status: 'red' },
  ], [null], 0).alerts;
  return { ...alert!, previous_status: previous, status, items: alert!.items.map((item) => ({ ...item, status })) };
}

let server: Server;
let base = '';
let hits = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    hits++;
    const status = Number(request.url!.slice(1));
    if (status === 0) return; // never answers: the client's time limit ends it
    request.resume().on('end', () => response.writeHead(status).end(`answer ${status}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('alert webhook body', () => {
  it('names the kind of change', () => {
    expect(changeKind(alertOf('green', 'red'))).toBe('raised');
    expect(changeKind(alertOf('amber', 'red'))).toBe('escalated');
    expect(changeKind(alertOf('red', 'amber'))).toBe('de-escalated');
    expect(changeKind(alertOf('red', 'green'))).toBe('recovered');
  });

  it('is Slack-compatible: text plus section and context blocks', () => {
    const alert = alertOf('red', 'green');
    const body = slackBody(alert);
    expect(body.text).toBe(alertLine(alert));
    expect(body.text).toBe(`GREEN recovered red→green reviews v4 segment Books: feature.text_chars ks=0.3100 (amber 0.1, red 0.2, p=2.00e-9) window 2026-01-01T00:00:00.000Z alert ${alert.alert_id}`);
    expect(body.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
    expect(JSON.stringify(body.blocks[0])).toContain('*Drift recovered*: reviews v4, segment Books, feature.text_chars ks is now *green* (was red)');
    expect(JSON.stringify(body.blocks[2])).toContain(alert.alert_id);
  });

  it('refuses a webhook URL that is not http(s), naming the setting', () => {
    expect(parseWebhookUrl('https://hooks.example.com/x', '--webhook').href).toBe('https://hooks.example.com/x');
    expect(() => parseWebhookUrl('hooks.example.com', '--webhook')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', field: '--webhook' }));
    expect(() => parseWebhookUrl('ftp://hooks.example.com', 'DRIFTLINE_ALERT_WEBHOOK_URL')).toThrow(/only http and https/);
  });
});

describe('alert webhook answers', () => {
  it('2xx is delivered; 429 and 5xx are retriable; other 4xx are final', async () => {
    await expect(postWebhook(new URL(`${base}/204`), {}, 2_000)).resolves.toBeUndefined();
    for (const status of [429, 500, 503]) await expect(postWebhook(new URL(`${base}/${status}`), {}, 2_000)).rejects.toMatchObject({ code: 'WEBHOOK_UNAVAILABLE', retriable: true });
    for (const status of [400, 401, 404, 410]) await expect(postWebhook(new URL(`${base}/${status}`), {}, 2_000)).rejects.toMatchObject({ code: 'WEBHOOK_REFUSED', retriable: false });
  });

  it('no answer within the time limit and a closed port are retriable', async () => {
    await expect(postWebhook(new URL(`${base}/0`), {}, 200)).rejects.toMatchObject({ code: 'WEBHOOK_UNAVAILABLE', message: expect.stringContaining('no answer within 200 ms') });
    await expect(postWebhook(new URL('http://127.0.0.1:1/x'), {}, 2_000)).rejects.toMatchObject({ code: 'WEBHOOK_UNAVAILABLE' });
  });

  it('deliverAlert tries N times on 5xx and once on a 4xx, and reports the attempts', async () => {
    const options = { attempts: 4, timeoutMs: 2_000, initialDelayMs: 1, maxDelayMs: 5 };
    hits = 0;
    expect(await deliverAlert(alertOf('green', 'red'), { ...options, url: new URL(`${base}/502`) })).toMatchObject({ delivered: false, attempts: 4, error: { code: 'WEBHOOK_UNAVAILABLE' } });
    expect(hits).toBe(4);
    hits = 0;
    expect(await deliverAlert(alertOf('green', 'red'), { ...options, url: new URL(`${base}/403`) })).toMatchObject({ delivered: false, attempts: 1, error: { code: 'WEBHOOK_REFUSED' } });
    expect(hits).toBe(1);
    expect(await deliverAlert(alertOf('green', 'red'), { ...options, url: new URL(`${base}/200`) })).toEqual({ delivered: true, attempts: 1 });
  });
});
