/** The scorer's settings: documented defaults, env parsing, fail-fast on bad values, transactional ids. */
import { describe, expect, it } from 'vitest';
import { DriftlineError } from '../../core/errors.js';
import { instanceIdOf, scorerSettings, transactionalIdFor } from '../../scorer/config.js';

describe('scorer settings', () => {
  it('has the documented defaults', () => {
    const settings = scorerSettings.load({});
    expect(settings).toMatchObject({ groupId: 'driftline-scorer', metricsPort: 9464, modelName: 'reviews', maxRecordsPerTransaction: 5_000, maxBytesPerPartition: 4_194_304, fromBeginning: true });
    expect(instanceIdOf(settings)).toMatch(/-\d+$/);
  });

  it('reads DRIFTLINE_SCORER_* variables', () => {
    const settings = scorerSettings.load({ DRIFTLINE_SCORER_GROUP_ID: 'g1', DRIFTLINE_SCORER_MAX_TXN_RECORDS: '50', DRIFTLINE_SCORER_FROM_BEGINNING: 'false', DRIFTLINE_SCORER_INSTANCE_ID: 'east-1' });
    expect(settings).toMatchObject({ groupId: 'g1', maxRecordsPerTransaction: 50, fromBeginning: false });
    expect(instanceIdOf(settings)).toBe('east-1');
  });

  it('fails fast with CONFIG_INVALID naming the variable', () => {
    for (const [env, value] of [
      ['DRIFTLINE_SCORER_MAX_TXN_RECORDS', '0'],
      ['DRIFTLINE_SCORER_METRICS_PORT', 'http'],
      ['DRIFTLINE_SCORER_SESSION_TIMEOUT_MS', '1000'],
    ] as const) {
      let error: unknown;
      try {
        scorerSettings.load({ [env]: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DriftlineError);
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: env });
    }
  });

  it('derives one stable transactional id per group, topic and partition', () => {
    const settings = scorerSettings.load({ DRIFTLINE_SCORER_TRANSACTIONAL_ID_PREFIX: 'tx', DRIFTLINE_SCORER_GROUP_ID: 'g' });
    expect(transactionalIdFor(settings, 'reviews', 2)).toBe('tx-g-reviews-2');
    expect(transactionalIdFor(settings, 'reviews', 2)).not.toBe(transactionalIdFor(settings, 'reviews', 3));
  });
});
