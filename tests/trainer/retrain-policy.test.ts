/** The retrain policy's decision: the newest N windows all red, or their live macro-F1 under the floor. */
import { describe, expect, it } from 'vitest';
import { decideRetrain, type PolicyWindow } from '../../trainer/retrain-policy.js';

const w = (minute: number, status: string, macroF1: number | null = 0.7, events = 100): PolicyWindow => ({ windowStart: minute * 60_000, status, macroF1, events });

describe('decideRetrain', () => {
  const options = { redWindows: 3, macroF1Floor: 0 };

  it('retrains when the newest N windows are red, whatever the order they come in', () => {
    expect(decideRetrain([w(3, 'red'), w(1, 'red'), w(2, 'red'), w(0, 'green')], options)).toMatchObject({ retrain: true, trigger: 'red_windows', reason: 'the newest 3 windows are red' });
  });

  it('does not retrain on fewer than N windows, or when one of the newest N is not red', () => {
    expect(decideRetrain([w(1, 'red'), w(2, 'red')], options)).toMatchObject({ retrain: false, reason: '2 windows closed, 3 needed' });
    expect(decideRetrain([w(1, 'red'), w(2, 'amber'), w(3, 'red'), w(0, 'red')], options).retrain).toBe(false);
  });

  it('retrains when the events-weighted live macro-F1 of the newest windows is under the floor; windows without labels do not count', () => {
    const floor = { redWindows: 3, macroF1Floor: 0.6 };
    expect(decideRetrain([w(1, 'green', 0.5, 300), w(2, 'green', 0.8, 100), w(3, 'green', null, 500)], floor)).toMatchObject({ retrain: true, trigger: 'macro_f1_floor', reason: expect.stringContaining('0.5750 over the newest 2 windows is below the floor 0.6') });
    expect(decideRetrain([w(1, 'green', 0.5, 100), w(2, 'green', 0.9, 300), w(3, 'green')], floor).retrain).toBe(false);
    // The floor 0 is off: a low macro-F1 alone never retrains.
    expect(decideRetrain([w(1, 'green', 0.1), w(2, 'green', 0.1), w(3, 'green', 0.1)], options).retrain).toBe(false);
  });
});
