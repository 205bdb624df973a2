// The example api's access tokens: short-lived, HMAC-SHA256-signed, minted from
// the secret in API_AUTH_SECRET. Dependency-free (node:crypto only), so tests and
// tools can mint tokens with the very code the api verifies them with;
// scripts/mint-token.mjs implements the same format for the command line.
//
// A token is a JWT (RFC 7519) with one fixed algorithm, so any JWT debugger can
// read it:
//
//   base64url({"alg":"HS256","typ":"JWT"}) . base64url({"sub","role","iat","exp"}) . base64url(HMAC-SHA256(secret, first two parts))
//
// `sub` is the user id, `role` is "user" or "operator", `iat` and `exp` are Unix
// seconds. There is no algorithm negotiation: a header other than HS256 is
// rejected, and the signature is checked (in constant time) before anything in
// the token is parsed.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Role = 'user' | 'operator';
export const ROLES: readonly Role[] = ['user', 'operator'];

/** What a verified token says about its bearer. */
export interface TokenClaims {
  /** The user id. */
  sub: string;
  role: Role;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds. */
  exp: number;
}

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

/** User ids: what `sub` may be, and what the api accepts in paths and queries. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The variable the api reads its secret from. */
export const AUTH_SECRET_VARIABLE = 'API_AUTH_SECRET';
/** Shortest secret accepted, in bytes (of its UTF-8 encoding). */
export const MIN_SECRET_BYTES = 32;
/** Lifetime of a minted token unless the caller asks otherwise: 15 minutes. */
export const DEFAULT_TOKEN_TTL_SECONDS = 15 * 60;
/** Longest lifetime (`exp - iat`) a token may have, minted or verified: 24 hours. */
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** How far in the future `iat` may be, for clocks that disagree a little. */
export const CLOCK_SKEW_SECONDS = 60;
/** Longest token accepted; a real one is about 200 characters. */
export const MAX_TOKEN_LENGTH = 2048;

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface MintOptions {
  /** The user id (1-64 letters, digits, "-" or "_"). */
  sub: string;
  /** Default "user". */
  role?: Role;
  /** Default 900 (15 minutes); at most 86400. */
  ttlSeconds?: number;
  /** The current time in ms (tests mint expired tokens with it). Default `Date.now()`. */
  now?: number;
}

/** Mints a token for `sub`, signed with `secret`. Throws on an invalid user id, role, lifetime or secret. */
export function mintToken(secret: string | Buffer, { sub, role = 'user', ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS, now = Date.now() }: MintOptions): string {
  const key = secretBytes(secret);
  if (!USER_ID_PATTERN.test(sub)) throw new Error(`Cannot mint a token: the user id must be 1-64 characters of letters, digits, "-" or "_".`);
  if (!ROLES.includes(role)) throw new Error(`Cannot mint a token: the role must be "user" or "operator".`);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new Error(`Cannot mint a token: the lifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}.`);
  }
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { sub, role, iat, exp: iat + ttlSeconds };
  const unsigned = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${unsigned}.${sign(unsigned, key)}`;
}

/**
 * Checks a token's signature and claims. Never throws: a token that is not
 * valid gives `{ ok: false, reason }`, a sentence for the 401 answer.
 */
export function verifyToken(token: string, secret: string | Buffer, now: number = Date.now()): VerifyResult {
  const fail = (reason: string): VerifyResult => ({ ok: false, reason });
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) {
    return fail('Malformed access token: expected three base64url parts separated by dots.');
  }
  const [header, payload, signature] = token.split('.') as [string, string, string];
  if (!constantTimeEqual(signature, sign(`${header}.${payload}`, secretBytes(secret)))) {
    return fail('Invalid access token signature: the token was not signed with this api\'s API_AUTH_SECRET, or was altered.');
  }
  const head = parseJsonObject(header);
  if (!head || head.alg !== 'HS256' || (head.typ !== undefined && head.typ !== 'JWT') || Object.keys(head).some((k) => k !== 'alg' && k !== 'typ')) {
    return fail('Unsupported access token header: only {"alg":"HS256","typ":"JWT"} is accepted.');
  }
  const claims = parseJsonObject(payload);
  if (!claims) return fail('Malformed access token: its claims are not a JSON object.');
  const { sub, role, iat, exp } = claims;
  if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) {
    return fail('Invalid access token: claim "sub" must be a user id (1-64 letters, digits, "-" or "_").');
  }
  if (role !== 'user' && role !== 'operator') return fail('Invalid access token: claim "role" must be "user" or "operator".');
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) {
    return fail('Invalid access token: claims "iat" and "exp" must be whole numbers of seconds.');
  }
  const issuedAt = iat as number;
  const expiresAt = exp as number;
  if (expiresAt <= issuedAt) return fail('Invalid access token: it expires before it was issued.');
  if (expiresAt - issuedAt > MAX_TOKEN_TTL_SECONDS) {
    return fail(`Invalid access token: its lifetime exceeds ${MAX_TOKEN_TTL_SECONDS / 3600} hours; mint a shorter-lived one.`);
  }
  const nowSeconds = Math.floor(now / 1000);
  if (issuedAt > nowSeconds + CLOCK_SKEW_SECONDS) return fail('Access token not valid yet: it was issued in the future (check the clocks).');
  if (expiresAt <= nowSeconds) return fail(`Access token expired at ${new Date(expiresAt * 1000).toISOString()}; mint a new one.`);
  return { ok: true, claims: { sub, role, iat: issuedAt, exp: expiresAt } };
}

/**
 * Checks the secret from the environment. Returns an error message (one line,
 * naming the variable and how to make one, never the value), or undefined if it is fine.
 */
export function authSecretProblem(value: string | undefined): string | undefined {
  const make = "Make one with `openssl rand -base64 48` (or `node -e \"console.log(require('node:crypto').randomBytes(48).toString('base64url'))\"`) and export it; `make dev` writes one into .env.dev.";
  if (value === undefined || value === '') {
    return `${AUTH_SECRET_VARIABLE} is not set: the api signs and checks its access tokens with it. ${make}`;
  }
  if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES) {
    return `${AUTH_SECRET_VARIABLE} is too short: it must be at least ${MIN_SECRET_BYTES} bytes of random data. ${make}`;
  }
  return undefined;
}

function secretBytes(secret: string | Buffer): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (key.length < MIN_SECRET_BYTES) throw new Error(`The token secret must be at least ${MIN_SECRET_BYTES} bytes.`);
  return key;
}

function sign(unsigned: string, key: Buffer): string {
  return createHmac('sha256', key).update(unsigned).digest('base64url');
}

/** Compares two strings in time that depends only on their lengths (which are not secret). */
function constantTimeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function parseJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
