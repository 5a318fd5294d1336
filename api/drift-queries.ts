/**
 * Read-side queries of the drift tables (core/drift/tables.ts). Tables are ReplacingMergeTree, so a
 * retried window may exist twice until a merge: every query reads with FINAL, which returns only the
 * newest row (highest written_at) per key. Values reach ClickHouse as query parameters, never as text.
 */
import type { ClickHouseClient } from '../core/clickhouse.js';
import { DRIFT_METRICS_TABLE, WINDOW_SIZE_SQL, WINDOW_SUMMARY_TABLE, type DriftMetricRow, type WindowSummaryRow } from '../core/drift/tables.js';
import { DriftlineError, isDriftlineError } from '../core/errors.js';

export interface DriftQuery {
  model?: string;
  version?: number;
  segment?: string;
  feature?: string;
  metric?: string;
  status?: string;
  fromMs?: number;
  toMs?: number;
  /** Window size in ms (DRIFTLINE_WINDOW_SIZES); absent: the smallest size stored (of the model, when one is given). */
  windowSizeMs?: number;
  limit: number;
  offset: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
  next_offset: number | null;
}

/** A drift_metrics row as the API answers it: the row of core/drift/tables.ts with ISO-8601 times. */
export type DriftMetricItem = Omit<DriftMetricRow, 'window_start' | 'window_end' | 'written_at'> & {
  window_start: string;
  window_end: string;
  written_at: string;
};

