/**
 * Closing windows. A window closes when the watermark (max window time applied - allowed lateness)
 * passes its end, or when it got no events for DRIFTLINE_WINDOW_IDLE_CLOSE_MS. Exactly one instance
 * closes it: a Redis SET NX lock per window (with TTL, so a crashed closer's window is retried), a
 * 'closed' marker set in every partition before the partitions' sketches are read (each partition's apply
 * script then turns later events for it into late events), and a 'done' marker set in the same MULTI that
 * queues the ClickHouse rows, alerts and hysteresis states. Windows of one model version close in start
 * order (hysteresis is a sequence).
 *
 * The partitions' keys live in other hash slots than the window-level ones (redis-state.ts), so closing is
 * several steps; each crash point is safe because every step before the closing MULTI is idempotent and the
 * lock's expiry lets another closer start again: markers set in some partitions only → set again in all,
 * then read (an event applied in between is either in a share read after its partition's marker or late,
 * never both); sketches given their TTL but no MULTI yet → read again (they live for the state TTL); the
 * MULTI done → a window still listed open is seen done and only dropped from the lists.
 *
 * One file on purpose (~460 lines): closing is one sequence whose crash points (above) are reasoned about
 * together; the rows it writes are built in summary-rows.ts, the larger sizes in larger-windows.ts.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { DriftThresholds } from '../core/drift/config.js';
import { applyHysteresis, worstStatus, type HysteresisState } from '../core/drift/status.js';
import { ALERTS_TABLE, ALL_SEGMENTS, DRIFT_METRICS_TABLE, RECENT_REVIEWS_TABLE, WINDOW_SUMMARY_TABLE, type WindowSummaryRow } from '../core/drift/tables.js';
import { toDriftlineError } from '../core/errors.js';
import type { RedisClient } from '../core/redis.js';
import type { Logger } from '../core/logger.js';
import type { DriftStatus } from '../schemas/types.js';
import type { StatusedItem } from './alerts.js';
import { alertHistoryRow, stepWindowEpisodes } from './alert-episodes.js';
import type { SketchCatalog } from './baselines.js';
import { finiteRow, type PendingEntry } from './clickhouse-writer.js';
import { MODEL_FEATURE, toDriftMetricRow } from '../core/drift/evaluate.js';
import { assessStates, sharedTimeSources, sharedWindowStates, type SegmentAssessment, type WindowEvaluation } from './evaluate.js';
import { LargerWindows } from './larger-windows.js';
import { emptySummaryRow, summaryRow } from './summary-rows.js';
import type { AggregatorState } from './redis-state.js';
import { recordWindowForRollback, ROLLBACK_METRICS, type RollbackPolicy, type RollbackTarget } from './rollback.js';
import type { AggregatorMetrics } from './telemetry.js';
import { recentReviewRows } from './recent-sample.js';
import { parseLargeWindowId, parseWindowId, shouldClose, watermarkOf, type TimeSource, type WindowRef } from './windows.js';
import type { ClosedWindow } from './types.js';

export interface CloserOptions {
  /** The counted window size. */
  windowMs: number;
  /** Larger sizes (multiples of windowMs) built by merging counted windows (larger-windows.ts); none by default. */
  largerSizesMs?: readonly number[];
  allowedLatenessMs: number;
  idleCloseMs: number;
  closeLockTtlMs: number;
  stateTtlSeconds: number;
  thresholds: DriftThresholds;
  rollback: RollbackPolicy;
  /** K of the recent-sample reservoir (DRIFTLINE_RECENT_SAMPLE_PER_WINDOW): the window's sample is the K smallest of its partitions'. */
  samplePerWindow?: number;
}

export interface CloserDeps {
  state: AggregatorState;
  catalog: SketchCatalog;
  metrics: AggregatorMetrics;
  log: Logger;
  rollbackTarget: RollbackTarget | null;
  now?: () => number;
  /**
   * Asked before anything is closed or a late count rewritten: false while Redis state is older than what
   * was applied (a rollback being replayed), so no window is closed again from older sketches.
   */
  mayClose?: () => Promise<boolean>;
}

