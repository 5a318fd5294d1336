/**
 * Applying SketchIncrements to one Redis hash atomically. HINCRBY/HINCRBYFLOAT alone cannot keep a
 * minimum or maximum, so one small Lua script does all four kinds of update in one round trip:
 *
 *   redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, hashKey, ...incrementsToLuaArgs(increments, ttlSeconds))
 *
 * ARGV[1] is the TTL in seconds (0: keep the current expiry), then triples (op, field, value) with op
 * i = HINCRBY, f = HINCRBYFLOAT, n = keep the smaller, x = keep the larger; I and F carry many
 * HINCRBY / HINCRBYFLOAT in one value, "field value field value ..." (fields without spaces), which the
 * aggregator uses for the hundreds of fine histogram bins a batch touches (packIncrements). Values are passed as the
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
    elseif op == 'I' or op == 'F' then
      local command = op == 'I' and 'HINCRBY' or 'HINCRBYFLOAT'
      for packedField, packedValue in string.gmatch(value, '(%S+) (%S+)') do
        redis.call(command, key, packedField, packedValue)
      end
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
    for (const [field, value] of Object.entries(y)) {
      const current = out[field];
      out[field] = current === undefined ? value : better(current, value);
    }
    return out;
  };
  return {
    ints: sum(a.ints, b.ints),
    floats: sum(a.floats, b.floats),
    mins: pick(a.mins, b.mins, Math.min),
    maxes: pick(a.maxes, b.maxes, Math.max),
  };
}

/** Field names that may travel packed ("field value ..." separated by single spaces): no whitespace, not empty. */
const PACKABLE_FIELD = /^\S+$/;

/**
 * The (op, field, value) triples of one hash's increments: counts and sums packed into one I / F triple
 * each (fields with whitespace, rare category names, stay single triples), min/max as n / x triples.
 * A batch of fine histograms has hundreds of thousands of fields; three arguments each cost the
 * aggregator more CPU in argument encoding and garbage than everything else (docs/benchmarks.md).
 */
export function packIncrements(increments: SketchIncrements): string[] {
  const out: string[] = [];
  const pack = (packedOp: string, singleOp: string, entries: Record<string, number>): void => {
    const parts: string[] = [];
    for (const field in entries) {
      if (PACKABLE_FIELD.test(field)) parts.push(field, String(entries[field]));
      else out.push(singleOp, field, String(entries[field]));
    }
    if (parts.length > 0) out.push(packedOp, '', parts.join(' '));
  };
  pack('I', 'i', increments.ints);
  pack('F', 'f', increments.floats);
  for (const field in increments.mins) out.push('n', field, String(increments.mins[field]));
  for (const field in increments.maxes) out.push('x', field, String(increments.maxes[field]));
  return out;
}