/** A window_summary row as the API answers it: ISO-8601 times and state_lost as a boolean. */
export type WindowSummaryItem = Omit<WindowSummaryRow, 'window_start' | 'window_end' | 'written_at' | 'state_lost'> & {
  window_start: string;
  window_end: string;
  state_lost: boolean;
  written_at: string;
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

// 64-bit integers are cast to Float64 so JSON carries numbers, not quoted strings.
const METRIC_COLUMNS = `toFloat64(toUnixTimestamp64Milli(window_start)) AS window_start_ms,
  toFloat64(toUnixTimestamp64Milli(window_end)) AS window_end_ms, toFloat64(${WINDOW_SIZE_SQL}) AS window_size_ms,
  model_name, model_version, segment, feature, metric, value, p_value, p_value_adjusted,
  threshold_amber, threshold_red, raw_status, status,
  toFloat64(current_count) AS current_count, toFloat64(reference_count) AS reference_count,
  toFloat64(toUnixTimestamp64Milli(written_at)) AS written_at_ms`;

const SUMMARY_COLUMNS = `toFloat64(toUnixTimestamp64Milli(window_start)) AS window_start_ms,
  toFloat64(toUnixTimestamp64Milli(window_end)) AS window_end_ms, toFloat64(${WINDOW_SIZE_SQL}) AS window_size_ms,
  model_name, model_version, segment,
  toFloat64(events) AS events, toFloat64(late_events) AS late_events, toFloat64(outliers) AS outliers,
  outlier_rate, mean_confidence, accuracy, macro_f1, estimated_accuracy, estimated_macro_f1, status, state_lost,
  reference_scope, toFloat64(reference_rows) AS reference_rows,
  toFloat64(toUnixTimestamp64Milli(written_at)) AS written_at_ms`;

interface Filter {
  where: string;
  params: Record<string, unknown>;
}

function buildFilter(query: DriftQuery, withFeature: boolean, table: string): Filter {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (clause: string, name: string, value: unknown): void => {
    clauses.push(clause);
    params[name] = value;
  };
  if (query.model !== undefined) add('model_name = {model:String}', 'model', query.model);
  if (query.version !== undefined) add('model_version = {version:UInt32}', 'version', query.version);
  if (query.segment !== undefined) add('segment = {segment:String}', 'segment', query.segment);
  if (withFeature && query.feature !== undefined) add('feature = {feature:String}', 'feature', query.feature);
  if (withFeature && query.metric !== undefined) add('metric = {metric:String}', 'metric', query.metric);
  if (query.status !== undefined) add('status = {status:String}', 'status', query.status);
  if (query.fromMs !== undefined) add("window_start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')", 'from', query.fromMs);
  if (query.toMs !== undefined) add("window_start < fromUnixTimestamp64Milli({to:Int64}, 'UTC')", 'to', query.toMs);
  // One window size at a time (several sizes overlap in time): the asked one, else the smallest stored.
  if (query.windowSizeMs !== undefined) add(`${WINDOW_SIZE_SQL} = {window_size:UInt64}`, 'window_size', query.windowSizeMs);
  else clauses.push(`${WINDOW_SIZE_SQL} = (SELECT min(${WINDOW_SIZE_SQL}) FROM ${table}${query.model !== undefined ? ' WHERE model_name = {model:String}' : ''})`);
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export interface DriftStore {
  metrics(query: DriftQuery): Promise<Page<DriftMetricItem>>;
  windows(query: DriftQuery): Promise<Page<WindowSummaryItem>>;
}

export function createDriftStore(client: ClickHouseClient | undefined, database: string): DriftStore {
  if (!IDENTIFIER.test(database)) throw new DriftlineError('CONFIG_INVALID', `DRIFTLINE_CLICKHOUSE_DATABASE=${JSON.stringify(database)} is not a plain identifier`);

  async function rows<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    if (!client) {
      throw new DriftlineError(
        'CLICKHOUSE_UNAVAILABLE',
        'This API process has no ClickHouse connection: set DRIFTLINE_CLICKHOUSE_URL, or DRIFTLINE_API_EMBEDDED_CLICKHOUSE=true to open the embedded path (one process per path).',
      );
    }
    try {
      const result = await client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return await result.json<T>();
    } catch (err) {
      if (isDriftlineError(err)) throw err;
      // The driver's text names servers, users, databases and query internals: it goes to the log
      // (sendError logs the cause under the request id), the client gets the code and this sentence.
      throw new DriftlineError('CLICKHOUSE_UNAVAILABLE', 'The drift tables could not be read from ClickHouse; the API log has the details under this request id.', { cause: err });
    }
  }

  async function page<Raw, Item>(table: string, columns: string, order: string, query: DriftQuery, withFeature: boolean, convert: (raw: Raw) => Item): Promise<Page<Item>> {
    const filter = buildFilter(query, withFeature, `${database}.${table}`);
    const source = `${database}.${table} FINAL ${filter.where}`;
    const params = { ...filter.params, limit: query.limit, offset: query.offset };
    const [items, counted] = await Promise.all([
      rows<Raw>(`SELECT ${columns} FROM ${source} ORDER BY ${order} LIMIT {limit:UInt32} OFFSET {offset:UInt32}`, params),
      rows<{ total: number }>(`SELECT toFloat64(count()) AS total FROM ${source}`, filter.params),
    ]);
    const total = counted[0]?.total ?? 0;
    const end = query.offset + items.length;
    return { items: items.map(convert), total, limit: query.limit, offset: query.offset, next_offset: end < total ? end : null };
  }

  type RawMetric = Omit<DriftMetricItem, 'window_start' | 'window_end' | 'written_at'> & { window_start_ms: number; window_end_ms: number; written_at_ms: number };
  type RawSummary = Omit<WindowSummaryItem, 'window_start' | 'window_end' | 'written_at' | 'state_lost'> & {
    window_start_ms: number;
    window_end_ms: number;
    written_at_ms: number;
    state_lost: number;
  };

  return {
    metrics: (query) =>
      page<RawMetric, DriftMetricItem>(
        DRIFT_METRICS_TABLE,
        METRIC_COLUMNS,
        'window_start DESC, model_name, model_version, segment, feature, metric',
        query,
        true,
        ({ window_start_ms, window_end_ms, written_at_ms, ...rest }) => ({ ...rest, window_start: iso(window_start_ms), window_end: iso(window_end_ms), written_at: iso(written_at_ms) }),
      ),
    windows: (query) =>
      page<RawSummary, WindowSummaryItem>(
        WINDOW_SUMMARY_TABLE,
        SUMMARY_COLUMNS,
        'window_start DESC, model_name, model_version, segment',
        query,
        false,
        ({ window_start_ms, window_end_ms, written_at_ms, state_lost, ...rest }) => ({
          ...rest,
          window_start: iso(window_start_ms),
          window_end: iso(window_end_ms),
          written_at: iso(written_at_ms),
          state_lost: state_lost === 1,
        }),
      ),
  };
}
