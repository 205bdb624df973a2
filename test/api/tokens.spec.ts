import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  MAX_TOKEN_TTL_SECONDS,
  authSecretProblem,
  mintToken,
  verifyToken,
} from '../../apps/api/src/auth/tokens.js';
import { ApiConfigError, apiConfigFromEnv } from '../../apps/api/src/config/api-config.js';
import { ROOT } from '../support/processes.js';

const run = promisify(execFile);
const SECRET = randomBytes(32).toString('base64url');
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const nowSeconds = NOW / 1000;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** Signs any header and claims with `secret`: tokens the api's mintToken would refuse to make. */
function forge(header: unknown, claims: unknown, secret = SECRET): string {
  const unsigned = `${b64(header)}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
const HS256 = { alg: 'HS256', typ: 'JWT' };
const claims = (over: Record<string, unknown> = {}) => ({ sub: 'alice', role: 'user', iat: nowSeconds, exp: nowSeconds + 60, ...over });
const reasonOf = (token: string, now = NOW) => {
  const result = verifyToken(token, SECRET, now);
  return result.ok ? 'ok' : result.reason;
};

describe('the example api’s access tokens (apps/api/src/auth/tokens.ts)', () => {
  it('mints a JWT with the HS256 header and { sub, role, iat, exp } that verifies with the same secret', () => {
    const token = mintToken(SECRET, { sub: 'alice', role: 'operator', ttlSeconds: 120, now: NOW });
    const [header, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(header as string, 'base64url').toString())).toEqual(HS256);
    expect(JSON.parse(Buffer.from(payload as string, 'base64url').toString())).toEqual({
      sub: 'alice',
      role: 'operator',
      iat: nowSeconds,
      exp: nowSeconds + 120,
    });
    expect(verifyToken(token, SECRET, NOW)).toEqual({
      ok: true,
      claims: { sub: 'alice', role: 'operator', iat: nowSeconds, exp: nowSeconds + 120 },
    });
    // Defaults: a user token for 15 minutes.
    expect(verifyToken(mintToken(SECRET, { sub: 'bob', now: NOW }), SECRET, NOW)).toMatchObject({
      ok: true,
      claims: { role: 'user', exp: nowSeconds + 900 },
    });
  });

  it.each([
    ['an empty string', ''],
    ['two parts', 'abc.def'],
    ['four parts', 'a.b.c.d'],
    ['characters outside base64url', 'a+b.c/d.e=f'],
    ['a NUL byte', 'a.b\u0000.c'],
    ['a token over 2048 characters', `${'a'.repeat(2048)}.b.c`],
  ])('refuses %s as malformed', (_what, token) => {
    expect(reasonOf(token)).toMatch(/^Malformed access token/);
  });

  it('refuses a token signed with another secret, a tampered one and a non-canonical signature', () => {
    const token = mintToken(SECRET, { sub: 'alice', now: NOW });
    expect(reasonOf(mintToken(randomBytes(32), { sub: 'alice', now: NOW }))).toMatch(/^Invalid access token signature/);
    // alice promotes herself: the claims change, the signature does not.
    const [header, , signature] = token.split('.');
    expect(reasonOf(`${header}.${b64(claims({ role: 'operator' }))}.${signature}`)).toMatch(/^Invalid access token signature/);
    // The same 32 bytes, spelled differently (the last character carries 2 unused bits).
    const last = (signature as string).slice(-1);
    const sibling = 'AEIMQUYcgkosw048'.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : last;
    if (sibling !== last) expect(reasonOf(`${token.slice(0, -1)}${sibling}`)).toMatch(/^Invalid access token signature/);
    // No signature at all ("alg": "none" style).
    expect(reasonOf(`${b64({ alg: 'none' })}.${b64(claims())}.`)).toMatch(/^Malformed/);
  });

  it('accepts only the HS256 header, even correctly signed', () => {
    for (const header of [{ alg: 'none' }, { alg: 'HS512', typ: 'JWT' }, { alg: 'HS256', typ: 'JWS' }, { ...HS256, kid: 'x' }, [], 'x']) {
      expect(reasonOf(forge(header, claims())), JSON.stringify(header)).toMatch(/^Unsupported access token header/);
    }
    expect(reasonOf(forge({ alg: 'HS256' }, claims()))).toBe('ok');
  });

  it('refuses invalid claims, expired tokens, tokens from the future and lifetimes over 24 hours', () => {
    expect(reasonOf(forge(HS256, 'not json'))).toMatch(/claims are not a JSON object/);
    expect(reasonOf(forge(HS256, [1]))).toMatch(/claims are not a JSON object/);
    expect(reasonOf(forge(HS256, claims({ sub: 'not valid' })))).toMatch(/claim "sub"/);
    expect(reasonOf(forge(HS256, claims({ sub: 42 })))).toMatch(/claim "sub"/);
    expect(reasonOf(forge(HS256, claims({ role: 'admin' })))).toMatch(/claim "role"/);
    expect(reasonOf(forge(HS256, claims({ exp: 'tomorrow' })))).toMatch(/"iat" and "exp"/);
    expect(reasonOf(forge(HS256, claims({ iat: 1.5 })))).toMatch(/"iat" and "exp"/);
    expect(reasonOf(forge(HS256, claims({ exp: nowSeconds - 10 })))).toMatch(/expires before it was issued/);
    expect(reasonOf(forge(HS256, claims({ exp: nowSeconds + MAX_TOKEN_TTL_SECONDS + 1 })))).toMatch(/lifetime exceeds 24 hours/);
    expect(reasonOf(forge(HS256, claims({ iat: nowSeconds + 3600, exp: nowSeconds + 3700 })))).toMatch(/issued in the future/);

    const token = mintToken(SECRET, { sub: 'alice', ttlSeconds: 60, now: NOW });
    expect(reasonOf(token, NOW + 59_000)).toBe('ok');
    expect(reasonOf(token, NOW + 60_000)).toBe('Access token expired at 2030-01-01T12:01:00.000Z; mint a new one.');
  });

  it('mints nothing it would refuse', () => {
    expect(() => mintToken(SECRET, { sub: 'a b' })).toThrow(/user id/);
    expect(() => mintToken(SECRET, { sub: 'alice', role: 'admin' as 'user' })).toThrow(/role/);
    expect(() => mintToken(SECRET, { sub: 'alice', ttlSeconds: MAX_TOKEN_TTL_SECONDS + 1 })).toThrow(/lifetime/);
    expect(() => mintToken(SECRET, { sub: 'alice', ttlSeconds: 0 })).toThrow(/lifetime/);
    expect(() => mintToken('short', { sub: 'alice' })).toThrow(/at least 32 bytes/);
  });
});

describe('the api’s settings (apps/api/src/config/api-config.ts)', () => {
  it('requires API_AUTH_SECRET of at least 32 bytes, and says so without repeating it', () => {
    const short = 'x'.repeat(31);
    for (const value of [undefined, '', short]) {
      const problem = authSecretProblem(value) as string;
      expect(problem).toMatch(/^API_AUTH_SECRET is (not set|too short)/);
      expect(problem).toContain('openssl rand -base64 48');
      expect(problem).not.toContain('\n');
      if (value) expect(problem).not.toContain(value);
      expect(() => apiConfigFromEnv({ API_AUTH_SECRET: value })).toThrow(ApiConfigError);
    }
    expect(authSecretProblem('x'.repeat(32))).toBeUndefined();
  });

  it('has the documented defaults, and refuses values out of range naming the variable', () => {
    expect(apiConfigFromEnv({ API_AUTH_SECRET: SECRET })).toMatchObject({
      sseHeartbeatMs: 15_000,
      sseRetryMs: 3_000,
      sseMaxStreamsPerUser: 5,
      sseMaxStreamsPerProcess: 1_000,
      sseReservedFirstStreams: 500,
      rateLimits: { enqueue: 60, cronTrigger: 10 },
      rateLimitWindowMs: 60_000,
    });
    // The reserve defaults to half of the process's streams, and must leave at least one shared.
    expect(apiConfigFromEnv({ API_AUTH_SECRET: SECRET, SSE_MAX_STREAMS_PER_PROCESS: '9' }).sseReservedFirstStreams).toBe(4);
    expect(() => apiConfigFromEnv({ API_AUTH_SECRET: SECRET, SSE_MAX_STREAMS_PER_PROCESS: '9', SSE_RESERVED_FIRST_STREAMS: '9' })).toThrow(
      'SSE_RESERVED_FIRST_STREAMS must be a whole number of streams from 0 to 8 (default 4); got "9".',
    );
    for (const [name, value] of [
      ['SSE_HEARTBEAT_MS', '0'],
      ['SSE_HEARTBEAT_MS', '1.5'],
      ['SSE_RETRY_MS', '-1'],
      ['SSE_MAX_STREAMS_PER_USER', '0'],
      ['SSE_MAX_STREAMS_PER_PROCESS', 'many'],
      ['SSE_RESERVED_FIRST_STREAMS', '-1'],
      ['RATE_LIMIT_ENQUEUE', '0'],
      ['RATE_LIMIT_CRON_TRIGGER', 'lots'],
      ['RATE_LIMIT_WINDOW_MS', '999'],
    ]) {
      expect(() => apiConfigFromEnv({ API_AUTH_SECRET: SECRET, [name as string]: value }), `${name}=${value}`).toThrow(
        new RegExp(`^${name} must be a whole number`),
      );
    }
  });
});

describe('scripts/mint-token.mjs', () => {
  const script = resolve(ROOT, 'scripts/mint-token.mjs');
  const mint = (args: string[], env: Record<string, string | undefined>) =>
    run(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, API_AUTH_SECRET: undefined, ...env } });

  it('mints, from API_AUTH_SECRET, a token the api’s own code verifies', async () => {
    const { stdout } = await mint(['ops', '--role', 'operator', '--ttl', '120'], { API_AUTH_SECRET: SECRET });
    const verified = verifyToken(stdout.trim(), SECRET);
    expect(verified).toMatchObject({ ok: true, claims: { sub: 'ops', role: 'operator' } });
    if (verified.ok) expect(verified.claims.exp - verified.claims.iat).toBe(120);
    expect(stdout).not.toContain(SECRET);
  });

  it('says what is missing or wrong, with exit code 2', async () => {
    const noSecret = mint(['alice', '--secret-file', resolve(ROOT, 'no-such.env')], {});
    await expect(noSecret).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/API_AUTH_SECRET is not set/) });
    await expect(mint(['not valid'], { API_AUTH_SECRET: SECRET })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/user id must be/),
    });
    await expect(mint(['alice', '--role', 'admin'], { API_AUTH_SECRET: SECRET })).rejects.toMatchObject({ code: 2 });
    await expect(mint(['alice', '--ttl', '86401'], { API_AUTH_SECRET: SECRET })).rejects.toMatchObject({ code: 2 });
  });
});
