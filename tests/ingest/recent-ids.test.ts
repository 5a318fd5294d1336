/** The bounded set of published review ids behind ingest's DUPLICATE_REVIEW (ingest/recent-ids.ts). */
import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../ingest/recent-ids.js';

describe('RecentIds', () => {
  it('remembers at most its capacity of ids on a long stream, forgetting the oldest first', () => {
    const ids = new RecentIds(1_000);
    for (let line = 1; line <= 100_000; line++) ids.remember(`r${line}`, line);
    expect(ids.size).toBe(1_000);
    expect(ids.lineOf('r1')).toBeUndefined();
    expect(ids.lineOf('r99000')).toBeUndefined();
    expect(ids.lineOf('r99001')).toBe(99_001);
    expect(ids.lineOf('r100000')).toBe(100_000);
  });

  it('keeps the first line of an id remembered twice', () => {
    const ids = new RecentIds(2);
    ids.remember('a', 1);
    ids.remember('a', 5);
    expect(ids.lineOf('a')).toBe(1);
    expect(ids.size).toBe(1);
  });

  it('refuses a capacity below one', () => {
    expect(() => new RecentIds(0)).toThrow(RangeError);
  });
});
