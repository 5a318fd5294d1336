/**
 * Drift routes: GET /v1/drift and /v1/drift/windows read what the drift aggregator wrote to ClickHouse;
 * POST /v1/drift/compare compares two datasets on the spot, inline or read from files inside the data roots
 * (core/data-location.ts); no ClickHouse involved.
 *
 * Embedded ClickHouse (chdb) belongs to one process per on-disk path: an API that should read the
 * aggregator's embedded data must run in the aggregator's process (or both use a ClickHouse server
 * through DRIFTLINE_CLICKHOUSE_URL). A standalone API process opens its own DRIFTLINE_CLICKHOUSE_PATH.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseClient } from '../../core/clickhouse.js';
import { parseDurationMs } from '../../core/duration.js';
import { DriftlineError } from '../../core/errors.js';
import { loadDriftThresholds } from '../../core/drift/config.js';
import { createCompareRunner } from '../compare-runner.js';
import { COMPARE_SIDES, compareRouteSchema, oversizedTexts, readCompareItems, type CompareBody, type CompareRequest } from '../drift-compare.js';
import { withDataLocation } from '../../core/data-location.js';
import { createDriftStore, type DriftQuery } from '../drift-queries.js';
import { driftMetricsRouteSchema, driftWindowsRouteSchema } from '../schemas/drift.js';

export interface DriftPluginOptions {
  clickhouse: ClickHouseClient | undefined;
  database: string;
  maxLimit: number;
  maxRows: number;
  /** Longest text or title of a compared review in UTF-8 bytes (DRIFTLINE_MAX_TEXT_BYTES, as validation). */
  maxTextBytes: number;
  /** Comparisons running or waiting for the worker (DRIFTLINE_API_COMPARE_QUEUE). */
  compareQueue: number;
  /** Directories datasets named by location may be read from (core/data-location.ts). */
  dataRoots: string[];
}

/** The query string as the route schema passes it on: the time bounds and the window size still as text. */
type RawDriftQuery = Omit<DriftQuery, 'fromMs' | 'toMs' | 'windowSizeMs'> & { from?: string; to?: string; window_size?: string };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseTime(raw: string | undefined, field: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : ISO_DATE.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new DriftlineError('REQUEST_INVALID', `${field} must be an ISO-8601 date/time or epoch milliseconds, got ${JSON.stringify(raw)}`, {
      field,
      details: { errors: [{ field, reason: 'must be an ISO-8601 date/time or epoch milliseconds', code: 'TIMESTAMP_INVALID' }] },
    });
  }
  return ms;
}

function parseWindowSize(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = parseDurationMs(raw);
  if (ms === null) {
    const reason = 'must be a window size: a whole number of ms, or with a unit ms, s, m, h, d (e.g. 5m, 1h)';
    throw new DriftlineError('REQUEST_INVALID', `window_size ${reason}, got ${JSON.stringify(raw)}`, { field: 'window_size', details: { errors: [{ field: 'window_size', reason, code: 'FIELD_RANGE' }] } });
  }
  return ms;
}

function toQuery(raw: RawDriftQuery): DriftQuery {
  const { from, to, window_size, ...rest } = raw;
  return { ...rest, fromMs: parseTime(from, 'from'), toMs: parseTime(to, 'to'), windowSizeMs: parseWindowSize(window_size) };
}

/** The request with every dataset given by location read into items (the worker only ever sees items). */
async function inlineBody(request: CompareRequest, roots: string[], maxRows: number): Promise<CompareBody> {
  const items = async (side: (typeof COMPARE_SIDES)[number]) => {
    const inline = request[side];
    if (inline) return inline;
    const field = `${side}_location`;
    const location = request[`${side}_location`] ?? '';
    return withDataLocation(location, roots, field, (path) => readCompareItems(path, location, field, maxRows));
  };
  const [reference, current] = await Promise.all([items('reference'), items('current')]);
  return { reference, current, ...(request.options ? { options: request.options } : {}) };
}

export const driftPlugin: FastifyPluginAsync<DriftPluginOptions> = async (app, options) => {
  const store = createDriftStore(options.clickhouse, options.database);
  // Same thresholds (environment + optional file) as the aggregator's live windows.
  const thresholds = loadDriftThresholds();

  app.get('/v1/drift', { schema: driftMetricsRouteSchema(options.maxLimit) }, async (request) => store.metrics(toQuery(request.query as RawDriftQuery)));

  app.get('/v1/drift/windows', { schema: driftWindowsRouteSchema(options.maxLimit) }, async (request) => store.windows(toQuery(request.query as RawDriftQuery)));

  const comparisons = createCompareRunner({ maxQueued: options.compareQueue, logger: app.log });
  app.addHook('onClose', async () => comparisons.close());
  app.post('/v1/drift/compare', { schema: compareRouteSchema(options.maxRows, options.maxTextBytes) }, async (request, reply) => {
    const body = await inlineBody(request.body as CompareRequest, options.dataRoots, options.maxRows);
    const tooLong = oversizedTexts(body, options.maxTextBytes);
    if (tooLong) throw tooLong;
    try {
      return await comparisons.run(body, thresholds);
    } catch (err) {
      if (err instanceof DriftlineError && err.code === 'RATE_LIMITED') reply.header('retry-after', '1');
      throw err;
    }
  });
};
