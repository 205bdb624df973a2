import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiReady, startApp, workerReady, type AppProcess } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { AUTH_ENV, tokenFor } from '../support/auth.js';
import { waitFor } from '../support/wait-for.js';

/** Fixed, so a failure can be replayed: the same inputs in the same order on every run. */
const SEED = 0x5eed_2026;
const REQUESTS = 400;
const CONCURRENCY = 8;
/** A request without an answer by then counts as a failure (the api hung). */
const REQUEST_TIMEOUT_MS = 20_000;

interface Endpoint {
  method: 'GET' | 'POST';
  /** Path segments; `:name` is a parameter. */
  segments: string[];
  query: string[];
  operator?: boolean;
}

/** Every endpoint of apps/api (docs/example-api.md). */
const ENDPOINTS: Endpoint[] = [
  { method: 'POST', segments: ['uploads', ':id', 'process'], query: ['wait', 'userId'] },
  { method: 'GET', segments: ['jobs', ':id'], query: [] },
  { method: 'GET', segments: ['cron', 'runs'], query: ['job', 'status', 'limit'], operator: true },
  { method: 'POST', segments: ['cron', ':name', 'trigger'], query: [], operator: true },
  { method: 'GET', segments: ['cron'], query: ['internal', 'removed', 'ticks'], operator: true },
  { method: 'GET', segments: ['cron', ':name'], query: ['ticks'], operator: true },
  { method: 'POST', segments: ['cron', ':name', 'pause'], query: [], operator: true },
  { method: 'POST', segments: ['cron', ':name', 'resume'], query: [], operator: true },
  { method: 'GET', segments: ['users', ':userId', 'events'], query: ['access_token'] },
];

