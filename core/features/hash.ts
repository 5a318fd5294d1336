/**
 * Deterministic 32-bit hashing for the hashing trick. FNV-1a over UTF-16 code units, finished with
 * murmur3's fmix32 so nearby strings spread over all buckets. Pure integer arithmetic: the same
 * string gives the same bucket on every machine, backend and Node version.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** murmur3 finaliser: avalanches all 32 bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a of `text[start, end)`, seeded, finished with fmix32. */
export function hashString(text: string, seed = 0, start = 0, end = text.length): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return fmix32(h);
}

/** Order-sensitive combination of two token hashes (bigram "a b" differs from "b a"). */
export function hashPair(first: number, second: number): number {
  return fmix32((Math.imul(first, 0x9e3779b1) ^ second ^ 0x5bd1e995) >>> 0);
}
