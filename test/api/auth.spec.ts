import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY, ROOT, apiReady, startApp } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { SseClient } from '../support/sse.js';
import { AUTH_ENV, TEST_AUTH_SECRET, tokenFor } from '../support/auth.js';
import { mintToken } from '../../apps/api/src/auth/tokens.js';

// End to end: the built apps/api as a child process, its routes called over HTTP.
describe('apps/api authentication and authorization', () => {
  const prefix = uniquePrefix('api-auth');
  let schema: TestSchema;
  let api: AppProcess;
  let base: string;
  const clients: SseClient[] = [];
  /** Every token sent, so that the last test can check none of them was logged. */
  const sent = new Set<string>();

  const token = (...args: Parameters<typeof tokenFor>) => {
    const minted = tokenFor(...args);
    sent.add(minted);
    return minted;
  };
  const bearer = (value: string) => {
    sent.add(value);
    return { authorization: `Bearer ${value}` };
  };
  const as = (userId: string, role: 'user' | 'operator' = 'user') => bearer(token(userId, role));
  const call = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, init);
  const message = async (response: Response) => ((await response.json()) as { message: string }).message;

  beforeAll(async () => {
    schema = await createTestSchema('api_auth');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = await startApp('api', { TASKS_PREFIX: prefix, PORT: String(port), ...schema.env, ...AUTH_ENV }, apiReady);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await api?.stop();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  describe('boot', () => {
    it.each([
      ['without API_AUTH_SECRET', '', /^api: API_AUTH_SECRET is not set: .*openssl rand -base64 48/],
      ['with an API_AUTH_SECRET under 32 bytes', 'too-short-secret-0123456789', /^api: API_AUTH_SECRET is too short: .*at least 32 bytes/],
    ])('refuses to start %s, with one line naming the variable and how to make one', async (_what, secret, expected) => {
      const refused = new AppProcess('api-refused', ENTRY.api, { TASKS_PREFIX: prefix, PORT: '1', API_AUTH_SECRET: secret });
      expect(await refused.exited).toBe(1);
      expect(refused.output).toHaveLength(1);
      expect(refused.output[0]).toMatch(expected);
      if (secret) expect(refused.output[0]).not.toContain(secret);
    });
  });

  describe('401: a missing or bad token, with the reason', () => {
    const expired = () => mintToken(TEST_AUTH_SECRET, { sub: 'alice', ttlSeconds: 60, now: Date.now() - 120_000 });
    const tampered = () => {
      const [header, , signature] = token('alice').split('.');
      const claims = Buffer.from(JSON.stringify({ sub: 'alice', role: 'operator', iat: 1, exp: 2 })).toString('base64url');
      return `${header}.${claims}.${signature}`;
    };
    it.each([
      ['no Authorization header', () => ({}), /^Missing access token: send the header "Authorization: Bearer <token>"/],
      ['another scheme', () => ({ authorization: 'Basic YWxpY2U6cGFzcw==' }), /^Malformed Authorization header/],
      ['"Bearer" without a token', () => ({ authorization: 'Bearer' }), /^Malformed Authorization header/],
      ['a token that is not one', () => bearer('not-a-token'), /^Malformed access token/],
      ['a token of another secret', () => bearer(mintToken(randomBytes(32), { sub: 'alice' })), /^Invalid access token signature/],
      ['a tampered token', () => bearer(tampered()), /^Invalid access token signature/],
      ['an expired token', () => bearer(expired()), /^Access token expired at .*; mint a new one\.$/],
    ])('%s', async (_what, headers, reason) => {
      for (const [method, path] of [
        ['POST', '/uploads/abc/process'],
        ['GET', '/jobs/1'],
        ['GET', '/cron/runs'],
        ['POST', '/cron/cleanupExpiredData/trigger'],
        ['GET', '/users/alice/events'],
      ] as const) {
        const response = await call(path, { method, headers: headers() });
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Bearer realm="tasks-api"/);
        expect(await message(response), `${method} ${path}`).toMatch(reason);
      }
    });

    it('takes the token from the query only on the SSE route', async () => {
      const response = await call(`/jobs/1?access_token=${token('alice')}`);
      expect(response.status).toBe(401);
      expect(await message(response)).toContain('accepted only by GET /users/:userId/events');
      // With a header too, the query parameter is just unknown there.
      const unknown = await call(`/jobs/1?access_token=${token('alice')}`, { headers: as('alice') });
      expect(unknown.status).toBe(400);
      expect(await message(unknown)).toBe('Unknown query parameter "access_token": it takes none.');
    });
  });

  describe('who may do what', () => {
    it('lets a user enqueue uploads, naming only themselves as the receiver of its events', async () => {
      expect((await call('/uploads/abc/process', { method: 'POST', headers: as('alice') })).status).toBe(202);
      expect((await call('/uploads/abc/process?userId=alice', { method: 'POST', headers: as('alice') })).status).toBe(202);
      const other = await call('/uploads/abc/process?userId=bob', { method: 'POST', headers: as('alice') });
      expect(other.status).toBe(403);
      expect(await message(other)).toBe(
        'Query parameter "userId" may only name the caller ("alice"): progress events go to the user the token is for.',
      );
    });

    it('shows a user only their own jobs (another user’s is a 404, like an unknown one); an operator sees every job', async () => {
      const enqueued = await call('/uploads/mine/process', { method: 'POST', headers: as('alice') });
      const { jobId } = (await enqueued.json()) as { jobId: string };
      const own = await call(`/jobs/${jobId}`, { headers: as('alice') });
      expect(own.status).toBe(200);
      expect(await own.json()).toMatchObject({ id: jobId, name: 'processUpload' });

      const bobs = await call(`/jobs/${jobId}`, { headers: as('bob') });
      expect(bobs.status).toBe(404);
      expect(await message(bobs)).toBe(`No job with id "${jobId}" (unknown, or past its retention).`);

      const operator = await call(`/jobs/${jobId}`, { headers: as('ops', 'operator') });
      expect(operator.status).toBe(200);
      expect(await operator.json()).toMatchObject({ id: jobId, name: 'processUpload' });
    });

    it('keeps the cron routes to operators: 403 for a user token', async () => {
      for (const [method, path] of [
        ['GET', '/cron/runs'],
        ['POST', '/cron/cleanupExpiredData/trigger'],
      ] as const) {
        const response = await call(path, { method, headers: as('alice') });
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(await message(response)).toBe('This endpoint needs an operator token; this token\'s role is "user".');
      }
      const runs = await call('/cron/runs', { headers: as('ops', 'operator') });
      expect(runs.status).toBe(200);
      expect(await runs.json()).toEqual(expect.any(Array));
      const trigger = await call('/cron/cleanupExpiredData/trigger', { method: 'POST', headers: as('ops', 'operator') });
      expect(trigger.status).toBe(202);
      expect(await trigger.json()).toEqual({ jobId: expect.any(String) });
    });

    it.each(['tasks.sweepLostRuns', 'tasks.pruneCronRuns'])('never triggers the library’s internal cron %s over HTTP', async (name) => {
      const response = await call(`/cron/${name}/trigger`, { method: 'POST', headers: as('ops', 'operator') });
      expect(response.status).toBe(403);
      expect(await message(response)).toBe(
        `"${name}" is one of the library's internal maintenance crons: it runs on its own schedule and cannot be triggered over HTTP.`,
      );
    });

    it('answers 404 for an unknown cron, listing the ones that can be triggered', async () => {
      const response = await call('/cron/noSuchJob/trigger', { method: 'POST', headers: as('ops', 'operator') });
      expect(response.status).toBe(404);
      expect(await message(response)).toBe('Unknown cron job "noSuchJob". Cron jobs that can be triggered: cleanupExpiredData.');
    });

    it('streams a user’s events to that user only, with the token in the header or in ?access_token=', async () => {
      const header = await SseClient.open(`${base}/users/carol/events`, as('carol'));
      clients.push(header);
      expect(header.status).toBe(200);
      const query = await SseClient.open(`${base}/users/carol/events?access_token=${token('carol')}`);
      clients.push(query);
      expect(query.status).toBe(200);
      expect(query.response.headers['content-type']).toMatch(/^text\/event-stream/);

      for (const [what, url, headers] of [
        ['header', `${base}/users/carol/events`, as('dave')],
        ['query', `${base}/users/carol/events?access_token=${token('dave')}`, {}],
        // An operator reads only its own stream too.
        ['operator', `${base}/users/carol/events`, as('ops', 'operator')],
      ] as const) {
        const other = await SseClient.open(url, headers);
        clients.push(other);
        expect(other.status, what).toBe(403);
        await other.finished;
        expect(JSON.parse(other.body), what).toMatchObject({
          statusCode: 403,
          message: expect.stringMatching(/^The events of user "carol" are streamed only to that user; this token is for "(dave|ops)"\.$/),
        });
      }

      const both = await SseClient.open(`${base}/users/carol/events?access_token=${token('carol')}`, as('carol'));
      clients.push(both);
      expect(both.status).toBe(400);
      await both.finished;
      expect(JSON.parse(both.body)).toMatchObject({ message: expect.stringContaining('not both') });

      const bad = await SseClient.open(`${base}/users/carol/events?access_token=garbage`);
      clients.push(bad);
      expect(bad.status).toBe(401);
      header.close();
      query.close();
    });

    it('accepts a token minted by scripts/mint-token.mjs from the same secret', async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [resolve(ROOT, 'scripts/mint-token.mjs'), 'erin'], {
        env: { ...process.env, ...AUTH_ENV },
      });
      const response = await call('/uploads/from-script/process?userId=erin', { method: 'POST', headers: bearer(stdout.trim()) });
      expect(response.status).toBe(202);
    });
  });

  it('never logs the secret or a token, and logs credentials as [redacted]', async () => {
    // Stopping flushes the api's buffered log lines.
    expect(await api.stop()).toBe(0);
    const log = api.output.join('\n');
    expect(sent.size).toBeGreaterThan(10);
    expect(log).not.toContain(TEST_AUTH_SECRET);
    for (const value of sent) expect(log.includes(value), 'a token in the log').toBe(false);
    expect(log).toContain('"authorization":"[redacted]"');
    expect(log).toContain('access_token=[redacted]');
  });
});