/** Hostile values, as they appear in a URL (percent-encoded where needed). */
const HOSTILE = [
  '%00', 'a%00b', '%C3%28', '%FF', '%FE%FF', '%E0%80%80', '%ED%A0%80', '%F4%90%80%80', '%C0%AF', '%', '%zz', '%2', '%25',
  '%2F', '%2e%2e', '..', '.', '%0D%0ASet-Cookie:%20x=1', '%0A', '%09', '%20', '+', '%7F', '%F0%9F%98%80', '%E2%80%AE',
  'x'.repeat(65), 'x'.repeat(201), 'x'.repeat(4000), '9'.repeat(400), '-1', '0', '1e3', 'NaN', 'Infinity', '1.5', '501',
  '500', '1', 'true', 'false', 'TRUE', 'RUNNING', 'running', 'FAILED', '__proto__', 'constructor', 'toString',
  'tasks.sweepLostRuns', 'tasks.pruneCronRuns', 'cleanupExpiredData', "'%20OR%201=1--", '%3Cscript%3E', '$%7Bjndi:x%7D',
  'a:b', 'a.b', '*', '%5B%5D', '[]', '{}', 'null', 'undefined', '', 'alice', 'bob', 'ops', 'abc123', 'no-such-job',
];
const UNKNOWN_FIELDS = ['x', 'JOB', 'Limit', 'limit[]', 'limit[a]', '__proto__', '%00', 'job%00', 'access_token', '', '%FF', 'a'.repeat(300)];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const USERS = ['alice', 'bob', 'ops'];

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** Builds the inputs: random and hostile strings in each parameter, random methods, headers and bodies. */
function generate(count: number, seed: number, ids: { jobId: string }): FuzzRequest[] {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => random() < p;
  const randomBytesEncoded = () =>
    Array.from({ length: 1 + int(40) }, () => `%${int(256).toString(16).padStart(2, '0').toUpperCase()}`).join('');
  const randomAscii = () => encodeURIComponent(Array.from({ length: 1 + int(30) }, () => String.fromCharCode(32 + int(95))).join(''));
  const value = (valid: string[]) => {
    const roll = random();
    if (roll < 0.3) return pick(valid);
    if (roll < 0.7) return pick(HOSTILE);
    return chance(0.5) ? randomBytesEncoded() : randomAscii();
  };
  const validParam: Record<string, string[]> = {
    ':id': ['abc123', 'upload-1', ids.jobId, 'no-such-job'],
    ':name': ['cleanupExpiredData', 'tasks.sweepLostRuns'],
    ':userId': USERS,
  };
  const validQuery: Record<string, string[]> = {
    wait: ['true', 'false'],
    userId: USERS,
    job: ['cleanupExpiredData', 'tasks.pruneCronRuns'],
    status: ['COMPLETED', 'FAILED', 'RUNNING', 'SKIPPED', 'MISSED'],
    limit: ['1', '20', '500'],
  };
  const caller = () => pick(USERS);
  const authorization = (user: string, operator: boolean) => {
    const roll = random();
    if (roll < 0.55) return `Bearer ${tokenFor(user, operator || chance(0.2) ? 'operator' : 'user')}`;
    if (roll < 0.65) return undefined;
    if (roll < 0.7) return `Bearer ${tokenFor(user, 'user', { ttlSeconds: 1, now: Date.now() - 10_000 })}`;
    return pick([
      'Bearer',
      'Bearer ',
      'bearer x.y.z',
      'Basic YWxpY2U6cGFzcw==',
      `Bearer ${'A'.repeat(3000)}`,
      `Bearer ${tokenFor(user).slice(0, -2)}`,
      `Bearer ${tokenFor(user)}x`,
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
      'Bearer \u00ff\u00fe.\u00e9.x',
      `Bearer ${tokenFor(user)} ${tokenFor(user)}`,
    ]);
  };
  const bodies: Array<() => { type?: string; body: Buffer; encoding?: string }> = [
    () => ({ type: 'application/json', body: Buffer.from('{"uploadId":"x","userId":"bob","__proto__":{"admin":true}}') }),
    () => ({ type: 'application/json', body: Buffer.from('{bad') }),
    () => ({ type: 'application/json', body: Buffer.from('x'.repeat(200_000)) }),
    () => ({ type: 'application/json; charset=utf-99', body: Buffer.from('{}') }),
    () => ({ type: 'application/json', body: Buffer.from('x'), encoding: 'gzip' }),
    () => ({ type: 'application/x-www-form-urlencoded', body: Buffer.from(`${'a['.repeat(50)}b${']'.repeat(50)}=1&userId=bob`) }),
    () => ({ type: 'text/plain', body: Buffer.from('hello') }),
    () => ({ type: 'multipart/form-data; boundary=x', body: Buffer.from('--x\r\n\r\n--x--') }),
    () => ({ body: Buffer.from(Array.from({ length: 64 }, () => int(256))) }),
  ];

  const requests: FuzzRequest[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = pick(ENDPOINTS);
    const user = caller();
    const segments = endpoint.segments.map((segment) => {
      if (!segment.startsWith(':')) return segment;
      // The caller's own stream most of the time, so the deeper checks run too.
      if (segment === ':userId' && chance(0.4)) return user;
      return value(validParam[segment] ?? []);
    });
    const query: string[] = [];
    for (const field of endpoint.query) {
      if (!chance(0.4)) continue;
      const v = field === 'access_token' ? (chance(0.5) ? tokenFor(user) : value([])) : value(validQuery[field] ?? []);
      query.push(`${field}=${v}`);
      if (chance(0.15)) query.push(`${field}=${value(validQuery[field] ?? [])}`);
    }
    if (chance(0.2)) query.push(`${pick(UNKNOWN_FIELDS)}=${value([])}`);
    if (chance(0.05)) query.push(pick(['', '&', '=', '==', '&&=x']));
    const path = `/${segments.join('/')}${query.length > 0 || chance(0.05) ? `?${query.join('&')}` : ''}`;

    const headers: Record<string, string> = {};
    const auth = authorization(user, endpoint.operator ?? false);
    if (auth !== undefined) headers.authorization = auth;
    if (chance(0.2)) headers.accept = pick(['text/event-stream', '*/*', 'application/json', '\u00ff']);
    if (chance(0.1)) headers['last-event-id'] = pick(['1', '\u00e9', 'x'.repeat(1000)]);
    if (chance(0.05)) headers['x-forwarded-for'] = pick(['1.2.3.4, evil', '::1']);
    const method = chance(0.85) ? endpoint.method : pick(METHODS);
    let body: Buffer | undefined;
    if (method !== 'GET' && method !== 'HEAD' && chance(0.3)) {
      const made = pick(bodies)();
      body = made.body;
      if (made.type) headers['content-type'] = made.type;
      if (made.encoding) headers['content-encoding'] = made.encoding;
    }
    requests.push({ method, path, headers, body });
  }
  return requests;
}

/**
 * Sends one request exactly as built (no URL normalisation), on a connection of
 * its own, so that every failure belongs to the request that caused it (on a
 * shared keep-alive connection, Node's client sends the body of a DELETE or
 * OPTIONS without a length, which spoils the next request on it); an event
 * stream is closed once its headers arrive.
 */
