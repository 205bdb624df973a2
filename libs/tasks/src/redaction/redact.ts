// One redaction for every form a secret takes in a connection setting, used by
// every message, log line, health answer and stored error that may show one:
// the password of a URL's user info, query parameters such as `?password=`,
// the keyword form of a Postgres DSN (`host=… password='…'`), and a URL that
// does not parse, which is never shown since its password cannot be told apart.

/** What stands in for a secret. */
export const REDACTED = '***';

/** What stands in for a connection setting that does not parse as a URL. */
export const UNPARSABLE_URL = '[invalid URL, not shown]';

// Names of query parameters and DSN keywords that hold a secret: password, pass,
// pwd, secret, token, and any name containing one (sslpassword, access_token, client_secret).
const SECRET_NAME = /pass|pwd|secret|token/i;

// libpq's keyword form starts with `name=`; a value is bare (backslash escapes) or single-quoted.
const KEYWORD_FORM = /^\s*[a-z_][\w.-]*\s*=/i;
const KEYWORD_PAIR = /([a-z_][\w.-]*)(\s*=\s*)('(?:[^'\\]|\\[^])*(?:'|$)|(?:\\[^]|[^\s\\])*)/gi;

const SCHEME = /^[a-z][a-z\d+.-]*:\/\//i;

// Shorter passwords are not searched for as bare text, which they would garble;
// they are still masked wherever they stand as a password (user info, parameter, keyword).
const MIN_SEARCHED_LENGTH = 4;

/** Whether a query parameter or DSN keyword named `name` holds a secret (password, pass, pwd, secret, token, in any case). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Options of `redactUrl()`. */
export interface RedactOptions {
  /** What replaces each secret; default `***`. */
  mask?: string;
}

/**
 * A connection setting as it may be shown: a URL with the password of its
 * user info and its secret query parameters (`password`, `pass`, `pwd`,
 * `secret`, `token`, any case) masked, a keyword-form Postgres DSN with its
 * secret values masked, a request path with its secret query parameters
 * masked. A value that does not parse as a URL (a raw '/', '?' or '#' in its
 * password, say) is never shown: `[invalid URL, not shown]`.
 *
 * ```ts
 * redactUrl('redis://:hunter2@cache:6379/?token=abc')   // 'redis://:***@cache:6379/?token=***'
 * ```
 */
export function redactUrl(value: string, { mask = REDACTED }: RedactOptions = {}): string {
  const text = String(value).trim();
  if (KEYWORD_FORM.test(text)) return redactKeywords(text, mask);
  if (text.startsWith('/')) return redactTail(text, mask);
  if (!parseClean(text)) return UNPARSABLE_URL;
  const { head, authority, tail } = splitUrl(text);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  const shownAuthority = at >= 0 && colon >= 0 && colon < at - 1 ? `${authority.slice(0, colon + 1)}${mask}${authority.slice(at)}` : authority;
  return `${head}${shownAuthority}${redactTail(tail, mask)}`;
}

/**
 * What is wrong with `value` as a connection URL, in words that quote none of
 * it ("it has a '/' in the password? percent-encode it as %2F"), or undefined
 * when the URL parses as the drivers read it.
 */
export function urlProblem(value: string): string | undefined {
  const text = String(value).trim();
  if (text === '') return 'it is empty';
  if (KEYWORD_FORM.test(text)) return 'it is in keyword form (host=… password=…), not a URL';
  const scheme = SCHEME.exec(text);
  if (!scheme) return 'it does not start with a scheme such as redis:// or postgres://';
  const rest = text.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const parts: Array<[string, string]> = colon < 0 ? [['user name', userinfo]] : [['password', userinfo.slice(colon + 1)], ['user name', userinfo.slice(0, colon)]];
    for (const [where, part] of parts) {
      const raw = /[/?#\\]/.exec(part)?.[0];
      if (raw) return `it has a '${raw}' in the ${where}? percent-encode it as ${encodeURIComponent(raw)}`;
      if (/%(?![\da-f]{2})/i.test(part)) return `it has a '%' in the ${where} that is not followed by two hex digits? percent-encode '%' as %25`;
    }
  }
  if (parseClean(text)) return undefined;
  const hostPort = (at >= 0 ? rest.slice(at + 1) : rest).split(/[/?#]/, 1)[0] ?? '';
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1];
  if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) <= 65_535)) return 'its port is not a number from 0 to 65535';
  return 'its host is not valid';
}

