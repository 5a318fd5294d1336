import { describe, expect, it } from 'vitest';
import { alertId, buildAlerts, worstStatus, type StatusedItem } from '../../drift-aggregator/alerts.js';

const ref = { modelName: 'm', modelVersion: 2, start: 120_000 };

function item(segment: string, feature: string, status: StatusedItem['status']): StatusedItem {
  return { segment, feature, metric: 'psi', value: 0.3, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status };
}

describe('drift alerts', () => {
  it('builds one alert per non-green segment with only the crossing items', () => {
    const alerts = buildAlerts(ref, 60_000, [item('__all__', 'a', 'red'), item('__all__', 'b', 'green'), item('Books', 'a', 'amber'), item('Toys', 'a', 'green')], 5);
    expect(alerts).toHaveLength(2);
    const all = alerts.find((a) => a.segment === null)!;
    expect(all).toMatchObject({ model_name: 'm', model_version: 2, window_start_ms: 120_000, window_end_ms: 180_000, status: 'red', time_ms: 5 });
    expect(all.items.map((i) => i.feature)).toEqual(['a']);
    expect(alerts.find((a) => a.segment === 'Books')!.status).toBe('amber');
  });

  it('has no alert for an all-green window and a stable id per window and segment', () => {
    expect(buildAlerts(ref, 60_000, [item('__all__', 'a', 'green')], 0)).toEqual([]);
    expect(alertId(ref, '__all__')).toBe(alertId({ ...ref }, '__all__'));
    expect(alertId(ref, '__all__')).not.toBe(alertId(ref, 'Books'));
    expect(alertId(ref, '__all__')).not.toBe(alertId({ ...ref, start: 180_000 }, '__all__'));
  });

  it('ranks statuses', () => {
    expect(worstStatus(['green', 'amber', 'green'])).toBe('amber');
    expect(worstStatus(['amber', 'red'])).toBe('red');
    expect(worstStatus([])).toBe('green');
  });
});