/**
 * Queues a closed window's summary row again with its late count, in one step with taking the window out of
 * late-dirty, so an observer never sees it neither dirty nor queued. It stays dirty when an apply counted more
 * late events after the count was read. KEYS (window-level slot): pending, summary-row, own late counter,
 * late-dirty, then the window-level late counters the row's count sums. ARGV: pending entry, row, state TTL (s),
 * the window-level part of the late count written, window id. The partitions' parts: AggregatorState.clearLateDirty.
 */
const QUEUE_LATE_ROW_LUA = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
local sum = 0
for k = 5, #KEYS do sum = sum + tonumber(redis.call('GET', KEYS[k]) or '0') end
if sum == tonumber(ARGV[4]) then redis.call('SREM', KEYS[4], ARGV[5]) end
return 1`;

/** Stored per model version / segment / feature / metric; `before` makes re-closing a window idempotent. */
type Reported = SegmentAssessment & { status: DriftStatus };

interface StoredHysteresis {
  window: number;
  before: HysteresisState | null;
  after: HysteresisState;
}

export class WindowCloser {
  private readonly owner = randomUUID();
  private readonly now: () => number;
  private readonly redis: RedisClient;
  private readonly larger: LargerWindows;

  constructor(
    private readonly options: CloserOptions,
    private readonly deps: CloserDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.redis = deps.state.redis;
    this.larger = new LargerWindows(deps.state, options.windowMs, options.largerSizesMs ?? []);
  }

  /** Closes every window that is due (oldest first per model version); returns what this instance closed. */
  async tick(): Promise<ClosedWindow[]> {
    const { state } = this.deps;
    if (!(await this.mayClose())) return [];
    const maxTime = await state.progressTime();
    const clock = { watermark: watermarkOf(maxTime, this.options.allowedLatenessMs), nowWallMs: this.now() };
    const byVersion = new Map<string, Array<{ id: string; start: number; lastTouchedWallMs: number }>>();
    for (const window of await state.openWindows()) {
      const ref = parseWindowId(window.id);
      const key = `${ref.modelName}|${ref.modelVersion}`;
      const list = byVersion.get(key) ?? [];
      list.push(window);
      byVersion.set(key, list);
    }
    // A window closed already and listed open again (a late batch lists its windows before its apply finds
    // them closed) is only dropped from the lists: whatever its close rule says.
    const all = [...byVersion.values()].flat();
    const doneFlags = all.length > 0 ? await this.redis.mget(all.map((window) => state.key('done', window.id))) : [];
    const done = new Set(all.filter((_, index) => doneFlags[index] !== null).map((window) => window.id));
    const closed: ClosedWindow[] = [];
    for (const windows of byVersion.values()) {
      windows.sort((a, b) => a.start - b.start);
      for (const window of windows) {
        // A later window waits for every earlier one of its version (hysteresis runs in order).
        if (!done.has(window.id) && !shouldClose(window, clock, this.options.windowMs, this.options.idleCloseMs)) break;
        if (!(await this.mayClose())) return closed;
        const result = await this.closeWindow(window.id);
        if (result === 'locked') break; // another instance is closing it; the later ones wait for it
        if (result !== 'already-done') closed.push(result);
      }
    }
    closed.push(...(await this.closeLargerWindows(clock)));
    await this.flushLate();
    return closed;
  }

  /** Larger sizes: each version's and size's due windows, oldest first, merged from their counted windows. */
  private async closeLargerWindows(clock: { watermark: number; nowWallMs: number }): Promise<ClosedWindow[]> {
    const closed: ClosedWindow[] = [];
    for (const windows of await this.larger.openGroups()) {
      for (const window of windows) {
        if (!(await this.larger.isDue(window, clock, this.options.idleCloseMs))) break;
        if (!(await this.mayClose())) return closed;
        const result = await this.closeWindow(window.id);
        if (result === 'locked') break;
        if (result !== 'already-done') closed.push(result);
      }
    }
    return closed;
  }

  /** The zsets that list a window while it is open: counted windows, or larger ones. */
  private openKeys(id: string): [open: string, touched: string] {
    const { state } = this.deps;
    return parseLargeWindowId(id) ? [state.key('open-large'), state.key('touched-large')] : [state.key('open'), state.key('touched')];
  }

  private async mayClose(): Promise<boolean> {
    return this.deps.mayClose ? this.deps.mayClose() : true;
  }

  /** Closes one window if this instance gets its lock ('locked': another instance has it). */
  async closeWindow(id: string): Promise<ClosedWindow | 'locked' | 'already-done'> {
    const { state, metrics } = this.deps;
    const lockKey = state.key('lock', id);
    if ((await this.redis.set(lockKey, this.owner, 'PX', this.options.closeLockTtlMs, 'NX')) !== 'OK') return 'locked';
    const started = process.hrtime.bigint();
    try {
      const [openKey, touchedKey] = this.openKeys(id);
      if ((await this.redis.exists(state.key('done', id))) === 1) {
        if (!parseLargeWindowId(id)) await state.expireWindow(id, this.options.stateTtlSeconds);
        await this.redis.multi().zrem(openKey, id).zrem(touchedKey, id).exec();
        return 'already-done';
      }
      // From here on, every partition's apply script counts events of this window as late.
      await state.markClosed(id, this.options.stateTtlSeconds);
      const result = await this.evaluateAndQueue(id);
      metrics.windowsClosed.inc();
      metrics.windowCloseSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return result;
    } finally {
      await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lockKey, this.owner);
    }
  }

  private async evaluateAndQueue(id: string): Promise<ClosedWindow> {
    const large = parseLargeWindowId(id);
    return large ? this.evaluateLarger(id, large.ref, large.sizeMs) : this.evaluateCounted(id);
  }

  /** A counted window: its own sketches; its closing registers it with the larger windows containing it. */
  private async evaluateCounted(id: string): Promise<ClosedWindow> {
    const { state, catalog } = this.deps;
    const ref = parseWindowId(id);
    const [shares, lateEvents, stateLost, sketches, rewound, registrations, lastTouched, sample] = await Promise.all([
      state.readWindow(id),
      state.lateEvents(id),
      this.isStateLost(ref),
      catalog.load(ref.modelName, ref.modelVersion),
      state.takeRewound(id),
      this.larger.registrations(ref),
      this.redis.zscore(state.key('touched'), id),
      state.readSample(id, this.options.samplePerWindow),
    ]);
    // Before the closing MULTI (the shares are not needed after it): a crash in between leaves keys that
    // still live for the state TTL, read again by the closer that retries; after it, nothing would expire them.
    await state.expireWindow(id, this.options.stateTtlSeconds);
    return this.assessAndQueue({
      id,
      ref,
      sizeMs: this.options.windowMs,
      evaluation: assessStates(sharedWindowStates(shares, sketches), sketches, this.options.thresholds),
      lateEvents,
      timeSources: sharedTimeSources(shares),
      stateLost,
      rewound,
      hysteresisKey: state.key('hyst', ref.modelName, ref.modelVersion),
      inClosingMulti: (multi, events) => {
        // The recent sample goes to ClickHouse with the window's other rows (a re-closed window replaces them).
        const recent = recentReviewRows(ref, this.options.windowMs, sample, this.now());
        if (recent.length > 0) multi.rpush(state.key('pending'), ...recent.map((row) => JSON.stringify({ table: RECENT_REVIEWS_TABLE, row } satisfies PendingEntry)));
        this.larger.register(multi, registrations, events, lastTouched === null ? this.now() : Number(lastTouched), this.options.stateTtlSeconds);
      },
    });
  }

  /** A larger window: the merge of its counted windows' sketches, with its own hysteresis per size. */
  private async evaluateLarger(id: string, ref: WindowRef, sizeMs: number): Promise<ClosedWindow> {
    const { state, catalog } = this.deps;
    const [sketches, stateLost] = await Promise.all([catalog.load(ref.modelName, ref.modelVersion), this.isStateLost(ref)]);
    const merged = await this.larger.merge(ref, sizeMs, sketches);
    return this.assessAndQueue({
      id,
      ref,
      sizeMs,
      evaluation: assessStates(merged.states, sketches, this.options.thresholds),
      lateEvents: merged.lateEvents,
      timeSources: merged.timeSources,
      stateLost,
      rewound: false,
      hysteresisKey: state.key('hyst', ref.modelName, ref.modelVersion, sizeMs),
      inClosingMulti: () => undefined,
    });
  }

  /** Hysteresis, rows, alerts; queued in the MULTI that marks the window done. */
  private async assessAndQueue(input: ClosingInput): Promise<ClosedWindow> {
    const { state, log } = this.deps;
    const { id, ref, sizeMs, evaluation, lateEvents, timeSources, stateLost, rewound, hysteresisKey } = input;
    const counted = sizeMs === this.options.windowMs;
    const { items, hysteresisUpdates } = await this.applyHysteresis(hysteresisKey, ref, evaluation.assessments);
    const writtenAt = this.now();
    const rows = items.map((item) =>
      toDriftMetricRow(item, {
        windowStartMs: ref.start,
        windowEndMs: ref.start + sizeMs,
        modelName: ref.modelName,
        modelVersion: ref.modelVersion,
        segment: item.segment,
        status: item.status,
        writtenAtMs: writtenAt,
      }),
    );
    const summaries = evaluation.summaries.map((summary) =>
      summaryRow(ref, sizeMs, summary, {
        lateEvents: summary.segment === ALL_SEGMENTS ? lateEvents : 0,
        timeSources: summary.segment === ALL_SEGMENTS ? timeSources : { event: 0, ingest: 0 },
        status: worstStatus(items.filter((i) => i.segment === summary.segment).map((i) => i.status)),
        stateLost,
        writtenAt,
      }),
    );
    // Alerts are the state changes of the items' alert episodes (alert-episodes.ts); each window size has its
    // own episodes (the size is part of the episode key and of the alert_id).
    const episodesKey = state.key('episodes', ref.modelName, ref.modelVersion, sizeMs);
    const { alerts, updates: episodeUpdates } = await stepWindowEpisodes(this.redis, episodesKey, ref, sizeMs, items.map(toStatusedItem), writtenAt);
    const [openKey, touchedKey] = this.openKeys(id);
    const multi = this.redis.multi();
    const pending: PendingEntry[] = [
      ...rows.map((row): PendingEntry => ({ table: DRIFT_METRICS_TABLE, row: finiteRow(row) })),
      ...summaries.map((row): PendingEntry => ({ table: WINDOW_SUMMARY_TABLE, row: finiteRow(row) })),
      ...alerts.map((alert): PendingEntry => ({ table: ALERTS_TABLE, row: finiteRow(alertHistoryRow(alert)) })),
    ];
    if (pending.length > 0) multi.rpush(state.key('pending'), ...pending.map((entry) => JSON.stringify(entry)));
    if (alerts.length > 0) multi.rpush(state.key('alerts-outbox'), ...alerts.map((alert) => JSON.stringify(alert)));
    if (Object.keys(hysteresisUpdates).length > 0) multi.hset(hysteresisKey, hysteresisUpdates);
    // Bounded: a version that closes no window for the state TTL starts its hysteresis afresh.
    multi.expire(hysteresisKey, this.options.stateTtlSeconds);
    if (Object.keys(episodeUpdates).length > 0) multi.hset(episodesKey, episodeUpdates);
    multi.expire(episodesKey, this.options.stateTtlSeconds);
    multi.expire(state.key('late', id), this.options.stateTtlSeconds);
    const allSummary = summaries.find((s) => s.segment === ALL_SEGMENTS);
    if (allSummary) multi.set(state.key('summary-row', id), JSON.stringify(allSummary), 'EX', this.options.stateTtlSeconds);
    multi.set(state.key('done', id), '1', 'EX', this.options.stateTtlSeconds);
    multi.zrem(openKey, id).zrem(touchedKey, id);
    input.inClosingMulti(multi, allSummary?.events ?? 0);
    await multi.exec();
    log.info({ window: id, sizeMs, events: allSummary?.events ?? 0, late: lateEvents, status: allSummary?.status ?? 'green', alerts: alerts.length, stateLost, rewound }, 'window closed');
    // The Prometheus gauges and the automatic rollback follow the counted size (larger sizes are in ClickHouse and alerts).
    if (counted) {
      this.recordMetrics(ref, items, summaries);
      await this.considerRollback(ref, items);
    }
    return { ref, sizeMs, rows, summaries, alerts };
  }

  private async applyHysteresis(key: string, ref: WindowRef, rated: SegmentAssessment[]): Promise<{ items: Array<Reported>; hysteresisUpdates: Record<string, string> }> {
    const fields = rated.map((m) => `${m.segment}|${m.feature}|${m.metric}`);
    const stored = fields.length > 0 ? await this.redis.hmget(key, ...fields) : [];
    const hysteresisUpdates: Record<string, string> = {};
    const items = rated.map((m, index) => {
      const previous = stored[index] ? (JSON.parse(stored[index]!) as StoredHysteresis) : null;
      // Re-closing the same window (a crashed closer) starts again from the state before it.
      const before = previous === null ? null : previous.window === ref.start ? previous.before : previous.after;
      const { state, reported } = applyHysteresis(before, m.insufficient ? 'insufficient' : m.rawStatus, this.options.thresholds.hysteresisWindows);
      hysteresisUpdates[fields[index]!] = JSON.stringify({ window: ref.start, before, after: state } satisfies StoredHysteresis);
      return { ...m, status: reported };
    });
    return { items, hysteresisUpdates };
  }

  private recordMetrics(ref: WindowRef, items: Array<Reported>, summaries: readonly WindowSummaryRow[]): void {
    this.deps.metrics.recordWindow(ref, items);
    this.deps.metrics.recordPerformanceEstimate(ref, summaries);
  }

  private async considerRollback(ref: WindowRef, items: Array<Reported>): Promise<void> {
    const redItems = items.filter((i) => i.segment === ALL_SEGMENTS && i.feature === MODEL_FEATURE && ROLLBACK_METRICS.has(i.metric) && i.status === 'red');
    try {
      const decision = await recordWindowForRollback(
        {
          redis: this.redis,
          keyPrefix: this.deps.state.globalBase,
          target: this.deps.rollbackTarget,
          policy: this.options.rollback,
          log: this.deps.log,
          nowMs: this.now,
          // The counter matters while its windows live; the 'fired' marker while a rollback of the version could fire.
          ttlSeconds: Math.max(this.options.stateTtlSeconds, Math.ceil(this.options.rollback.maxAgeMs / 1000)),
        },
        ref.modelName,
        ref.modelVersion,
        ref.start,
        redItems.length > 0,
        redItems.map((i) => `${i.metric}=${i.value.toFixed(3)} (threshold ${i.thresholdRed.toFixed(3)})`).join(', '),
      );
      if (decision.rolledBack) this.deps.metrics.rollbacks.inc();
    } catch (err) {
      this.deps.log.error({ err: toDriftlineError(err).toJSON(), window: ref }, 'rollback check failed');
    }
  }

  /** Windows at or before the point where Redis state was found lost hold partial counts. */
  private async isStateLost(ref: WindowRef): Promise<boolean> {
    const until = await this.redis.hget(this.deps.state.key('clock'), 'state_lost_until');
    return until !== null && ref.start <= Number(until);
  }

  /**
   * Late events of closed windows: the window's summary row is written again with its late count
   * (ReplacingMergeTree keeps the newest); a window that never opened (too late from the start) gets
   * a summary row of its own with 0 events, so late events are always visible.
   *
   * A window leaves late-dirty only after its row is queued, and only if its late count did not move
   * meanwhile: popping first would lose the rewrite to a crash between the pop and the queueing.
   */
  async flushLate(): Promise<number> {
    const { state } = this.deps;
    const dirty = await state.lateDirty(100);
    let written = 0;
    for (const [id, places] of dirty) {
      // Still to be closed: its own row will carry the count (it stays dirty until then).
      if ((await this.redis.zscore(this.openKeys(id)[0], id)) !== null) continue;
      const large = parseLargeWindowId(id);
      const ref = large?.ref ?? parseWindowId(id);
      const sizeMs = large?.sizeMs ?? this.options.windowMs;
      const stored = await this.redis.get(state.key('summary-row', id));
      // Never-opened larger windows get no row of their own: their counted windows' rows carry the late events.
      if (large && !stored) {
        await this.redis.srem(state.key('late-dirty'), id);
        continue;
      }
      const base: WindowSummaryRow = stored
        ? (JSON.parse(stored) as WindowSummaryRow)
        : emptySummaryRow(ref, sizeMs);
      const countIds = large ? this.larger.countedIds(ref, sizeMs) : [id];
      const shares = await state.lateShares(countIds);
      const lateEvents = shares.partitions.reduce((sum, share) => sum + share.count, shares.global);
      const row: WindowSummaryRow = { ...base, late_events: lateEvents, written_at: this.now() };
      // A counted window's late events are late for the closed larger windows containing it too.
      for (const containing of large ? [] : this.larger.containing(ref)) {
        const closedAlready = (await this.redis.exists(state.key('summary-row', containing))) === 1;
        if (closedAlready) await this.redis.sadd(state.key('late-dirty'), containing);
      }
      // The partitions' sketches and late counts of the window get the state TTL (a late count may be new).
      if (!large) await state.expireWindow(id, this.options.stateTtlSeconds);
      // Queued first, then taken out of late-dirty where each place's count is still the one written: in the
      // window-level slot by the queueing script, in each flagging partition's slot after it.
      const keys = [state.key('pending'), state.key('summary-row', id), state.key('late', id), state.key('late-dirty'), ...countIds.map((countId) => state.key('late', countId))];
      const entry = JSON.stringify({ table: WINDOW_SUMMARY_TABLE, row } satisfies PendingEntry);
      await this.redis.eval(QUEUE_LATE_ROW_LUA, keys.length, ...keys, entry, JSON.stringify(row), this.options.stateTtlSeconds, shares.global, id);
      for (const place of places) {
        if (place === null) continue;
        const share = shares.partitions.find((p) => p.ref.topic === place.topic && p.ref.partition === place.partition);
        await state.clearLateDirty(place, id, share?.count ?? 0);
      }
      written++;
    }
    return written;
  }
}

function toStatusedItem(item: Reported): StatusedItem {
  return {
    segment: item.segment,
    feature: item.feature,
    metric: item.metric,
    value: item.effect,
    pValue: item.pValueAdjusted ?? item.pValue,
    thresholdAmber: item.thresholdAmber,
    thresholdRed: item.thresholdRed,
    status: item.status,
  };
}

interface ClosingInput {
  id: string;
  ref: WindowRef;
  sizeMs: number;
  evaluation: WindowEvaluation;
  lateEvents: number;
  timeSources: Record<TimeSource, number>;
  stateLost: boolean;
  rewound: boolean;
  hysteresisKey: string;
  /** What this kind of window adds to the MULTI that marks it done (`events`: of the __all__ segment). */
  inClosingMulti(multi: ChainableCommander, events: number): void;
}