function send(base: URL, request: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, method: request.method, path: request.path, headers: request.headers, agent: false },
      (res) => {
        const contentType = String(res.headers['content-type'] ?? '');
        if (contentType.startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, contentType, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** Writes raw bytes on a new connection and resolves with the status line of the answer ('' if the server closed it without one). */
function sendRaw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error('no answer')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? ''));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.end(bytes);
  });
}

/** Problems with one answer: a 5xx, an error without a reason, a stack trace. */
function problemsOf(request: FuzzRequest, answer: Answer): string[] {
  const problems: string[] = [];
  const what = `${request.method} ${request.path.slice(0, 200)} -> ${answer.status}`;
  if (answer.status >= 500 || answer.status < 100) problems.push(`${what}: ${answer.body.slice(0, 300)}`);
  if (answer.status >= 400 && answer.contentType.includes('json') && request.method !== 'HEAD') {
    let message: unknown;
    try {
      message = (JSON.parse(answer.body) as { message?: unknown }).message;
    } catch {
      message = undefined;
    }
    if (typeof message !== 'string' || message.length === 0) problems.push(`${what}: no reason in ${answer.body.slice(0, 200)}`);
  }
  if (/"stack"|\n\s+at .+:\d+:\d+/.test(answer.body)) problems.push(`${what}: a stack trace in the answer`);
  return problems;
}

