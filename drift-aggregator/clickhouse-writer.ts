/**
 * ClickHouse side of the aggregator. Closed windows never write to ClickHouse directly: their rows go
 * into a Redis list (`<prefix>:agg:{<prefix>}:pending`, durable across aggregator restarts) in the same MULTI that
 * marks the window done, and this writer drains the list into ClickHouse with back-off. Rows have
 * deterministic keys (ReplacingMergeTree), so a retried or re-closed window replaces, never duplicates.
 * One instance drains at a time (a Redis lock), and entries leave the list only after ClickHouse took them.
 * An entry that cannot be encoded (corrupt JSON, a time outside ClickHouse's DateTime64 range) can never
 * be written, however often it is retried: it is dead-lettered with the reason and the rest is written,
 * so one poison row cannot block every later window.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';
import { RELEASE_LOCK_AND_TRIM_LUA } from '../core/redis.js';
import type { ClickHouseClient } from '../core/clickhouse.js';
import { buildDeadLetter, type DeadLetterPublisher } from '../core/deadletter.js';
import { ALERTS_TABLE, DRIFT_METRICS_TABLE, RECENT_REVIEWS_TABLE, WINDOW_SUMMARY_TABLE, driftTableMigrations, recentReviewsTtl, type AlertHistoryRow, type DriftMetricRow, type RecentReviewRow, type WindowSummaryRow } from '../core/drift/tables.js';
import { DriftlineError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry.js';
import type { Logger } from '../core/logger.js';
import type { DeadLetter } from '../schemas/types.js';

export type PendingEntry =
  | { table: typeof DRIFT_METRICS_TABLE; row: DriftMetricRow }
  | { table: typeof WINDOW_SUMMARY_TABLE; row: WindowSummaryRow }
  | { table: typeof ALERTS_TABLE; row: AlertHistoryRow }
  | { table: typeof RECENT_REVIEWS_TABLE; row: RecentReviewRow };

type QueuedRow = DriftMetricRow | WindowSummaryRow | AlertHistoryRow | RecentReviewRow;
const TABLES: ReadonlySet<string> = new Set([DRIFT_METRICS_TABLE, WINDOW_SUMMARY_TABLE, ALERTS_TABLE, RECENT_REVIEWS_TABLE]);


/** ClickHouse DateTime64(3) text, UTC: 'YYYY-MM-DD hh:mm:ss.mmm'. */
export function clickhouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** The range of ClickHouse DateTime64 (1900-01-01 to 2299-12-31); outside it ClickHouse would clamp or refuse. */
const DATETIME64_MIN_MS = Date.UTC(1900, 0, 1);
const DATETIME64_MAX_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
const TIME_COLUMNS = ['window_start', 'window_end', 'written_at'] as const;
/** Time columns only some tables have (alerts: the episode's start). */
const OPTIONAL_TIME_COLUMNS = ['episode_start'] as const;

const NULLABLE = new Set(['p_value', 'p_value_adjusted', 'accuracy', 'macro_f1', 'estimated_accuracy', 'estimated_macro_f1']);

/** JSON has no NaN/Infinity: nullable columns get null, others the nearest finite double (0 for NaN). */
function finiteJson(field: string, value: unknown): unknown {
  if (typeof value !== 'number' || Number.isFinite(value)) return value;
  if (NULLABLE.has(field)) return null;
  return Number.isNaN(value) ? 0 : Math.sign(value) * Number.MAX_VALUE;
}

/** A row that survives JSON (queued in Redis as JSON): no NaN/Infinity left. */
export function finiteRow<R extends QueuedRow>(row: R): R {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(row)) out[field] = finiteJson(field, value);
  return out as R;
}

function toInsertRow(row: QueuedRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...finiteRow(row),
    window_start: clickhouseTime(row.window_start),
    window_end: clickhouseTime(row.window_end),
    written_at: clickhouseTime(row.written_at),
  };
  for (const column of OPTIONAL_TIME_COLUMNS) if (typeof out[column] === 'number') out[column] = clickhouseTime(out[column] as number);
  return out;
}

type Encoded = { ok: true; table: string; row: Record<string, unknown> } | { ok: false; error: DriftlineError };

/** One queued entry as a ClickHouse row, or why it can never be one. */
export function encodeEntry(text: string): Encoded {
  let entry: PendingEntry;
  try {
    entry = JSON.parse(text) as PendingEntry;
  } catch (err) {
    return { ok: false, error: new DriftlineError('RECORD_UNPARSEABLE', `queued ClickHouse row is not JSON: ${(err as Error).message}`, { field: '(record)', cause: err }) };
  }
  if (typeof entry !== 'object' || entry === null || !TABLES.has(entry.table) || typeof entry.row !== 'object' || entry.row === null) {
    return { ok: false, error: new DriftlineError('RECORD_UNPARSEABLE', 'queued ClickHouse row names no known table or has no row', { field: '(record)' }) };
  }
  const row = entry.row as unknown as Record<string, unknown>;
  for (const column of [...TIME_COLUMNS, ...OPTIONAL_TIME_COLUMNS.filter((c) => c in row)]) {
    const ms: unknown = row[column];
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < DATETIME64_MIN_MS || ms > DATETIME64_MAX_MS) {
      const why = `${column}: ${JSON.stringify(ms)} is not a time ClickHouse DateTime64 can hold (1900-01-01 to 2299-12-31); the ${entry.table} row of ${entry.row.model_name} v${entry.row.model_version} cannot be written`;
      return { ok: false, error: new DriftlineError('TIMESTAMP_INVALID', why, { field: column }) };
    }
  }
  return { ok: true, table: entry.table, row: toInsertRow(entry.row) };
}