/**
 * `text` (a driver's message, a stack, an error's property) with every
 * credential masked: the secrets of `sources` (connection URLs or DSNs the
 * text may quote, in every encoding, and the sources themselves), and
 * whatever looks like one without them — a URL's user-info password or
 * secret parameter, a `password=…` pair, a `password: '…'` property.
 */
export function redactSecrets(text: string, ...sources: Array<string | undefined>): string {
  let shown = String(text);
  for (const source of sources) {
    if (!source) continue;
    shown = shown.split(source).join(redactUrl(source));
    for (const secret of secretsOf(source)) shown = shown.split(secret).join(REDACTED);
  }
  return redactCredentials(shown);
}

/** An error as a log line or a stored run shows it (its stack, else name and message), credentials masked. */
export function describeError(error: unknown, ...sources: Array<string | undefined>): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return redactSecrets(text, ...sources);
}

/**
 * Scrubs `error` in place with {@link redactSecrets}: its message, stack and
 * string properties (a property named like a secret wholly, and the arguments
 * of a failed AUTH command), and those of its causes and nested objects (what
 * Node prints for an error nobody caught), so that rethrowing it shows no secret.
 */
export function redactError(error: unknown, ...sources: Array<string | undefined>): void {
  scrub(error, sources, new Set(), 0);
}

function scrub(value: unknown, sources: Array<string | undefined>, seen: Set<object>, depth: number): void {
  if (typeof value !== 'object' || value === null || seen.has(value) || depth > 8) return;
  seen.add(value);
  const record = value as Record<string, unknown>;
  // A driver's reply error keeps the command that failed: AUTH's arguments are the user and password.
  const secretArgs = typeof record.name === 'string' && record.name.toLowerCase() === 'auth';
  const keys = new Set([...Object.keys(record), ...(value instanceof Error ? ['message', 'stack', 'cause', 'errors'] : [])]);
  for (const key of keys) {
    let current: unknown;
    try {
      current = record[key];
    } catch {
      continue;
    }
    if (typeof current === 'string') {
      const shown = isSecretName(key) ? REDACTED : redactSecrets(current, ...sources);
      if (shown !== current) replace(record, key, shown);
    } else if (secretArgs && key === 'args' && Array.isArray(current)) {
      replace(record, key, current.map(() => REDACTED));
    } else {
      // Arrays too: their items are scrubbed by index.
      scrub(current, sources, seen, depth + 1);
    }
  }
}

function replace(record: Record<string, unknown>, key: string, shown: unknown): void {
  try {
    record[key] = shown;
  } catch {
    // A read-only property: nothing to do about it here.
  }
}

