/**
 * Settings parsing (core/config.ts): a string setting with `choices` parses to the union of its choices,
 * at the type level (checked by tsc over the tests) and at run time (anything else is CONFIG_INVALID).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { coreSettings, defineSettings, setting } from '../../core/config.js';
import { DriftlineError } from '../../core/errors.js';

const probe = defineSettings('config-test', {
  mode: setting({ env: 'DRIFTLINE_CONFIG_TEST_MODE', kind: 'string', default: 'slow', choices: ['slow', 'quick'], description: 'test only' }),
  name: setting({ env: 'DRIFTLINE_CONFIG_TEST_NAME', kind: 'string', default: 'plain', description: 'test only' }),
  size: setting({ env: 'DRIFTLINE_CONFIG_TEST_SIZE', kind: 'int', default: 3, min: 1, description: 'test only' }),
});

describe('settings with choices', () => {
  it('are typed as the union of their choices; settings without choices stay string', () => {
    const loaded = probe.load({ DRIFTLINE_CONFIG_TEST_MODE: 'quick', DRIFTLINE_CONFIG_TEST_NAME: 'anything' });
    expectTypeOf(loaded.mode).toEqualTypeOf<'slow' | 'quick'>();
    expectTypeOf(loaded.name).toEqualTypeOf<string>();
    expectTypeOf(loaded.size).toEqualTypeOf<number>();
    expectTypeOf(coreSettings.load().tfBackend).toEqualTypeOf<'auto' | 'node' | 'wasm' | 'cpu'>();
    expectTypeOf(coreSettings.load().logFormat).toEqualTypeOf<'json' | 'human'>();
    expect(loaded).toMatchObject({ mode: 'quick', name: 'anything', size: 3 });
  });

  it('refuse a value outside the choices, naming the variable and the choices', () => {
    let error: unknown;
    try {
      probe.load({ DRIFTLINE_CONFIG_TEST_MODE: 'fast' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DriftlineError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: 'DRIFTLINE_CONFIG_TEST_MODE' });
    expect((error as DriftlineError).message).toContain('expected one of slow, quick');
  });
});
