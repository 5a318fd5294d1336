import { describe, expect, it } from 'vitest';
import { applyHysteresis, classify, INITIAL_HYSTERESIS, outlierRateThreshold, worstStatus, type HysteresisState } from '../../../core/drift/status.js';
import type { DriftStatus } from '../../../schemas/types.js';

describe('classify', () => {
  const band = { amber: 0.1, red: 0.25 };

  it('puts an effect in its band, thresholds inclusive', () => {
    expect(classify(0.05, band).status).toBe('green');
    expect(classify(0.1, band).status).toBe('amber');
    expect(classify(0.2, band).status).toBe('amber');
    expect(classify(0.25, band).status).toBe('red');
  });

  it('a test needs its adjusted p-value below alpha as well as the effect size', () => {
    expect(classify(0.3, band, { adjustedPValue: 0.02, alpha: 0.01 })).toEqual({ status: 'green', note: expect.stringContaining('adjusted p') });
    expect(classify(0.3, band, { adjustedPValue: 0.001, alpha: 0.01 }).status).toBe('red');
    // A significant but tiny effect (large n) stays green: effect size decides.
    expect(classify(0.01, band, { adjustedPValue: 1e-30, alpha: 0.01 }).status).toBe('green');
  });

  it('a non-finite effect is green with a note', () => {
    expect(classify(Number.NaN, band)).toEqual({ status: 'green', note: expect.any(String) });
  });
});

describe('outlier-rate thresholds', () => {
  const ratio = { amber: 2, red: 4 };
  const absolute = { amber: 0.05, red: 0.1 };
  it('use the multiple of the reference rate when it is above the absolute floor', () => {
    expect(outlierRateThreshold(0.05, ratio, absolute)).toEqual({ amber: 0.1, red: 0.2 });
  });
  it('fall back to the absolute floor for tiny or unknown reference rates', () => {
    expect(outlierRateThreshold(0.001, ratio, absolute)).toEqual({ amber: 0.05, red: 0.1 });
    expect(outlierRateThreshold(Number.NaN, ratio, absolute)).toEqual({ amber: 0.05, red: 0.1 });
  });
});

describe('worstStatus', () => {
  it('orders green < amber < red', () => {
    expect(worstStatus([])).toBe('green');
    expect(worstStatus(['green', 'red', 'amber'])).toBe('red');
    expect(worstStatus(['amber', 'green'])).toBe('amber');
  });
});

/** Runs a sequence of raw statuses through the hysteresis and returns the reported ones. */
function run(raws: Array<DriftStatus | 'insufficient'>, windows = 2, start: HysteresisState | null = null): DriftStatus[] {
  let state = start;
  return raws.map((raw) => {
    const step = applyHysteresis(state, raw, windows);
    state = step.state;
    return step.reported;
  });
}

describe('hysteresis', () => {
  it('changes the reported status only after K consecutive windows of the new status', () => {
    expect(run(['red', 'green', 'red', 'red', 'red'])).toEqual(['green', 'green', 'green', 'red', 'red']);
    expect(run(['amber', 'amber', 'amber'], 3)).toEqual(['green', 'green', 'amber']);
  });

  it('goes back to green only after K green windows', () => {
    expect(run(['red', 'red', 'green', 'red', 'green', 'green'])).toEqual(['green', 'red', 'red', 'red', 'red', 'green']);
  });

  it('a streak of mixed worse statuses moves to the mildest of them', () => {
    expect(run(['red', 'amber'])).toEqual(['green', 'amber']);
    expect(run(['amber', 'red', 'red'])).toEqual(['green', 'amber', 'amber']);
  });

  it('K = 1 follows the raw status at once', () => {
    expect(run(['red', 'green', 'amber'], 1)).toEqual(['red', 'green', 'amber']);
  });

  it('insufficient windows neither count nor break a streak', () => {
    expect(run(['red', 'insufficient', 'red'])).toEqual(['green', 'green', 'red']);
    expect(run(['insufficient'], 2, { reported: 'red', streak: 0, direction: 0, target: 'red' })).toEqual(['red']);
  });

  it('is pure: the previous state is not modified', () => {
    const previous: HysteresisState = { ...INITIAL_HYSTERESIS };
    applyHysteresis(previous, 'red', 2);
    expect(previous).toEqual(INITIAL_HYSTERESIS);
  });
});
