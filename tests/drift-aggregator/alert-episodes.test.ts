/**
 * The alert state machine: one item's reported statuses (after hysteresis), window by window, become
 * state changes with one alert_id per episode; raw flapping inside the hysteresis sends nothing.
 */
import { describe, expect, it } from 'vitest';
import { applyHysteresis, type HysteresisState } from '../../core/drift/status.js';
import { alertHistoryRow, stepEpisode, stepWindow, type EpisodeState } from '../../drift-aggregator/alert-episodes.js';
import { worstStatus, type StatusedItem } from '../../drift-aggregator/alerts.js';
import type { DriftAlert, DriftStatus } from '../../schemas/types.js';

const WINDOW_MS = 60_000;
const ref = (n: number) => ({ modelName: 'm', modelVersion: 2, start: n * WINDOW_MS });

function item(status: DriftStatus, overrides: Partial<StatusedItem> = {}): StatusedItem {
  return { segment: '__all__', feature: 'feature.text_chars', metric: 'psi', value: 0.3, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status, ...overrides };
}

/**
 * Runs raw statuses through hysteresis and the episode machine the way the closer does, one window at a
 * time with the state stored as JSON in between; returns every alert sent.
 */
function run(raw: DriftStatus[], hysteresisWindows: number, items: (status: DriftStatus) => StatusedItem[] = (s) => [item(s)]): DriftAlert[] {
  let hysteresis: HysteresisState | null = null;
  let stored: Array<string | null> = [];
  const sent: DriftAlert[] = [];
  raw.forEach((status, n) => {
    const step = applyHysteresis(hysteresis, status, hysteresisWindows);
    hysteresis = step.state;
    const windowItems = items(step.reported);
    const { alerts, updates } = stepWindow(ref(n), WINDOW_MS, windowItems, stored, 1_000 + n);
    stored = windowItems.map((i) => updates[`${i.segment}|${i.feature}|${i.metric}`] ?? stored[windowItems.indexOf(i)] ?? null);
    sent.push(...alerts);
  });
  return sent;
}

