/**
 * The bad-input corpus through POST /v1/predict (fastify inject, real shipped model in a temp registry):
 * each bad item between valid ones is refused with 400 naming its index, field and code, and with
 * options.partial the valid items around it are scored while it is answered in place with its error.
 * Whole-request faults (not JSON, too big, too many items) answer 400/413 with their code.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSettings } from '../../api/config.js';
import { ERROR_CODES } from '../../core/errors.js';
import { apiItemBytes, interleave, loadValidLines } from '../support/corpus.js';
import { buildTestApi, type TestApi } from '../api/helpers.js';
import { API_REQUEST_CASES, rejection, rowsFor } from './bad-inputs.js';

interface ItemAnswer {
  id: string | null;
  sentiment?: string;
  error?: { code: string; message: string; field?: string };
}
interface BatchAnswer {
  predictions: ItemAnswer[];
  refused: number;
}
interface ErrorAnswer {
  code: string;
  message: string;
  request_id: string;
  errors?: Array<{ item?: number; field: string; reason: string; code: string }>;
}

const API_ROWS = rowsFor('api');
const REJECTED = API_ROWS.filter((row) => row.outcome.kind === 'rejected');
const VALID = loadValidLines(API_ROWS.length + 1, 200).map(({ record }) => ({ id: record.review_id as string, bytes: apiItemBytes(record) }));

/** The body bytes of a batch (items are raw JSON texts, so invalid UTF-8 reaches the server as sent). */
function batchBody(items: Buffer[], partial: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from('{"reviews":[')];
  items.forEach((item, i) => parts.push(...(i > 0 ? [Buffer.from(','), item] : [item])));
  parts.push(Buffer.from(`],"options":{"partial":${partial}}}`));
  return Buffer.concat(parts);
}

