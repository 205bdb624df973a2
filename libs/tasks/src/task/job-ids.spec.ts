import { describe, expect, it } from 'vitest';
import { MAX_KEY_LENGTH, dedupKeyProblem, jobIdProblem, parsePublicJobId, showKey, storedDedupId } from './job-ids.js';

/** Strings that look like, or hide, something else: controls, bidi and zero-width characters. */
const UNPRINTABLE: ReadonlyArray<[string, string]> = [
  ['a\u0000b', 'U+0000'],
  ['a\nb', 'U+000A'],
  ['a\rb', 'U+000D'],
  ['tab\there', 'U+0009'],
  ['del\u007F', 'U+007F'],
  ['c1\u0085', 'U+0085'],
  ['c1\u009F', 'U+009F'],
  ['\u202Etxt.exe', 'U+202E'],
  ['a\u202Ab', 'U+202A'],
  ['a\u2066b', 'U+2066'],
  ['a\u2069b', 'U+2069'],
  ['a\u200Eb', 'U+200E'],
  ['a\u200Fb', 'U+200F'],
  ['zero\u200Bwidth', 'U+200B'],
  ['bom\uFEFF', 'U+FEFF'],
  ['line\u2028sep', 'U+2028'],
  ['para\u2029sep', 'U+2029'],
];

describe('the grammar of job ids and deduplication keys', () => {
  it('accepts printable strings of up to 256 characters, in any script', () => {
    for (const ok of ['upload-abc123', 'meta', 'a b', 'Ünïcødé-ключ', '日本語の鍵', 'ok👍', 'x'.repeat(MAX_KEY_LENGTH), 'a.b_c~d']) {
      expect(jobIdProblem(ok), ok).toBeUndefined();
      expect(dedupKeyProblem(ok), ok).toBeUndefined();
    }
    expect(MAX_KEY_LENGTH).toBe(256);
  });

  it.each(UNPRINTABLE)('refuses %j, naming %s', (value, codePoint) => {
    expect(jobIdProblem(value)).toBe(`it contains the unprintable character ${codePoint} (control, bidi or zero-width characters are not allowed)`);
    expect(dedupKeyProblem(value)).toBe(jobIdProblem(value));
  });

  it('refuses empty, blank, padded, overlong, malformed and non-string values', () => {
    for (const check of [jobIdProblem, dedupKeyProblem]) {
      expect(check('')).toBe('it must be a non-empty string');
      expect(check(42)).toBe('it must be a non-empty string');
      expect(check(undefined)).toBe('it must be a non-empty string');
      expect(check('   ')).toBe('it is only whitespace');
      expect(check('\u3000')).toBe('it is only whitespace');
      expect(check(' padded')).toBe('it must not begin or end with whitespace');
      expect(check('padded\u00A0')).toBe('it must not begin or end with whitespace');
      expect(check('x'.repeat(MAX_KEY_LENGTH + 1))).toBe(`it is longer than ${MAX_KEY_LENGTH} characters`);
      expect(check('lone\uD800')).toBe('it contains an unpaired surrogate (not valid Unicode)');
    }
  });

  it('keeps ":" and all-digit values for deduplication keys only: they would collide with a job id’s queue or a generated id', () => {
    expect(jobIdProblem('a:b')).toBe('it must not contain ":"');
    expect(jobIdProblem('42')).toBe('an all-digit id could collide with generated ids');
    expect(dedupKeyProblem('digest:42')).toBeUndefined();
    expect(dedupKeyProblem('42')).toBeUndefined();
  });

  it('shows a refused value with its unprintable characters escaped and cut at 40 characters', () => {
    expect(showKey('a\u0000b\nc\u202Ed')).toBe('"a\\u{0}b\\u{A}c\\u{202E}d"');
    expect(showKey('lone\uD800')).toBe('"lone\\u{D800}"');
    expect(showKey('x'.repeat(300))).toBe(`"${'x'.repeat(40)}…"`);
    expect(showKey(42)).toBe('42');
    expect(showKey(undefined)).toBe('undefined');
    for (const [value] of UNPRINTABLE) expect(showKey(value)).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
  });

  it('reads no id that was never handed out: a lookup of one needs no Redis command', () => {
    expect(parsePublicJobId('reports:12')).toEqual({ queue: 'reports', storedId: '12' });
    expect(parsePublicJobId('meta')).toEqual({ queue: 'default', storedId: 'key-meta' });
    for (const bad of ['', 'a\u0000b', 'reports:a:b', 'reports:', '\u202Eexe', ' ', 'x'.repeat(300)]) expect(parsePublicJobId(bad), JSON.stringify(bad)).toBeUndefined();
  });

  it('scopes deduplication keys per task, unambiguously whatever the task’s name', () => {
    expect(storedDedupId('sendDigest', 'user-42')).toBe('sendDigest:user-42');
    expect(storedDedupId('a:b', 'c')).not.toBe(storedDedupId('a', 'b:c'));
    expect(storedDedupId('a%3Ab', 'c')).not.toBe(storedDedupId('a:b', 'c'));
  });
});