// End to end: the built apps/api (and a worker, so that ?wait=true answers) under hostile input.
describe('apps/api under bad input: every bad request is a 4xx with a reason, never a 5xx', () => {
  const prefix = uniquePrefix('api-fuzz');
  let schema: TestSchema;
  let api: AppProcess;
  let worker: AppProcess;
  let base: URL;
  let port: number;
  let jobId: string;

  const alice = () => ({ authorization: `Bearer ${tokenFor('alice')}` });
  const operator = () => ({ authorization: `Bearer ${tokenFor('ops', 'operator')}` });

  beforeAll(async () => {
    schema = await createTestSchema('api_fuzz');
    port = await freePort();
    base = new URL(`http://127.0.0.1:${port}`);
    const env = { TASKS_PREFIX: prefix, ...schema.env };
    // Far past the defaults: these requests test input handling, not the per-user limits (rate-limits.spec.ts).
    const limits = { RATE_LIMIT_ENQUEUE: '100000', RATE_LIMIT_CRON_TRIGGER: '100000' };
    [api, worker] = await Promise.all([
      startApp('api', { ...env, PORT: String(port), ...AUTH_ENV, ...limits }, apiReady),
      startApp('worker', { ...env, EXAMPLE_UPLOAD_STEP_MS: '1' }, workerReady),
    ]);
    const enqueued = await send(base, { method: 'POST', path: '/uploads/seed/process', headers: alice() });
    expect(enqueued.status).toBe(202);
    jobId = (JSON.parse(enqueued.body) as { jobId: string }).jobId;
  });

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await deletePrefix(prefix);
    await schema?.drop();
  });

  describe('each parameter of each endpoint refuses NUL bytes, invalid UTF-8, oversized and repeated values with a 400', () => {
    const BAD = ['%00', 'a%00b', '%C3%28', '%FF', '%ED%A0%80'];
    const cases: Array<[string, string, Record<string, string>, RegExp]> = [];
    for (const bad of [...BAD, 'x'.repeat(65)]) {
      cases.push(['POST', `/uploads/${bad}/process`, {}, /^Upload id must be|^Failed to decode param/]);
      cases.push(['GET', `/users/${bad}/events`, {}, /^User id must be|^Failed to decode param/]);
      cases.push(['POST', `/uploads/abc/process?userId=${bad}`, {}, /^Query parameter "userId" must be 1-64/]);
      cases.push(['POST', `/uploads/abc/process?wait=${bad}`, {}, /^Query parameter "wait" must be "true" or "false"/]);
    }
    for (const bad of [...BAD, 'x'.repeat(201)]) {
      cases.push(['GET', `/jobs/${bad}`, {}, /^Job id must be|^Failed to decode param/]);
      cases.push(['GET', `/cron/runs?job=${bad}`, { operator: 'yes' }, /^Query parameter "job" must be 1-200/]);
      cases.push(['GET', `/cron/runs?status=${bad}`, { operator: 'yes' }, /^Query parameter "status" must be one of/]);
      cases.push(['GET', `/cron/runs?limit=${bad}`, { operator: 'yes' }, /^Query parameter "limit" must be a whole number/]);
      cases.push(['POST', `/cron/${bad}/trigger`, { operator: 'yes' }, /^Cron job name must be|^Failed to decode param/]);
    }
    for (const [path, field] of [
      ['/uploads/abc/process?wait=true&wait=false', 'wait'],
      ['/uploads/abc/process?userId=alice&userId=alice', 'userId'],
      ['/cron/runs?job=a&job=a', 'job'],
      ['/cron/runs?status=FAILED&status=FAILED', 'status'],
      ['/cron/runs?limit=1&limit=2', 'limit'],
      ['/users/alice/events?access_token=x&access_token=y', 'access_token'],
    ] as const) {
      // The stream's token goes in the query only (header and query at once is a 400 of its own).
      const auth: Record<string, string> = path.startsWith('/cron') ? { operator: 'yes' } : field === 'access_token' ? { none: 'yes' } : {};
      const method = path.startsWith('/uploads') ? 'POST' : 'GET';
      cases.push([method, path, auth, new RegExp(`^Query parameter "${field}" must be given once\\.$`)]);
    }
    for (const [method, path] of [
      ['POST', '/uploads/abc/process?bogus=1'],
      ['GET', '/jobs/1?bogus=1'],
      ['GET', '/cron/runs?bogus=1'],
      ['POST', '/cron/cleanupExpiredData/trigger?bogus=1'],
      ['GET', '/users/alice/events?bogus=1'],
    ] as const) {
      cases.push([method, path, path.startsWith('/cron') ? { operator: 'yes' } : {}, /^Unknown query parameter "bogus": it takes /]);
    }
    cases.push(['GET', '/cron/runs?limit[a]=1', { operator: 'yes' }, /^Unknown query parameter "limit\[a\]"/]);

    it.each(cases)('%s %s', async (method, path, options, reason) => {
      const headers = options.none ? {} : options.operator ? operator() : alice();
      const answer = await send(base, { method, path, headers });
      expect(answer.status, answer.body).toBe(400);
      expect((JSON.parse(answer.body) as { message: string }).message).toMatch(reason);
    });
  });

  it(`answers ${REQUESTS} generated requests (seed ${SEED.toString(16)}) without a 5xx, a missing reason or a stack trace, and stays healthy`, async () => {
    const requests = generate(REQUESTS, SEED, { jobId });
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const request = requests[next++] as FuzzRequest;
          try {
            const answer = await send(base, request);
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            problems.push(...problemsOf(request, answer));
          } catch (error) {
            problems.push(`${request.method} ${request.path.slice(0, 200)}: ${(error as Error).message}`);
          }
        }
      }),
    );
    expect(problems).toEqual([]);
    // The inputs reach past authentication and validation too, not only into 401s and 400s.
    for (const status of [200, 202, 400, 401, 403, 404]) expect(statuses.get(status) ?? 0, `answers with ${status}`).toBeGreaterThan(0);

    // Malformed at the HTTP level: Node's parser answers (or closes), the api never crashes.
    const raw = [
      `GET /jobs/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x80\r\nConnection: close\r\n\r\n`,
      `GET /cron/runs?job=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /jobs/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\nConnection: close\r\n\r\n`,
      `GET http://evil.example/jobs/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `POST /uploads/abc/process HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      `BREW /jobs/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      `GET /jobs/1 HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ];
    for (const request of raw) {
      const status = await sendRaw(port, Buffer.from(request, 'latin1'));
      expect(status === '' || /^HTTP\/1\.[01] [1-4]\d\d /.test(status), `${JSON.stringify(request.slice(0, 60))} -> ${status}`).toBe(true);
    }

    // Still healthy: a valid request works end to end, and nothing was logged as an error.
    expect(api.running).toBe(true);
    const enqueued = await send(base, { method: 'POST', path: '/uploads/after-fuzz/process', headers: alice() });
    expect(enqueued.status).toBe(202);
    const { jobId: after } = JSON.parse(enqueued.body) as { jobId: string };
    await waitFor(
      async () => {
        const answer = await send(base, { method: 'GET', path: `/jobs/${after}`, headers: alice() });
        return answer.status === 200 && (JSON.parse(answer.body) as { state: string }).state === 'completed';
      },
      { what: `job ${after} to complete after the fuzzing` },
    );
    expect(api.lines.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
  });
});
