/**
 * Several window sizes at once (DRIFTLINE_WINDOW_SIZES): events are counted in the smallest size only (the
 * hot apply path stays one size), and a window of a larger size is built when it closes by merging the
 * sketches of the smallest windows it is made of (every sketch is mergeable: core/sketch). It is then
 * assessed, stored and alerting like a counted window (closer.ts), with its own hysteresis.
 *
 * Book-keeping in Redis (keys in redis-state.ts): when a counted window closes, the MULTI that marks it done
 * also registers the larger windows containing it (`open-large`, with the latest wall-clock touch of its
 * pieces in `touched-large`). A larger window closes once none of its counted windows is open any more and
 * either the watermark passed its end or it got nothing for the idle time — the counted windows' own rule,
 * so a finite stream closes every size. A counted window that closes after its larger window did (a stream
 * that resumes inside it after the idle close) adds its events to that window's late count instead.
 */
import type { ChainableCommander } from 'ioredis';
import type { WindowStates } from '../core/drift/evaluate.js';
import { mergeWindowStates, sharedTimeSources, sharedWindowStates } from './evaluate.js';
import type { VersionSketches } from './increments.js';
import type { AggregatorState } from './redis-state.js';
import { constituentStarts, isPastWatermark, largeWindowId, parseLargeWindowId, parseWindowId, windowId, windowStartOf, type TimeSource, type WindowRef } from './windows.js';

export interface LargeWindow {
  id: string;
  ref: WindowRef;
  sizeMs: number;
  /** Latest wall-clock time one of its counted windows got events. */
  lastTouchedWallMs: number;
}

/** A larger window's registration as one of its counted windows closes. */
export interface Registration {
  id: string;
  /** The larger window closed before: the counted window's events are late for it. */
  done: boolean;
}

/** What a larger window holds: the merged sketches and counts of its counted windows. */
export interface MergedWindow {
  states: Map<string, WindowStates>;
  timeSources: Record<TimeSource, number>;
  lateEvents: number;
  /** Counted windows that had data. */
  windowsMerged: number;
}

export class LargerWindows {
  constructor(
    private readonly state: AggregatorState,
    /** The counted size. */
    readonly smallestMs: number,
    /** The larger sizes (multiples of smallestMs); empty: nothing to do. */
    readonly sizesMs: readonly number[],
  ) {}

  /** The larger windows a counted window belongs to, and whether each closed already. */
  async registrations(ref: WindowRef): Promise<Registration[]> {
    if (this.sizesMs.length === 0) return [];
    const ids = this.sizesMs.map((sizeMs) => largeWindowId({ ...ref, start: windowStartOf(ref.start, sizeMs) }, sizeMs));
    const done = await this.state.redis.mget(ids.map((id) => this.state.key('done', id)));
    return ids.map((id, index) => ({ id, done: done[index] !== null }));
  }

  /** Adds the registrations to the counted window's closing MULTI. */
  register(multi: ChainableCommander, registrations: readonly Registration[], events: number, lastTouchedWallMs: number, stateTtlSeconds: number): void {
    const { state } = this;
    for (const registration of registrations) {
      if (registration.done) {
        if (events === 0) continue;
        multi.incrby(state.key('late', registration.id), events).expire(state.key('late', registration.id), stateTtlSeconds).sadd(state.key('late-dirty'), registration.id);
        continue;
      }
      multi.zadd(state.key('open-large'), 'NX', parseLargeWindowId(registration.id)!.ref.start, registration.id);
      multi.zadd(state.key('touched-large'), 'GT', lastTouchedWallMs, registration.id);
    }
  }

  /** Open larger windows grouped per model version and size, each group oldest first (hysteresis runs in order). */
  async openGroups(): Promise<LargeWindow[][]> {
    if (this.sizesMs.length === 0) return [];
    const [starts, touches] = await Promise.all([
      this.state.redis.zrange(this.state.key('open-large'), 0, -1),
      this.state.redis.zrange(this.state.key('touched-large'), 0, -1, 'WITHSCORES'),
    ]);
    const touchedAt = new Map<string, number>();
    for (let i = 0; i < touches.length; i += 2) touchedAt.set(touches[i]!, Number(touches[i + 1]));
    const groups = new Map<string, LargeWindow[]>();
    for (const id of starts) {
      const { ref, sizeMs } = parseLargeWindowId(id)!;
      const key = `${ref.modelName}|${ref.modelVersion}|${sizeMs}`;
      const group = groups.get(key) ?? [];
      group.push({ id, ref, sizeMs, lastTouchedWallMs: touchedAt.get(id) ?? 0 });
      groups.set(key, group);
    }
    return [...groups.values()].map((group) => group.sort((a, b) => a.ref.start - b.ref.start));
  }

  /** Due: none of its counted windows is still open, and the watermark passed its end or it has been idle. */
  async isDue(window: LargeWindow, clock: { watermark: number; nowWallMs: number }, idleCloseMs: number): Promise<boolean> {
    const { ref, sizeMs } = window;
    const open = await this.state.redis.zrangebyscore(this.state.key('open'), ref.start, ref.start + sizeMs - 1);
    const stillOpen = open.some((id) => {
      const counted = parseWindowId(id);
      return counted.modelName === ref.modelName && counted.modelVersion === ref.modelVersion;
    });
    if (stillOpen) return false;
    return isPastWatermark(ref.start, sizeMs, clock.watermark) || clock.nowWallMs - window.lastTouchedWallMs >= idleCloseMs;
  }

  /** The ids of the counted windows a larger window is made of. */
  constituentIds(ref: WindowRef, sizeMs: number): string[] {
    return constituentStarts(ref.start, sizeMs, this.smallestMs).map((start) => windowId({ ...ref, start }));
  }

  /** Merges the counted windows' sketches (still in Redis for the state TTL after they closed) and counts. */
  async merge(ref: WindowRef, sizeMs: number, sketches: VersionSketches): Promise<MergedWindow> {
    const ids = this.constituentIds(ref, sizeMs);
    const windows = await this.state.readWindows(ids);
    let states = new Map<string, WindowStates>();
    const timeSources: Record<TimeSource, number> = { event: 0, ingest: 0 };
    let windowsMerged = 0;
    for (const shares of windows.values()) {
      if (shares.length === 0) continue;
      windowsMerged++;
      states = mergeWindowStates(states, sharedWindowStates(shares, sketches), sketches);
      const counts = sharedTimeSources(shares);
      timeSources.event += counts.event;
      timeSources.ingest += counts.ingest;
    }
    return { states, timeSources, lateEvents: await this.lateEvents(ref, sizeMs), windowsMerged };
  }

  /** Late events of a larger window: its counted windows' late events plus counted windows that closed after it. */
  async lateEvents(ref: WindowRef, sizeMs: number): Promise<number> {
    return this.state.lateEventsOf(this.countedIds(ref, sizeMs));
  }

  /** The windows whose late counters a larger window's late count sums: itself and its counted windows. */
  countedIds(ref: WindowRef, sizeMs: number): string[] {
    return [largeWindowId(ref, sizeMs), ...this.constituentIds(ref, sizeMs)];
  }

  /** The larger windows whose late count follows a counted window's. */
  containing(ref: WindowRef): string[] {
    return this.sizesMs.map((sizeMs) => largeWindowId({ ...ref, start: windowStartOf(ref.start, sizeMs) }, sizeMs));
  }
}
