/**
 * Applying SketchIncrements to one Redis hash atomically. HINCRBY/HINCRBYFLOAT alone cannot keep a
 * minimum or maximum, so one small Lua script does all four kinds of update in one round trip:
 *
 *   redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, hashKey, ...incrementsToLuaArgs(increments, ttlSeconds))
 *
 * ARGV[1] is the TTL in seconds (0: keep the current expiry), then triples (op, field, value) with op
 * i = HINCRBY, f = HINCRBYFLOAT, n = keep the smaller, x = keep the larger. Values are passed as the
 * shortest round-trip decimal strings of the JavaScript numbers, and min/max are stored as passed (not
 * re-formatted by Lua), so reading them back gives the same doubles.
 */
import type { SketchIncrements } from './types.js';

/**
 * Lua: applies `count` (op, field, value) triples of ARGV, starting at index `from`, to hash `key`.
 * Shared with the drift aggregator's batch script, which applies many hashes in one call.
 */
export const LUA_APPLY_OPS_FUNCTION = `
local function apply_ops(key, from, count)
  for f = from, from + 3 * count - 1, 3 do
    local op, field, value = ARGV[f], ARGV[f + 1], ARGV[f + 2]
    if op == 'i' then
      redis.call('HINCRBY', key, field, value)
    elseif op == 'f' then
      redis.call('HINCRBYFLOAT', key, field, value)
    else
      local current = redis.call('HGET', key, field)
      if (not current) or (op == 'n' and tonumber(value) < tonumber(current)) or (op == 'x' and tonumber(value) > tonumber(current)) then
        redis.call('HSET', key, field, value)
      end
    end
  end
end
`;

export const REDIS_APPLY_INCREMENTS_LUA = `${LUA_APPLY_OPS_FUNCTION}
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
apply_ops(key, 2, (#ARGV - 1) / 3)
if ttl and ttl > 0 then redis.call('EXPIRE', key, ttl) end
return 1
`;

export function incrementsToLuaArgs(increments: SketchIncrements, ttlSeconds = 0): string[] {
  const args = [String(Math.max(0, Math.floor(ttlSeconds)))];
  const push = (op: string, entries: Record<string, number>): void => {
    for (const [field, value] of Object.entries(entries)) args.push(op, field, String(value));
  };
  push('i', increments.ints);
  push('f', increments.floats);
  push('n', increments.mins);
  push('x', increments.maxes);
  return args;
}

/** True when applying the increments would change nothing (an empty state). */
export function isEmptyIncrements(increments: SketchIncrements): boolean {
  return (
    Object.keys(increments.ints).length === 0 &&
    Object.keys(increments.floats).length === 0 &&
    Object.keys(increments.mins).length === 0 &&
    Object.keys(increments.maxes).length === 0
  );
}

/** Adds two increment sets (for batching several states into one EVAL). */
export function mergeIncrements(a: SketchIncrements, b: SketchIncrements): SketchIncrements {
  const sum = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out = { ...x };
    for (const [field, value] of Object.entries(y)) out[field] = (out[field] ?? 0) + value;
    return out;
  };
  const pick = (x: Record<string, number>, y: Record<string, number>, better: (p: number, q: number) => number): Record<string, number> => {
    const out = { ...x };
    for (const [field, value] of Object.entries(y)) out[field] = field in out ? better(out[field], value) : value;
    return out;
  };
  return {
    ints: sum(a.ints, b.ints),
    floats: sum(a.floats, b.floats),
    mins: pick(a.mins, b.mins, Math.min),
    maxes: pick(a.maxes, b.maxes, Math.max),
  };
}
