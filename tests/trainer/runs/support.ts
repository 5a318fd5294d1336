/** Helpers of the run tests: a strict enough XML well-formedness check and PNG header reading. */

/**
 * Throws unless `xml` is well-formed as far as our SVG needs: one root element, every tag closed in order,
 * attributes quoted, no raw '<' or stray '&' in text or attribute values.
 */
export function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const checkText = (text: string, where: number): void => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text)) throw new Error(`raw '&' near offset ${where}: ${text.slice(0, 60)}`);
    if (text.includes('<') || text.includes('>')) throw new Error(`raw '<' or '>' near offset ${where}`);
  };
  while (i < xml.length) {
    const open = xml.indexOf('<', i);
    if (open < 0) {
      checkText(xml.slice(i), i);
      break;
    }
    const textBefore = xml.slice(i, open);
    if (stack.length === 0 && textBefore.trim() !== '') throw new Error(`text outside the root near offset ${i}`);
    checkText(textBefore, i);
    const close = xml.indexOf('>', open);
    if (close < 0) throw new Error(`unclosed tag at offset ${open}`);
    const tag = xml.slice(open + 1, close);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element at offset ${open}`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const match = /^([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*$/.exec(body);
      if (!match) throw new Error(`malformed tag at offset ${open}: <${tag.slice(0, 80)}>`);
      for (const value of match[2]!.matchAll(/="([^"]*)"/g)) checkText(value[1]!, open);
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(match[1]!);
    }
    i = close + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.subarray(12, 16).toString('ascii') !== 'IHDR') throw new Error('no IHDR chunk first');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
