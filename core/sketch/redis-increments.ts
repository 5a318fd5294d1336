/**
 * Applying SketchIncrements to one Redis hash atomically. HINCRBY/HINCRBYFLOAT alone cannot keep a
 * minimum or maximum, so one small Lua script does all four kinds of update in one round trip:
 *
 *   redis.eval(REDIS_APPLY_INCREMENTS_LUA, 1, hashKey, ...incrementsToLuaArgs(increments, ttlSeconds))
 *
 * ARGV[1] is the TTL in seconds (0: keep the current expiry), then triples (op, field, value) with op
 * i = HINCRBY, f = HINCRBYFLOAT, n = keep the smaller, x = keep the larger; I and F carry many
 * HINCRBY / HINCRBYFLOAT in one value, "field value field value ..." (fields without spaces), and B adds a
 * histogram's touched bins (BinPairs: value = uint16 bin count + the records) to its dense binary bin field
 * (field = binBlobField), with Redis's struct library: the aggregator's hundreds of fine bins per histogram
 * cost two commands per batch instead of two per bin (packIncrements). Values are passed as the
 * shortest round-trip decimal strings of the JavaScript numbers, and min/max are stored as passed (not
 * re-formatted by Lua), so reading them back gives the same doubles.
 */
import { sketchFormatError } from './codec.js';
import { BIN_PAIR_RECORD_BYTES, DENSE_BIN_BYTES, type BinPairs, type SketchIncrements } from './types.js';

/**
 * Lua: applies `count` (op, field, value) triples of ARGV, starting at index `from`, to hash `key`.
 * Shared with the drift aggregator's batch script, which applies many hashes in one call.
 */
export const LUA_APPLY_OPS_FUNCTION = `
local bin_formats = {}
-- struct format of n (count, sum) float64 pairs; bins are read and written 32 at a time (few return values).
local function bin_format(n)
  local format = bin_formats[n]
  if not format then
    format = '<' .. string.rep('d', 2 * n)
    bin_formats[n] = format
  end
  return format
end

-- Adds the (bin, count, sum) records of value (after its uint16 bin count) to the dense pairs in field.
local function add_bin_pairs(key, field, value)
  local bins = struct.unpack('<H', value, 1)
  local stored = redis.call('HGET', key, field)
  if stored and #stored ~= ${DENSE_BIN_BYTES} * bins then
    -- Another bin count cannot happen for one model version; if it does, nothing is lost: the records go
    -- to count and sum fields, which the reader adds to the dense ones (expandBinBlobs).
    local countPrefix, sumPrefix = string.match(field, '^#([^,]+),(.+)$')
    for at = 3, #value, ${BIN_PAIR_RECORD_BYTES} do
      local bin, count, sum = struct.unpack('<Hdd', value, at)
      redis.call('HINCRBY', key, countPrefix .. bin, count)
      redis.call('HINCRBYFLOAT', key, sumPrefix .. bin, string.format('%.17g', sum))
    end
    return
  end
  local bin_values = {}
  for first = 0, bins - 1, 32 do
    local n = math.min(32, bins - first)
    if stored then
      local chunk = { struct.unpack(bin_format(n), stored, 1 + ${DENSE_BIN_BYTES} * first) }
      for j = 1, 2 * n do bin_values[2 * first + j] = chunk[j] end
    else
      for j = 1, 2 * n do bin_values[2 * first + j] = 0 end
    end
  end
  for at = 3, #value, ${BIN_PAIR_RECORD_BYTES} do
    local bin, count, sum = struct.unpack('<Hdd', value, at)
    bin_values[2 * bin + 1] = bin_values[2 * bin + 1] + count
    bin_values[2 * bin + 2] = bin_values[2 * bin + 2] + sum
  end
  local parts = {}
  for first = 0, bins - 1, 32 do
    local n = math.min(32, bins - first)
    parts[#parts + 1] = struct.pack(bin_format(n), unpack(bin_values, 2 * first + 1, 2 * (first + n)))
  end
  redis.call('HSET', key, field, table.concat(parts))
end

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
    elseif op == 'B' then
      add_bin_pairs(key, field, value)
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

export function incrementsToLuaArgs(increments: SketchIncrements, ttlSeconds = 0): Array<string | Buffer> {
  const args: Array<string | Buffer> = [String(Math.max(0, Math.floor(ttlSeconds)))];
  const push = (op: string, entries: Record<string, number>): void => {
    for (const [field, value] of Object.entries(entries)) args.push(op, field, String(value));
  };
  push('i', increments.ints);
  push('f', increments.floats);
  push('n', increments.mins);
  push('x', increments.maxes);
  if (increments.binPairs) args.push(...binPairsTriple(increments.binPairs));
  return args;
}

/** The hash field that holds a histogram's bins as dense binary pairs: `#<countPrefix>,<sumPrefix>`. */
export function binBlobField(countPrefix: string, sumPrefix: string): string {
  return `#${countPrefix},${sumPrefix}`;
}

