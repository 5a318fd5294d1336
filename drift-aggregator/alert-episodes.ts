/**
 * Alert episodes: alerts are sent on state changes of one monitored item (model, version, segment,
 * feature, metric), not per window. The item's reported status (after hysteresis) is followed window by
 * window; leaving green opens an episode, every change while it is open (amber → red, red → amber) is
 * sent with the episode's alert_id, and the return to green is sent once as the recovery and closes it.
 * Raw flapping inside the hysteresis never changes the reported status, so it sends nothing.
 *
 * The alert_id is a hash of the item, the window size and the start of the window that opened the
 * episode, so it is the same for the whole episode and on every instance. The dedupe_key (alert_id and the window of the
 * change) is the same for every copy of one change: the outbox is at-least-once and a window closed again
 * after a crash builds the same change again.
 *
 * State per model version and window size lives in one Redis hash, field `segment|feature|metric`, value
 * `{ window, before, after }` like the hysteresis state: closing the same window again starts from `before`.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../core/redis.js';
import { ALL_SEGMENTS, type AlertHistoryRow } from '../core/drift/tables.js';
import type { DriftAlert, DriftStatus } from '../schemas/types.js';
import type { StatusedItem } from './alerts.js';
import type { WindowRef } from './windows.js';

/** Where one item stands: green without an episode, or amber/red inside the episode that began at `startMs`. */
export interface EpisodeState {
  status: DriftStatus;
  /** null while green. */
  alertId: string | null;
  startMs: number | null;
}

export const NO_EPISODE: EpisodeState = { status: 'green', alertId: null, startMs: null };

export interface ItemKey {
  modelName: string;
  modelVersion: number;
  /** Window size: each size is assessed and alerts on its own (a 5 m and a 1 h window may start together). */
  windowMs: number;
  segment: string;
  feature: string;
  metric: string;
}

/** A state change of one item in one window. */
export interface StateChange {
  alertId: string;
  previous: DriftStatus;
  status: DriftStatus;
  episodeStartMs: number;
}

export function episodeAlertId(key: ItemKey, episodeStartMs: number): string {
  return createHash('sha256')
    .update(`${key.modelName}|${key.modelVersion}|${key.windowMs}|${key.segment}|${key.feature}|${key.metric}|${episodeStartMs}`)
    .digest('hex')
    .slice(0, 32);
}

export function dedupeKeyOf(alertId: string, windowStartMs: number): string {
  return `${alertId}:${windowStartMs}`;
}

/**
 * One window's step of one item: `reported` is its status after hysteresis. Returns the new state and
 * the change to send (null when the status stayed).
 */
export function stepEpisode(previous: EpisodeState | null, reported: DriftStatus, key: ItemKey, windowStartMs: number): { state: EpisodeState; change: StateChange | null } {
  const before = previous ?? NO_EPISODE;
  if (reported === before.status) return { state: before, change: null };
  if (before.alertId === null || before.startMs === null) {
    // Leaving green: a new episode begins with this window.
    const alertId = episodeAlertId(key, windowStartMs);
    return { state: { status: reported, alertId, startMs: windowStartMs }, change: { alertId, previous: before.status, status: reported, episodeStartMs: windowStartMs } };
  }
  const change: StateChange = { alertId: before.alertId, previous: before.status, status: reported, episodeStartMs: before.startMs };
  if (reported === 'green') return { state: NO_EPISODE, change };
  return { state: { ...before, status: reported }, change };
}

interface StoredEpisode {
  window: number;
  before: EpisodeState | null;
  after: EpisodeState;
}

export function episodeField(item: Pick<StatusedItem, 'segment' | 'feature' | 'metric'>): string {
  return `${item.segment}|${item.feature}|${item.metric}`;
}