/**
 * Creates or upgrades the drift tables; `recentRetentionDays` (DRIFTLINE_RECENT_SAMPLE_RETENTION_DAYS) is also set
 * on an existing recent_reviews table, so changing the setting takes effect on the next start.
 */
export async function runMigrations(client: ClickHouseClient, database: string, recentRetentionDays?: number): Promise<void> {
  for (const query of driftTableMigrations(database, recentRetentionDays)) await client.command({ query });
  if (recentRetentionDays !== undefined) await client.command({ query: `ALTER TABLE ${database}.${RECENT_REVIEWS_TABLE} MODIFY ${recentReviewsTtl(recentRetentionDays)}` });
}

export interface PendingWriterOptions {
  redis: RedisClient;
  pendingKey: string;
  lockKey: string;
  client: ClickHouseClient;
  database: string;
  log: Logger;
  retryMaxMs: number;
  /** Entries per ClickHouse round (one entry = one row). */
  entriesPerFlush?: number;
  /** Where entries that can never be written go; without it they are logged and dropped (never retried forever). */
  deadLetters?: Pick<DeadLetterPublisher, 'publish'>;
}

export class PendingRowWriter {
  private readonly owner = randomUUID();
  private failures = 0;
  private nextAttemptAt = 0;
  private readonly entriesPerFlush: number;

  constructor(private readonly options: PendingWriterOptions) {
    this.entriesPerFlush = options.entriesPerFlush ?? 5_000;
  }

  async pendingCount(): Promise<number> {
    return this.options.redis.llen(this.options.pendingKey);
  }

  /**
   * Writes queued rows until the list is empty, ClickHouse fails (back-off: the next call waits) or
   * another instance holds the drain lock. Returns the rows written.
   */
  async flush(force = false): Promise<number> {
    if (!force && Date.now() < this.nextAttemptAt) return 0;
    const { redis, pendingKey, lockKey } = this.options;
    let written = 0;
    for (;;) {
      const locked = await redis.set(lockKey, this.owner, 'PX', 60_000, 'NX');
      if (locked !== 'OK') return written;
      const raw = await redis.lrange(pendingKey, 0, this.entriesPerFlush - 1);
      if (raw.length === 0) {
        await redis.eval(RELEASE_LOCK_AND_TRIM_LUA, 2, lockKey, pendingKey, this.owner, 0);
        return written;
      }
      let poisoned = 0;
      try {
        const { rows, poison } = this.encode(raw);
        poisoned = poison.length;
        await this.insert(rows);
        // After the good rows are in: a failed publish retries the round, and re-inserting rows only replaces them.
        await this.deadLetter(poison);
      } catch (err) {
        await redis.eval(RELEASE_LOCK_AND_TRIM_LUA, 2, lockKey, pendingKey, this.owner, 0);
        this.backOff(err);
        return written;
      }
      this.failures = 0;
      this.nextAttemptAt = 0;
      await redis.eval(RELEASE_LOCK_AND_TRIM_LUA, 2, lockKey, pendingKey, this.owner, raw.length);
      written += raw.length - poisoned;
    }
  }

  private encode(raw: string[]): { rows: Map<string, Array<Record<string, unknown>>>; poison: DeadLetter[] } {
    const rows = new Map<string, Array<Record<string, unknown>>>();
    const poison: DeadLetter[] = [];
    for (const text of raw) {
      const encoded = encodeEntry(text);
      if (!encoded.ok) {
        poison.push(buildDeadLetter({ stage: 'aggregator', error: encoded.error, raw: text, location: { file: `redis:${this.options.pendingKey}`, line: null } }));
        continue;
      }
      const tableRows = rows.get(encoded.table) ?? [];
      tableRows.push(encoded.row);
      rows.set(encoded.table, tableRows);
    }
    return { rows, poison };
  }

  private async deadLetter(poison: DeadLetter[]): Promise<void> {
    if (poison.length === 0) return;
    this.options.log.error({ rows: poison.length, reasons: poison.map((p) => p.reason) }, 'queued ClickHouse rows that can never be written were dead-lettered; the rest was written');
    await this.options.deadLetters?.publish(poison);
  }

  private async insert(byTable: Map<string, Array<Record<string, unknown>>>): Promise<void> {
    for (const [table, rows] of byTable) {
      if (rows.length === 0) continue;
      try {
        await this.options.client.insert({ table: `${this.options.database}.${table}`, values: rows, format: 'JSONEachRow' });
      } catch (err) {
        throw new DriftlineError('CLICKHOUSE_UNAVAILABLE', `writing ${rows.length} rows to ${table} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  private backOff(err: unknown): void {
    this.failures++;
    const delay = backoffDelayMs(this.failures + 1, { initialDelayMs: 250, maxDelayMs: this.options.retryMaxMs });
    this.nextAttemptAt = Date.now() + delay;
    this.options.log.warn({ err: err instanceof DriftlineError ? err.toJSON() : String(err), retryInMs: delay, failures: this.failures }, 'ClickHouse write failed; rows stay queued in Redis');
  }
}
