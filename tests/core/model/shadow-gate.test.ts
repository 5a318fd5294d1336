/**
 * The shadow promotion gate (core/model/shadow-gate.ts): the decision on per-window live macro-F1 of a
 * candidate and production, and `driftline models promote --gate shadow` on a real registry directory,
 * with the windows given by an in-test reader (the ClickHouse reader is tested on chdb in
 * tests/drift-aggregator/shadow.int.test.ts).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlineError } from '../../../core/errors.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { checkShadowGate, decideShadowGate, type ShadowWindow, type ShadowWindowReader } from '../../../core/model/shadow-gate.js';
import { runModels } from '../../../trainer/registry-cli.js';
import { fakeRegisterInput } from './registry-fixtures.js';

const MINUTE = 60_000;
const options = { windows: 3, minReviews: 500, margin: 0.02 };
const versions = { candidate: 2, production: 1 };

/** Windows at minutes 0..n-1 with these macro-F1s and `events` each. */
function windows(macroF1s: Array<number | null>, events = 200): ShadowWindow[] {
  return macroF1s.map((macroF1, i) => ({ windowStart: i * MINUTE, events, macroF1 }));
}

describe('decideShadowGate', () => {
  it('promotes when the candidate beats production by the margin over the newest windows on enough reviews', () => {
    const decision = decideShadowGate(versions, windows([0.1, 0.7, 0.72, 0.74]), windows([0.9, 0.66, 0.68, 0.7]), options);
    expect(decision.promote).toBe(true);
    // Only the newest 3 windows: the old one where production was far better does not count.
    expect(decision.numbers).toMatchObject({ windows: 3, reviews: 600, candidateVersion: 2, productionVersion: 1 });
    expect(decision.numbers.candidateMacroF1).toBeCloseTo(0.72, 10);
    expect(decision.numbers.productionMacroF1).toBeCloseTo(0.68, 10);
    expect(decision.reason).toContain('0.7200 vs production v1 0.6800');
  });

  it('refuses a gain under the margin, and an equal figure even with a margin of 0', () => {
    const close = decideShadowGate(versions, windows([0.7, 0.7, 0.7]), windows([0.69, 0.69, 0.69]), options);
    expect(close.promote).toBe(false);
    expect(close.reason).toContain('does not beat production by the margin 0.02');
    expect(decideShadowGate(versions, windows([0.7, 0.7, 0.7]), windows([0.7, 0.7, 0.7]), { ...options, margin: 0 }).promote).toBe(false);
    expect(decideShadowGate(versions, windows([0.7, 0.7, 0.7]), windows([0.8, 0.8, 0.8]), options).promote).toBe(false);
  });

  it('refuses on too few reviews, naming the numbers', () => {
    const decision = decideShadowGate(versions, windows([0.9, 0.9, 0.9], 100), windows([0.5, 0.5, 0.5], 100), options);
    expect(decision.promote).toBe(false);
    expect(decision.numbers.reviews).toBe(300);
    expect(decision.reason).toContain('300 reviews');
    expect(decision.reason).toContain('fewer than the 500 reviews required');
  });

  it('compares only windows both versions have a macro-F1 for, weighting each by its events', () => {
    const candidate: ShadowWindow[] = [
      { windowStart: 0, events: 300, macroF1: 0.8 },
      { windowStart: MINUTE, events: 100, macroF1: 0.4 },
      { windowStart: 2 * MINUTE, events: 400, macroF1: null }, // no labels in this window
      { windowStart: 9 * MINUTE, events: 900, macroF1: 0.99 }, // production has no such window
    ];
    const production = windows([0.5, 0.5, 0.5]);
    const decision = decideShadowGate(versions, candidate, production, { ...options, minReviews: 400 });
    expect(decision.numbers.windows).toBe(2);
    expect(decision.numbers.reviews).toBe(400);
    expect(decision.numbers.candidateMacroF1).toBeCloseTo((0.8 * 300 + 0.4 * 100) / 400, 10);
    expect(decision.promote).toBe(true);
  });

  it('refuses when there is no window to compare', () => {
    const decision = decideShadowGate(versions, [], windows([0.5]), options);
    expect(decision.promote).toBe(false);
    expect(decision.numbers.candidateMacroF1).toBeNull();
    expect(decision.reason).toContain('no window has a live macro-F1');
  });
});

describe('promote --gate shadow', () => {
  let dir: string;
  let registry: ModelRegistry;
  let live: Map<number, ShadowWindow[]>;
  const reader: ShadowWindowReader = async (_name, asked) => new Map(asked.map((v) => [v, live.get(v) ?? []]));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-shadow-gate-'));
    registry = openRegistry(dir, { verifyArtifacts: async (versionDir) => void (await readFile(join(versionDir, 'model.bin'))) });
    await registry.register(fakeRegisterInput('reviews', 0.8));
    await registry.promote('reviews', 1, { actor: 'test' });
    await registry.register(fakeRegisterInput('reviews', 0.8));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses with PROMOTION_REFUSED naming the numbers, and promotes once the shadow results beat production', async () => {
    const lines: string[] = [];
    const io = { registry, shadowWindows: reader, out: (t: string) => lines.push(t), err: (t: string) => lines.push(`ERR ${t}`) };
    live = new Map([[2, windows([0.7, 0.7, 0.7])], [1, windows([0.69, 0.69, 0.69])]]);
    expect(await runModels(['promote', 'reviews', '2', '--gate', 'shadow', '--windows', '3', '--min-reviews', '500', '--margin', '0.02', '--no-publish'], io)).toBe(1);
    expect(lines.at(-1)).toMatch(/^ERR driftline models: PROMOTION_REFUSED: shadow gate refused reviews v2: candidate v2 live macro-F1 0\.7000 vs production v1 0\.6900 over 3 windows, 600 reviews/);
    expect(await registry.productionVersion('reviews')).toBe(1);
    // --force skips the registry's held-out check only, never the shadow gate.
    expect(await runModels(['promote', 'reviews', '2', '--gate', 'shadow', '--margin', '0.02', '--force', '--no-publish'], io)).toBe(1);

    live = new Map([[2, windows([0.75, 0.75, 0.75])], [1, windows([0.69, 0.69, 0.69])]]);
    expect(await runModels(['promote', 'reviews', '2', '--gate', 'shadow', '--windows', '3', '--min-reviews', '500', '--margin', '0.02', '--no-publish'], io)).toBe(0);
    expect(lines.at(-1)).toBe('reviews v2: promote staging -> production (previous production: v1)');
    expect(await registry.productionVersion('reviews')).toBe(2);
    expect((await registry.get('reviews', 2)).stage_history.at(-1)?.reason).toContain('shadow gate: candidate v2 live macro-F1 0.7500');
  });

  it('answers REQUEST_INVALID for an unknown gate or a bad margin, and refuses a version that is not staging', async () => {
    const io = { registry, shadowWindows: reader, out: () => undefined, err: () => undefined };
    live = new Map();
    expect(await runModels(['promote', 'reviews', '2', '--gate', 'canary', '--no-publish'], io)).toBe(2);
    expect(await runModels(['promote', 'reviews', '2', '--gate', 'shadow', '--margin', '2', '--no-publish'], io)).toBe(2);
    const error = await checkShadowGate(registry, reader, 'reviews', 1, options).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DriftlineError);
    expect((error as DriftlineError).code).toBe('PROMOTION_REFUSED');
    expect((error as DriftlineError).message).toContain('v1 is production');
  });
});
