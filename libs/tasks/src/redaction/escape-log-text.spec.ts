import { describe, expect, it } from 'vitest';
import { escapeLogText } from './escape-log-text.js';

describe('escapeLogText', () => {
  it.each([
    ['line breaks and tabs', 'a\nb\r\tc', 'a\\nb\\r\\tc'],
    ['NUL and ESC (a terminal escape sequence)', 'a\u0000b\u001b[31mred', 'a\\u0000b\\u001b[31mred'],
    ['DEL', 'a\u007fb', 'a\\u007fb'],
    ['C1 controls (0x9B is CSI on some terminals)', 'x\u009b31mx\u0085', 'x\\u009b31mx\\u0085'],
    ['a right-to-left override', 'invoice\u202Efdp.exe', 'invoice\\u202efdp.exe'],
    ['every other bidi control', '\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069', '\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
  ])('escapes %s', (_what, input, expected) => {
    expect(escapeLogText(input)).toBe(expected);
  });

  it('leaves printable text alone, HTML, emoji (with joiners), accents and backslashes included', () => {
    const text = '<b>bold</b> café 👩‍💻 C:\\temp "quoted" ✓';
    expect(escapeLogText(text)).toBe(text);
  });

  it('keeps a JSON line valid JSON with the same values: its escapes are JSON escapes', () => {
    const value = { msg: 'a\u009bb', ua: 'x\u202ey', nested: ['\u2028', 'plain'] };
    const line = JSON.stringify(value);
    const escaped = escapeLogText(line);
    expect(escaped).not.toMatch(/[\u007f-\u009f\u202e\u2028]/);
    expect(JSON.parse(escaped)).toEqual(value);
  });
});
