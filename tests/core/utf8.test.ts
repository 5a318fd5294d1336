import { describe, expect, it } from 'vitest';
import { decodeUtf8Escaping, escapedByte, hasReplacementCharacter } from '../../core/utf8.js';
import { validateReview } from '../../core/validation.js';

const bytes = (...parts: Array<string | number[] | Buffer>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.isBuffer(p) ? p : Buffer.from(p))));

describe('decodeUtf8Escaping', () => {
  it('decodes valid UTF-8 exactly as Buffer#toString does, U+FFFD (EF BF BD) included', () => {
    for (const text of ['plain ascii', 'é ü ß 中文 😀👍', 'Great value \uFFFD would buy again', '']) {
      expect(decodeUtf8Escaping(Buffer.from(text, 'utf8'))).toBe(text);
    }
  });

  it('turns each byte that is not UTF-8 into U+DC80 + byte, keeping the valid text around it', () => {
    const decoded = decodeUtf8Escaping(bytes('Broke after a week ', [0x80, 0xe2, 0x82], ' never again'));
    // A lone continuation byte, then a truncated 3-byte sequence: three escapes, no U+FFFD.
    expect(decoded).toBe('Broke after a week \uDC80\uDCE2\uDC82 never again');
    expect(hasReplacementCharacter(decoded)).toBe(false);
    expect([...'\uDC80\uDCE2\uDC82'].map((c) => escapedByte(c.charCodeAt(0)))).toEqual([0x80, 0xe2, 0x82]);
  });

  it('rejects overlong forms, encoded surrogates (CESU-8) and code points above U+10FFFF', () => {
    expect(decodeUtf8Escaping(Buffer.from([0xc0, 0xaf]))).toBe('\uDCC0\uDCAF'); // overlong '/'
    expect(decodeUtf8Escaping(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\uDCED\uDCA0\uDC80'); // U+D800
    expect(decodeUtf8Escaping(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe('\uDCF4\uDC90\uDC80\uDC80'); // U+110000
    expect(decodeUtf8Escaping(Buffer.from([0xc3, 0x28, 0xff]))).toBe('\uDCC3(\uDCFF');
  });

  it('makes validation tell invalid bytes (TEXT_ENCODING) from a real U+FFFD (valid)', () => {
    const record = (text: Buffer) => JSON.parse(decodeUtf8Escaping(bytes('{"review_id":"u-1","rating":4,"text":"', text, '"}'))) as unknown;
    const invalid = validateReview(record(bytes('works ', [0xc3, 0x28], ' well')));
    expect(!invalid.ok && [invalid.error.code, invalid.error.field]).toEqual(['TEXT_ENCODING', 'text']);
    expect(!invalid.ok && invalid.error.message).toMatch(/0xC3/);
    const replacement = validateReview(record(Buffer.from('works \uFFFD well', 'utf8')));
    expect(replacement.ok).toBe(true);
  });
});
