/**
 * Characters that change how a log line reads rather than what it says:
 * control characters (C0, DEL, C1; 0x9B alone starts a terminal escape
 * sequence on some terminals), the bidirectional-text controls (which reorder
 * what a viewer shows) and the Unicode line and paragraph separators.
 */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const UNSAFE_TEST = new RegExp(UNSAFE.source, 'u');
const SHORT: Readonly<Record<string, string>> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside (a request header, a job id or name, a pause reason) made
 * safe to put in a log line: each control, bidi-control or line-separator
 * character becomes its JSON escape (`\n`, `\u009b`, `\u202e`), so a terminal
 * or log viewer shows it instead of acting on it. Everything else, HTML
 * included, is left as it is: logs are text, not markup.
 *
 * Its escapes are JSON's, so it may also be applied to a whole JSON log line
 * without its final newline (in pino's `hooks.streamWrite`): the line parses
 * to the same values.
 */
export function escapeLogText(text: string): string {
  if (!UNSAFE_TEST.test(text)) return text;
  return text.replace(UNSAFE, (char) => SHORT[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
