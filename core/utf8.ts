/**
 * Bytes → text without losing the difference between "the source was not UTF-8" and "the text contains
 * U+FFFD". Node's decoder turns every invalid byte into U+FFFD, the same character a valid text may carry
 * legitimately (an upstream decoder left it behind; it is ordinary Unicode and scorable). Here each byte
 * that is not part of a well-formed UTF-8 sequence becomes the lone low surrogate U+DC80 + byte instead
 * (Python's "surrogateescape", PEP 383). A lone surrogate is never valid text, so validation rejects it as
 * TEXT_ENCODING on the field that holds it, whatever format carried the bytes (JSON, CSV, Avro, HTTP).
 */
import { isUtf8 } from 'node:buffer';

export const REPLACEMENT_CHARACTER = '\uFFFD';
const ESCAPE_BASE = 0xdc00;

/** The byte `0x80`–`0xFF` an escaped character stands for, or null when it is not an escape. */
export function escapedByte(codeUnit: number): number | null {
  return codeUnit >= ESCAPE_BASE + 0x80 && codeUnit <= ESCAPE_BASE + 0xff ? codeUnit - ESCAPE_BASE : null;
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < bytes.length && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // ED A0..BF would be an encoded surrogate
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Decodes UTF-8; every byte outside a well-formed sequence becomes U+DC80 + byte (a lone surrogate). */
export function decodeUtf8Escaping(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8'); // the common case, at native speed
  let out = '';
  let runStart = 0;
  for (let i = 0; i < buffer.length; ) {
    const length = sequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out += buffer.toString('utf8', runStart, i) + String.fromCharCode(ESCAPE_BASE + buffer[i]!);
    i++;
    runStart = i;
  }
  return out + buffer.toString('utf8', runStart);
}

/** True when the text carries U+FFFD (valid, but a sign that an upstream decoder lost bytes). */
export function hasReplacementCharacter(text: string | null | undefined): boolean {
  return text !== null && text !== undefined && text.includes(REPLACEMENT_CHARACTER);
}