const BIN_BLOB_FIELD = /^#([^,]+),(.+)$/;

function binPairsTriple(pairs: BinPairs): [string, string, Buffer] {
  const header = Buffer.allocUnsafe(2);
  header.writeUInt16LE(pairs.binCount, 0);
  return ['B', binBlobField(pairs.countPrefix, pairs.sumPrefix), Buffer.concat([header, pairs.records])];
}

/**
 * An HGETALL answer read as Buffers (`hgetallBuffer`) as the sketches read hashes: text fields as strings,
 * and every dense bin field (binBlobField) spelled out as the count and sum fields of its counted bins,
 * added to any such fields the hash holds as well.
 */
export function expandBinBlobs(raw: Record<string, Buffer>): Record<string, string> {
  const hash: Record<string, string> = {};
  const blobs: Array<[string, Buffer]> = [];
  for (const field in raw) {
    if (field.startsWith('#')) blobs.push([field, raw[field]!]);
    else hash[field] = raw[field]!.toString();
  }
  for (const [field, blob] of blobs) {
    const prefixes = BIN_BLOB_FIELD.exec(field);
    if (!prefixes || blob.length % DENSE_BIN_BYTES !== 0) throw sketchFormatError(`hash field '${field}' is not a dense bin field`, { field, bytes: blob.length });
    const [, countPrefix, sumPrefix] = prefixes as unknown as [string, string, string];
    for (let bin = 0, at = 0; at < blob.length; bin++, at += DENSE_BIN_BYTES) {
      const count = blob.readDoubleLE(at);
      if (count === 0) continue;
      const [countField, sumField] = [countPrefix + bin, sumPrefix + bin];
      hash[countField] = String(count + Number(hash[countField] ?? 0));
      hash[sumField] = String(blob.readDoubleLE(at + 8) + Number(hash[sumField] ?? 0));
    }
  }
  return hash;
}

/** Calls `each` with every (bin, count, sum) record of `pairs`. */
export function forEachBinPair(pairs: BinPairs, each: (bin: number, count: number, sum: number) => void): void {
  const { records } = pairs;
  for (let at = 0; at + BIN_PAIR_RECORD_BYTES <= records.length; at += BIN_PAIR_RECORD_BYTES) {
    each(records.readUInt16LE(at), records.readDoubleLE(at + 2), records.readDoubleLE(at + 10));
  }
}

/** The increments with their bin pairs spelled out as ordinary count and sum fields. */
export function unpackBinPairs(increments: SketchIncrements): SketchIncrements {
  const { binPairs } = increments;
  if (!binPairs) return increments;
  const ints = { ...increments.ints };
  const floats = { ...increments.floats };
  forEachBinPair(binPairs, (bin, count, sum) => {
    ints[binPairs.countPrefix + bin] = (ints[binPairs.countPrefix + bin] ?? 0) + count;
    floats[binPairs.sumPrefix + bin] = (floats[binPairs.sumPrefix + bin] ?? 0) + sum;
  });
  return { ints, floats, mins: increments.mins, maxes: increments.maxes };
}

/** What the Lua apply does to a hash (HGETALL strings), in memory: for tests and offline replays of increments. */
export function applyIncrementsInMemory(hash: Record<string, string>, increments: SketchIncrements): Record<string, string> {
  const plain = unpackBinPairs(increments);
  for (const [field, value] of Object.entries(plain.ints)) hash[field] = String(Number(hash[field] ?? 0) + value);
  for (const [field, value] of Object.entries(plain.floats)) hash[field] = String(Number(hash[field] ?? 0) + value);
  for (const [field, value] of Object.entries(plain.mins)) if (hash[field] === undefined || value < Number(hash[field])) hash[field] = String(value);
  for (const [field, value] of Object.entries(plain.maxes)) if (hash[field] === undefined || value > Number(hash[field])) hash[field] = String(value);
  return hash;
}

/** True when applying the increments would change nothing (an empty state). */
export function isEmptyIncrements(increments: SketchIncrements): boolean {
  return (
    (increments.binPairs === undefined || increments.binPairs.records.length === 0) &&
    Object.keys(increments.ints).length === 0 &&
    Object.keys(increments.floats).length === 0 &&
    Object.keys(increments.mins).length === 0 &&
    Object.keys(increments.maxes).length === 0
  );
}

/** Adds two increment sets (for batching several states into one EVAL). */
export function mergeIncrements(packedA: SketchIncrements, packedB: SketchIncrements): SketchIncrements {
  const a = unpackBinPairs(packedA);
  const b = unpackBinPairs(packedB);
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
export function packIncrements(increments: SketchIncrements): Array<string | Buffer> {
  const out: Array<string | Buffer> = [];
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
  if (increments.binPairs && increments.binPairs.records.length > 0) out.push(...binPairsTriple(increments.binPairs));
  return out;
}