/** The DriftAlert of one change (one item: items[0] carries the window's value and thresholds). */
export function changeAlert(ref: WindowRef, windowMs: number, item: StatusedItem, change: StateChange, nowMs: number): DriftAlert {
  return {
    alert_id: change.alertId,
    model_name: ref.modelName,
    model_version: ref.modelVersion,
    window_start_ms: ref.start,
    window_end_ms: ref.start + windowMs,
    segment: item.segment === ALL_SEGMENTS ? null : item.segment,
    status: change.status,
    items: [
      {
        feature: item.feature,
        metric: item.metric,
        value: Number.isFinite(item.value) ? item.value : Number.MAX_VALUE,
        p_value: item.pValue !== null && Number.isFinite(item.pValue) ? item.pValue : null,
        threshold_amber: item.thresholdAmber,
        threshold_red: item.thresholdRed,
        status: item.status,
      },
    ],
    time_ms: nowMs,
    previous_status: change.previous,
    feature: item.feature,
    metric: item.metric,
    episode_start_ms: change.episodeStartMs,
    dedupe_key: dedupeKeyOf(change.alertId, ref.start),
  };
}

/**
 * Steps every item of a closed window through its episode: `stored` holds the hash values of the items'
 * fields (null when none). Returns the alerts to send and the hash fields to write with the window's MULTI.
 */
export function stepWindow(
  ref: WindowRef,
  windowMs: number,
  items: readonly StatusedItem[],
  stored: ReadonlyArray<string | null>,
  nowMs: number,
): { alerts: DriftAlert[]; updates: Record<string, string> } {
  const alerts: DriftAlert[] = [];
  const updates: Record<string, string> = {};
  items.forEach((item, index) => {
    const saved = stored[index] ? (JSON.parse(stored[index]!) as StoredEpisode) : null;
    // Closing the same window again (a crashed closer) starts from the state before it.
    const before = saved === null ? null : saved.window === ref.start ? saved.before : saved.after;
    const { state, change } = stepEpisode(before, item.status, { modelName: ref.modelName, modelVersion: ref.modelVersion, windowMs, ...item }, ref.start);
    // Green items without history stay out of the hash: it holds only items that were ever raised.
    if (saved !== null || change !== null) updates[episodeField(item)] = JSON.stringify({ window: ref.start, before, after: state } satisfies StoredEpisode);
    if (change) alerts.push(changeAlert(ref, windowMs, item, change, nowMs));
  });
  return { alerts, updates };
}

/** Reads the episode states of a window's items from `hashKey` and steps them (stepWindow). */
export async function stepWindowEpisodes(
  redis: RedisClient,
  hashKey: string,
  ref: WindowRef,
  windowMs: number,
  items: readonly StatusedItem[],
  nowMs: number,
): Promise<{ alerts: DriftAlert[]; updates: Record<string, string> }> {
  const stored = items.length > 0 ? await redis.hmget(hashKey, ...items.map(episodeField)) : [];
  return stepWindow(ref, windowMs, items, stored, nowMs);
}

/** The alerts-table row of a change alert (built by changeAlert: one item, v2 fields set). */
export function alertHistoryRow(alert: DriftAlert): AlertHistoryRow {
  const item = alert.items[0]!;
  return {
    window_start: alert.window_start_ms,
    window_end: alert.window_end_ms,
    window_size_ms: alert.window_end_ms - alert.window_start_ms,
    model_name: alert.model_name,
    model_version: alert.model_version,
    segment: alert.segment ?? ALL_SEGMENTS,
    feature: item.feature,
    metric: item.metric,
    alert_id: alert.alert_id,
    dedupe_key: alert.dedupe_key ?? dedupeKeyOf(alert.alert_id, alert.window_start_ms),
    previous_status: alert.previous_status ?? 'green',
    status: alert.status,
    value: item.value,
    p_value: item.p_value,
    threshold_amber: item.threshold_amber,
    threshold_red: item.threshold_red,
    episode_start: alert.episode_start_ms ?? alert.window_start_ms,
    written_at: alert.time_ms,
  };
}