// A URL (up to a space or quote); a `name=value` pair (value quoted or bare); a `name: 'value'` or `"name":"value"` property.
const URL_IN_TEXT = /\b(?<url>[a-z][a-z\d+.-]*:\/\/[^\s'"`<>]*)/;
const PAIR_IN_TEXT = /\b(?<name>[a-z_][\w.-]*)(?<eq>\s*=\s*)(?<value>'(?:[^'\\]|\\[^])*(?:'|$)|"(?:[^"\\]|\\[^])*(?:"|$)|(?:\\[^]|[^\s\\,;)'"])+)/;
const PROPERTY_IN_TEXT = /(?<key>["']?\b[a-z_][\w.-]*["']?)(?<colon>\s*:\s*)(?<quoted>'(?:[^'\\]|\\[^])*'|"(?:[^"\\]|\\[^])*")/;
const CREDENTIALS_IN_TEXT = new RegExp([URL_IN_TEXT, PAIR_IN_TEXT, PROPERTY_IN_TEXT].map((part) => part.source).join('|'), 'gi');

interface CredentialGroups {
  url?: string;
  name?: string;
  eq?: string;
  value?: string;
  key?: string;
  colon?: string;
  quoted?: string;
}

// A value that holds no secret by its name may still quote a URL with one: it is searched in turn.
function redactCredentials(text: string): string {
  return text.replace(CREDENTIALS_IN_TEXT, (...args: unknown[]) => {
    const { url, name, eq, value, key, colon, quoted } = args.at(-1) as CredentialGroups;
    if (url !== undefined) return redactUrlInText(url);
    if (name !== undefined && value !== undefined) return `${name}${eq}${isSecretName(name) ? REDACTED : redactCredentials(value)}`;
    if (key !== undefined && quoted !== undefined) {
      const quote = quoted[0] ?? '';
      const inner = quoted.slice(1, -1);
      return `${key}${colon}${quote}${isSecretName(key.replace(/["']/g, '')) ? REDACTED : redactCredentials(inner)}${quote}`;
    }
    return String(args[0]);
  });
}

function redactUrlInText(token: string): string {
  // Punctuation that ends a sentence or a parenthesis is not part of the URL.
  const [, url = token, after = ''] = /^(.*?)([.,:;!?)\]}]*)$/s.exec(token) ?? [];
  if (parseClean(url)) return `${redactUrl(url)}${after}`;
  // Unparsable: what lies between the first ':' after '//' and the last '@' may be the password.
  const scheme = SCHEME.exec(url)?.[0] ?? '';
  const rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const colon = rest.indexOf(':');
  const shown = at >= 0 && colon >= 0 && colon < at ? `${scheme}${rest.slice(0, colon + 1)}${REDACTED}${rest.slice(at)}` : url;
  return `${redactTail(shown, REDACTED)}${after}`;
}

/** The URL when the WHATWG parser reads it as written: a raw '/', '?' or '#' in the user info moves '@host' into the path, query or fragment. */
function parseClean(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return `${url.pathname}${url.search}${url.hash}`.includes('@') ? undefined : url;
}

function splitUrl(text: string): { head: string; authority: string; tail: string } {
  const scheme = SCHEME.exec(text)?.[0];
  if (!scheme) return { head: '', authority: '', tail: text };
  const rest = text.slice(scheme.length);
  const end = rest.search(/[/?#]/);
  return end < 0 ? { head: scheme, authority: rest, tail: '' } : { head: scheme, authority: rest.slice(0, end), tail: rest.slice(end) };
}

/** The path, query and fragment with the value of every secret query parameter masked, however its name is percent-encoded. */
function redactTail(tail: string, mask: string): string {
  const start = tail.indexOf('?');
  if (start < 0) return tail;
  const hash = tail.indexOf('#', start);
  const end = hash < 0 ? tail.length : hash;
  const pairs = tail
    .slice(start + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && isSecretName(decode(name.replace(/\+/g, ' '))) ? `${name}=${mask}` : pair;
    });
  return `${tail.slice(0, start)}?${pairs.join('&')}${tail.slice(end)}`;
}

function redactKeywords(text: string, mask: string): string {
  return text.replace(KEYWORD_PAIR, (pair: string, name: string, eq: string) => (isSecretName(name) ? `${name}${eq}${mask}` : pair));
}

/** Every secret of a connection setting, as written and in the encodings a driver or a message may use. */
function secretsOf(source: string): string[] {
  const raw: string[] = [];
  const text = source.trim();
  if (KEYWORD_FORM.test(text)) {
    for (const [, name = '', , value = ''] of text.matchAll(KEYWORD_PAIR)) {
      if (isSecretName(name)) raw.push(value, value.replace(/^'|'$/g, '').replace(/\\([^])/g, '$1'));
    }
  } else {
    const scheme = SCHEME.exec(text)?.[0];
    if (scheme) {
      const rest = text.slice(scheme.length);
      // Parsed or not, the user info ends at the last '@' before the host (or at the last '@' at all, when it does not parse).
      const clean = parseClean(text);
      const authority = clean ? splitUrl(text).authority : rest;
      const at = authority.lastIndexOf('@');
      const colon = authority.indexOf(':');
      if (at >= 0 && colon >= 0 && colon < at) raw.push(authority.slice(colon + 1, at));
    }
    const query = text.indexOf('?');
    if (query >= 0) {
      for (const pair of text.slice(query + 1).split(/[&#]/)) {
        const eq = pair.indexOf('=');
        if (eq >= 0 && isSecretName(decode(pair.slice(0, eq).replace(/\+/g, ' ')))) raw.push(pair.slice(eq + 1));
      }
    }
  }
  const forms = new Set<string>();
  for (const secret of raw) {
    for (const form of [secret, decode(secret), decode(secret.replace(/\+/g, ' '))]) {
      forms.add(form);
      forms.add(encodeURIComponent(form));
    }
  }
  // Longest first, so that a secret is masked whole before a shorter form of it.
  return [...forms].filter((form) => form.length >= MIN_SEARCHED_LENGTH).sort((a, b) => b.length - a.length);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