describe('POST /v1/predict: bad-input corpus', () => {
  let test: TestApi;
  beforeAll(async () => {
    test = await buildTestApi();
  });
  afterAll(async () => {
    await test?.close();
  });

  const post = (payload: Buffer | string, contentType = 'application/json') =>
    test.api.app.inject({ method: 'POST', url: '/v1/predict', payload, headers: { 'content-type': contentType } });

  describe.each(API_ROWS)('$name ($what)', (row) => {
    const [before, after] = [VALID[0]!, VALID[1]!];
    const items = (): Buffer[] => [before.bytes, row.renderFor(before.id)!, after.bytes];

    it(row.outcome.kind === 'rejected' ? `strict: 400 naming item 1, field and ${row.outcome.code}` : 'strict: accepted, all three scored', async () => {
      const response = await post(batchBody(items(), false));
      if (row.outcome.kind === 'accepted') {
        expect(response.statusCode, response.body).toBe(200);
        const body = response.json() as BatchAnswer;
        expect(body.refused).toBe(0);
        expect(body.predictions.map((p) => typeof p.sentiment)).toEqual(['string', 'string', 'string']);
        return;
      }
      expect(response.statusCode, response.body).toBe(400);
      const body = response.json() as ErrorAnswer;
      expect(body.code).toBe('REQUEST_INVALID');
      expect(body.message).toContain('item 1');
      const errors = body.errors ?? [];
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => e.item === 1), JSON.stringify(errors)).toBe(true);
      expect(errors[0]).toMatchObject({ item: 1, field: rejection(row.outcome).field, code: rejection(row.outcome).code });
      expect(errors[0]!.reason.length).toBeGreaterThan(0);
    });

    it('partial: the valid neighbours are scored, the item is answered in place', async () => {
      const response = await post(batchBody(items(), true));
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as BatchAnswer;
      expect(body.predictions).toHaveLength(3);
      for (const [index, valid] of [[0, before], [2, after]] as const) {
        expect(body.predictions[index]).toMatchObject({ id: valid.id });
        expect(typeof body.predictions[index]!.sentiment).toBe('string');
      }
      const answer = body.predictions[1]!;
      if (row.outcome.kind === 'accepted') {
        expect(answer.error).toBeUndefined();
        expect(typeof answer.sentiment).toBe('string');
        expect(body.refused).toBe(0);
      } else {
        expect(answer.sentiment).toBeUndefined();
        expect(answer.error).toMatchObject({ code: rejection(row.outcome).code, field: rejection(row.outcome).field });
        expect(body.refused).toBe(1);
      }
    });
  });

  describe('the whole corpus in one batch, each bad item between two valid ones', () => {
    const mixed = interleave(VALID, API_ROWS, (row, previousValidId) => row.renderFor(previousValidId)!);
    const rowByName = new Map(API_ROWS.map((row) => [row.name, row]));
    const expectedCode = (index: number): string | null => {
      const input = mixed[index]!;
      if (input.kind === 'valid') return null;
      const outcome = rowByName.get(input.row)!.outcome;
      return outcome.kind === 'rejected' ? outcome.code : null;
    };

    it('strict: one 400 answer lists every bad item (index, field, code) and no valid one', async () => {
      const response = await post(batchBody(mixed.map((m) => m.bytes), false));
      expect(response.statusCode).toBe(400);
      const errors = (response.json() as ErrorAnswer).errors ?? [];
      const flagged = [...new Set(errors.map((e) => e.item))].sort((a, b) => (a ?? -1) - (b ?? -1));
      const expected = mixed.flatMap((_, index) => (expectedCode(index) === null ? [] : [index]));
      expect(flagged).toEqual(expected);
      for (const index of expected) {
        expect(errors.find((e) => e.item === index), `item ${index}`).toMatchObject({ code: expectedCode(index) });
      }
    });

    it('partial: every item answered in order; scored + refused == sent', async () => {
      const response = await post(batchBody(mixed.map((m) => m.bytes), true));
      expect(response.statusCode).toBe(200);
      const body = response.json() as BatchAnswer;
      expect(body.predictions).toHaveLength(mixed.length);
      const scored = body.predictions.filter((p) => typeof p.sentiment === 'string').length;
      expect(body.refused).toBe(REJECTED.length);
      expect(scored + body.refused).toBe(mixed.length);
      body.predictions.forEach((answer, index) => {
        const input = mixed[index]!;
        if (input.kind === 'valid') expect(answer, `item ${index}`).toMatchObject({ id: input.id, sentiment: expect.any(String) });
        const code = expectedCode(index);
        if (code === null) expect(answer.error, `item ${index}`).toBeUndefined();
        else expect(answer.error?.code, `item ${index} (${input.kind === 'bad' ? input.row : ''})`).toBe(code);
      });
    });
  });

  describe('over a real socket (app.listen), not only inject', () => {
    let url: string;
    beforeAll(async () => {
      url = await test.api.app.listen({ port: 0, host: '127.0.0.1' });
    });

    it('the whole corpus batch (partial): every item answered, the bad ones with their codes', async () => {
      const mixed = interleave(VALID, API_ROWS, (row, previousValidId) => row.renderFor(previousValidId)!);
      const response = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batchBody(mixed.map((m) => m.bytes), true) });
      expect(response.status).toBe(200);
      const body = (await response.json()) as BatchAnswer;
      expect(body.predictions).toHaveLength(mixed.length);
      expect(body.refused).toBe(REJECTED.length);
      const codes = body.predictions.flatMap((answer) => (answer.error ? [answer.error.code] : [])).sort();
      expect(codes).toEqual(REJECTED.map((row) => (row.outcome.kind === 'rejected' ? row.outcome.code : '')).sort());
    });

    it('a declared body over the limit is refused with 413 PAYLOAD_TOO_LARGE before it is sent', async () => {
      const { bodyLimitBytes } = apiSettings.load({});
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(bodyLimitBytes + 1) } }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on('error', reject);
        request.flushHeaders(); // the headers only: the server must answer from content-length alone
      });
      expect(status).toBe(413);
      expect((JSON.parse(body) as ErrorAnswer).code).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  describe('whole-request faults', () => {
    const limits = apiSettings.load({});
    it.each(API_REQUEST_CASES)('$name ($what) → $status $code', async (requestCase) => {
      const { payload, contentType } = requestCase.request(limits);
      const response = await post(payload, contentType);
      expect(response.statusCode, response.body.slice(0, 300)).toBe(requestCase.status);
      expect(ERROR_CODES[requestCase.code].http).toBe(requestCase.status);
      const body = response.json() as ErrorAnswer;
      expect(body.code).toBe(requestCase.code);
      expect(body.message.length).toBeGreaterThan(0);
      expect(body.request_id.length).toBeGreaterThan(0);
    });

    it('the API still answers a valid batch after all of them', async () => {
      const response = await post(batchBody([VALID[0]!.bytes, VALID[1]!.bytes], false));
      expect(response.statusCode).toBe(200);
      expect((response.json() as BatchAnswer).predictions).toHaveLength(2);
    });
  });
});