describe('alert episodes', () => {
  it('amber → red → green: three changes, one alert_id, exactly one recovery', () => {
    const alerts = run(['green', 'amber', 'red', 'red', 'green', 'green'], 1);
    expect(alerts.map((a) => [a.previous_status, a.status, a.window_start_ms])).toEqual([
      ['green', 'amber', 1 * WINDOW_MS],
      ['amber', 'red', 2 * WINDOW_MS],
      ['red', 'green', 4 * WINDOW_MS],
    ]);
    expect(new Set(alerts.map((a) => a.alert_id)).size).toBe(1);
    expect(alerts.filter((a) => a.status === 'green')).toHaveLength(1);
    expect(alerts.every((a) => a.episode_start_ms === WINDOW_MS && a.feature === 'feature.text_chars' && a.metric === 'psi' && a.segment === null)).toBe(true);
    // One dedupe key per change (alert_id and the window of the change).
    expect(new Set(alerts.map((a) => a.dedupe_key)).size).toBe(3);
    expect(alerts[2]!.dedupe_key).toBe(`${alerts[0]!.alert_id}:${4 * WINDOW_MS}`);
  });

  it('a new episode after the recovery gets a new alert_id', () => {
    const alerts = run(['red', 'green', 'red', 'green'], 1);
    expect(alerts.map((a) => a.status)).toEqual(['red', 'green', 'red', 'green']);
    expect(alerts[0]!.alert_id).toBe(alerts[1]!.alert_id);
    expect(alerts[2]!.alert_id).toBe(alerts[3]!.alert_id);
    expect(alerts[2]!.alert_id).not.toBe(alerts[0]!.alert_id);
  });

  it('flapping raw statuses within the hysteresis send nothing', () => {
    expect(run(['red', 'green', 'red', 'green', 'amber', 'green', 'red', 'green'], 2)).toEqual([]);
    // Once red for two windows it is reported red, and flapping back to green for one window does not recover it.
    const alerts = run(['red', 'red', 'green', 'red', 'green', 'red', 'green', 'green'], 2);
    expect(alerts.map((a) => a.status)).toEqual(['red', 'green']);
    expect(alerts[1]!.window_start_ms).toBe(7 * WINDOW_MS);
  });

  it('an all-green stream sends nothing and stores nothing', () => {
    const { alerts, updates } = stepWindow(ref(0), WINDOW_MS, [item('green'), item('green', { feature: 'rating' })], [null, null], 0);
    expect(alerts).toEqual([]);
    expect(updates).toEqual({});
  });

  it('closing the same window again (a crashed closer) builds the same change, not a second one', () => {
    const first = stepWindow(ref(3), WINDOW_MS, [item('red')], [null], 10);
    const stored = first.updates['__all__|feature.text_chars|psi']!;
    const again = stepWindow(ref(3), WINDOW_MS, [item('red')], [stored], 20);
    expect(again.alerts.map((a) => [a.alert_id, a.dedupe_key, a.previous_status, a.status])).toEqual(first.alerts.map((a) => [a.alert_id, a.dedupe_key, a.previous_status, a.status]));
    // The next window continues from the state after it: still red, nothing to send.
    expect(stepWindow(ref(4), WINDOW_MS, [item('red')], [again.updates['__all__|feature.text_chars|psi']!], 30).alerts).toEqual([]);
  });

  it('items are independent episodes: segment, metric and window size are part of the id', () => {
    const { alerts } = stepWindow(ref(0), WINDOW_MS, [item('red'), item('red', { segment: 'Books' }), item('amber', { metric: 'ks' })], [null, null, null], 0);
    expect(new Set(alerts.map((a) => a.alert_id)).size).toBe(3);
    expect(alerts.map((a) => a.segment)).toEqual([null, 'Books', null]);
    // A longer window starting at the same time is another episode (another id, another dedupe key).
    const [longer] = stepWindow(ref(0), 12 * WINDOW_MS, [item('red')], [null], 0).alerts;
    expect(longer!.alert_id).not.toBe(alerts[0]!.alert_id);
    expect(longer!.window_end_ms - longer!.window_start_ms).toBe(12 * WINDOW_MS);
  });

  it('stepEpisode keeps the episode start and id through escalation and de-escalation', () => {
    const key = { modelName: 'm', modelVersion: 1, windowMs: WINDOW_MS, segment: '__all__', feature: 'f', metric: 'psi' };
    let state: EpisodeState | null = null;
    const changes = (['amber', 'red', 'amber', 'green'] as const).map((status, n) => {
      const step = stepEpisode(state, status, key, n * 10);
      state = step.state;
      return step.change;
    });
    expect(changes.map((c) => [c?.previous, c?.status, c?.episodeStartMs])).toEqual([
      ['green', 'amber', 0],
      ['amber', 'red', 0],
      ['red', 'amber', 0],
      ['amber', 'green', 0],
    ]);
    expect(state).toEqual({ status: 'green', alertId: null, startMs: null });
  });

  it('an alert becomes one alerts-table row, an infinite value capped', () => {
    const [alert] = stepWindow(ref(1), WINDOW_MS, [item('red', { segment: 'Books', value: Number.POSITIVE_INFINITY, pValue: 1e-9 })], [null], 5).alerts;
    expect(alertHistoryRow(alert!)).toEqual({
      window_start: WINDOW_MS, window_end: 2 * WINDOW_MS, window_size_ms: WINDOW_MS, model_name: 'm', model_version: 2, segment: 'Books', feature: 'feature.text_chars', metric: 'psi',
      alert_id: alert!.alert_id, dedupe_key: `${alert!.alert_id}:${WINDOW_MS}`, previous_status: 'green', status: 'red', value: Number.MAX_VALUE, p_value: 1e-9,
      threshold_amber: 0.1, threshold_red: 0.25, episode_start: WINDOW_MS, written_at: 5,
    });
  });

  it('ranks statuses', () => {
    expect(worstStatus(['green', 'amber', 'green'])).toBe('amber');
    expect(worstStatus(['amber', 'red'])).toBe('red');
    expect(worstStatus([])).toBe('green');
  });
});
