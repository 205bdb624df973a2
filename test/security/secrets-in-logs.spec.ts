import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY, ROOT, apiReady, workerReady, type LogLine } from '../support/processes.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { createTestSchema } from '../support/database.js';
import { AUTH_ENV, TEST_AUTH_SECRET, operatorHeaders } from '../support/auth.js';
import { waitFor } from '../support/wait-for.js';
import { TestPki, TlsPostgresCluster } from '../support/tls.js';

// Real processes need time to boot on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 240_000 };

const MIGRATE = resolve(ROOT, 'dist/apps/migrate/main.js');
const CHECK_SERVICES = resolve(ROOT, 'scripts/check-services.mjs');
const schedulerReady = (line: LogLine) => line.context === 'CronScheduler' && typeof line.msg === 'string' && line.msg.startsWith('Scheduling');
const APPS = ['api', 'worker', 'scheduler'] as const;
type App = (typeof APPS)[number];

/**
 * A password shaped like a base64 secret ('/', '+', '='), and the two runs of
 * random hex in it: whatever the encoding (raw, percent-encoded, form-encoded)
 * or however little of it a message shows, one of them shows too.
 */
interface Secret {
  readonly value: string;
  readonly encoded: string;
  readonly marks: readonly string[];
}

function secret(label: string): Secret {
  const marks = [randomBytes(8).toString('hex'), randomBytes(8).toString('hex')];
  const value = `${label}-${marks[0]}/${marks[1]}+=`;
  return { value, encoded: encodeURIComponent(value), marks };
}

/** The lines of `text` that show any of `secrets`, or the tokens' signing secret. */
function leaks(text: string | readonly string[], secrets: readonly Secret[]): string[] {
  const marks = [...secrets.flatMap((s) => s.marks), TEST_AUTH_SECRET];
  const lines = typeof text === 'string' ? text.split('\n') : text;
  return lines.filter((line) => marks.some((mark) => line.includes(mark)));
}

// More processes booting at once make the shared Postgres miss the apps' 3 s connect deadline on a loaded two-core machine.
const PARALLEL = 4;

/** `run` over `items`, at most PARALLEL at a time, results in order. */
async function inParallel<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

const firstLine = (app: AppProcess) => app.output.find((line) => line.trim() !== '') ?? '';

/** Every way a Redis URL can carry `password` for the server on `port`. */
function redisForms(port: number, password: Secret, decoys: readonly Secret[]): Record<string, string> {
  const host = `127.0.0.1:${port}`;
  return {
    userinfo: `redis://:${password.encoded}@${host}`,
    'user and password': `redis://default:${password.encoded}@${host}/0`,
    'query password': `redis://${host}/?password=${password.encoded}`,
    'query, other names and cases': `redis://${host}/?pwd=${decoys[0]?.encoded}&password=${password.encoded}&Secret=${decoys[1]?.encoded}&TOKEN=${decoys[2]?.encoded}&pass=${decoys[3]?.encoded}`,
  };
}

// Whatever goes wrong — a wrong password at boot, Redis stopped under running
// apps, Postgres unreachable at boot, a URL that does not parse — and in
// whatever form the password is given (user info, query parameter, keyword
// form, raw special characters), the api, worker, scheduler and migrate
// command (the built example apps) print no password, and nor do the api's
// health and metrics answers or the runs stored in cron_job_runs.
describe('no secret in any log line', PROCESS_TIMEOUT, () => {
  let server: ExtraRedisServer;
  const password = secret('right');
  const decoys = [secret('pwd'), secret('secret'), secret('token'), secret('pass')];
  const started: AppProcess[] = [];
  const prefixes: string[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    server = await ExtraRedisServer.start({ password: password.value });
  });

  afterAll(async () => {
    await Promise.all(started.map((app) => app.stop(5_000)));
    await server?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
    for (const prefix of prefixes) await deletePrefix(prefix);
  });

  function start(kind: App | 'migrate' | 'check-services', env: Record<string, string>, label: string): AppProcess {
    const prefix = uniquePrefix(`secrets-${label.replace(/\W+/g, '-')}`);
    prefixes.push(prefix);
    const entry = kind === 'migrate' ? MIGRATE : kind === 'check-services' ? CHECK_SERVICES : ENTRY[kind];
    const app = new AppProcess(`${kind} (${label})`, entry, {
      REDIS_URL,
      TASKS_PREFIX: prefix,
      ...AUTH_ENV,
      // Any free port unless the test asks the api something.
      PORT: '0',
      TASKS_SHUTDOWN_GRACE_MS: '500',
      SERVICE_CHECK_TIMEOUT_MS: '2000',
      ...env,
    });
    started.push(app);
    return app;
  }

  interface Expected {
    kind: App | 'migrate' | 'check-services';
    env: Record<string, string>;
    label: string;
    /** What its first line says. */
    first: RegExp;
    secrets: readonly Secret[];
  }

  /** The same case for the api, the worker and the scheduler. */
  const everyApp = (env: Record<string, string>, label: string, first: RegExp, secrets: readonly Secret[]): Expected[] =>
    APPS.map((kind) => ({ kind, env, label, first, secrets }));

  /** Runs every case, a few processes at a time, each until it exits on its own: non-zero, saying why first, showing no secret. */
  async function allFail(cases: readonly Expected[]): Promise<void> {
    const apps = await inParallel(cases, async ({ kind, env, label }) => {
      const app = start(kind, env, label);
      await app.exited;
      return app;
    });
    for (const [i, app] of apps.entries()) {
      const { first, secrets } = cases[i] as Expected;
      expect(await app.exited, `${app.name}:\n${app.tail()}`).not.toBe(0);
      expect(firstLine(app), `${app.name}:\n${app.tail()}`).toMatch(first);
      expect(leaks(app.output, secrets), app.name).toEqual([]);
    }
  }

  it('with a wrong Redis password at boot, in every form, each app exits saying Redis refused, and prints no password', async () => {
    const wrong = secret('wrong');
    const refused = /^ServiceUnreachableError: Cannot reach Redis at redis:\/\/.*127\.0\.0\.1:\d+.*: it refused the login .*REDIS_URL/;
    await allFail(
      Object.entries(redisForms(server.port, wrong, decoys)).flatMap(([form, url]) =>
        everyApp({ REDIS_URL: url }, `wrong password, ${form}`, refused, [wrong, password, ...decoys]),
      ),
    );
  });

  it('with a malformed REDIS_URL holding a password, each app says what is wrong with REDIS_URL first, never quoting it', async () => {
    const hidden = secret('malformed');
    const [a, b] = hidden.marks;
    const host = `127.0.0.1:${server.port}`;
    const forms: Array<[string, RegExp]> = [
      [`redis://:${a}/${b}+ef=@${host}`, /it has a '\/' in the password\? percent-encode it as %2F/],
      [`redis://:${a}#${b}@${host}`, /it has a '#' in the password\? percent-encode it as %23/],
      [`redis://:${a}?${b}@${host}`, /it has a '\?' in the password\? percent-encode it as %3F/],
      [`host=127.0.0.1 port=${server.port} password=${hidden.value}`, /it is in keyword form/],
      [`redis://:${hidden.encoded}@[not-a-host`, /its host is not valid/],
    ];
    await allFail(
      forms.flatMap(([url, problem]) =>
        everyApp({ REDIS_URL: url }, `malformed ${problem.source.slice(0, 20)}`, new RegExp(`^TasksConfigurationError: REDIS_URL is not a valid URL \\(${problem.source}`), [hidden]),
      ),
    );
  });

  it('with an unreachable Redis, each app exits non-zero and prints no password', async () => {
    const hidden = secret('unreachable');
    const closed = await freePort();
    const { userinfo, 'query, other names and cases': query } = redisForms(closed, hidden, decoys);
    const unreachable = /^ServiceUnreachableError: Cannot reach Redis at redis:\/\/.*127\.0\.0\.1:\d+.* \(connect ECONNREFUSED/;
    await allFail(
      Object.entries({ userinfo, query }).flatMap(([form, url]) => everyApp({ REDIS_URL: url }, `unreachable, ${form}`, unreachable, [hidden, ...decoys])),
    );
  });

  it('with Postgres unreachable at boot or DATABASE_URL malformed, in every form, api, worker, scheduler and migrate print no password', async () => {
    const hidden = secret('pg');
    const [a, b] = hidden.marks;
    const closed = await freePort();
    const host = `127.0.0.1:${closed}`;
    const unreachable = /Cannot reach Postgres at /;
    const forms: Array<[string, string, RegExp, readonly string[]]> = [
      ['userinfo', `postgres://postgres:${hidden.encoded}@${host}/tasks_test`, unreachable, [...APPS, 'migrate']],
      ['query', `postgres://postgres@${host}/tasks_test?sslmode=disable&password=${hidden.encoded}`, unreachable, [...APPS, 'migrate']],
      ['keyword', `host=127.0.0.1 port=${closed} user=postgres password='${hidden.value} x' dbname=tasks_test`, /DATABASE_URL is not a valid URL \(it is in keyword form/, [...APPS, 'migrate']],
      ['raw /', `postgres://postgres:${a}/${b}@${host}/tasks_test`, /DATABASE_URL is not a valid URL \(it has a '\/' in the password/, [...APPS, 'migrate']],
      ['raw #', `postgres://postgres:${a}#${b}@${host}/tasks_test`, /DATABASE_URL is not a valid URL \(it has a '#' in the password.*expected postgres:\/\/USER:PASSWORD@HOST/, ['migrate']],
      ['raw ?', `postgres://postgres:${a}?${b}@${host}/tasks_test`, /DATABASE_URL is not a valid URL \(it has a '\?' in the password/, ['migrate']],
    ];
    const cases = forms.flatMap(([form, url, says, kinds]) =>
      kinds.map((kind) => ({
        kind: kind as Expected['kind'],
        env: { DATABASE_URL: url },
        label: `postgres, ${form}`,
        // The apps start with the error's name; the migrate command with what failed.
        first: new RegExp(`^${kind === 'migrate' ? 'Migration failed' : '(ServiceUnreachableError|TasksConfigurationError)'}: (?=.*DATABASE_URL).*${says.source}`),
        secrets: [hidden],
      })),
    );
    await allFail(cases);
  });

  it('scripts/check-services.mjs (make dev) says which service is down without showing a password', async () => {
    const hidden = secret('check');
    const [a, b] = hidden.marks;
    const closed = await freePort();
    const host = `127.0.0.1:${closed}`;
    const pairs: Array<[string, string]> = [
      [`redis://:${hidden.encoded}@${host}`, `postgres://postgres@${host}/tasks?password=${hidden.encoded}`],
      [`redis://${host}/?password=${hidden.encoded}`, `host=127.0.0.1 port=${closed} password='${hidden.value}'`],
      [`redis://:${a}/${b}@${host}`, `postgres://postgres:${a}#${b}@${host}/tasks`],
    ];
    const apps = pairs.map(([redis, postgres], i) => start('check-services', { REDIS_URL: redis, DATABASE_URL: postgres }, `check-services ${i}`));
    const codes = await Promise.all(apps.map((app) => app.exited));
    for (const [i, app] of apps.entries()) {
      expect(codes[i], app.tail()).toBe(1);
      expect(app.output.join('\n'), app.name).toMatch(/Redis is not reachable at [\s\S]*PostgreSQL is not reachable at /);
      expect(leaks(app.output, [hidden]), app.name).toEqual([]);
    }
  });

  it('when Redis stops under running apps and comes back, no log line, health or metrics answer, or stored run shows the password', async () => {
    const forms = redisForms(server.port, password, decoys);
    // Two deployments: the password in the query (with other secret-named parameters), and in the user info.
    const deployments = [
      { label: 'query', url: forms['query, other names and cases'] as string, shown: `redis://127.0.0.1:${server.port}/?pwd=***&password=***` },
      { label: 'userinfo', url: forms['user and password'] as string, shown: `redis://default:***@127.0.0.1:${server.port}/0` },
    ];
    const running = await Promise.all(
      deployments.map(async ({ label, url }) => {
        const schema = await createTestSchema(`secrets_${label}`);
        cleanups.push(() => schema.drop());
        const port = await freePort();
        const env = { REDIS_URL: url, ...schema.env, PORT: String(port), EXAMPLE_CLEANUP_CRON: '*/2 * * * * *', TASKS_CRON_SWEEP_MS: '1000' };
        const apps = APPS.map((kind) => start(kind, env, `outage ${label}`));
        return { apps, base: `http://127.0.0.1:${port}`, schema };
      }),
    );
    await Promise.all(
      running.flatMap(({ apps: [api, worker, scheduler] }) => [
        api?.waitForLog(apiReady, 'ready', 90_000),
        worker?.waitForLog(workerReady, 'ready', 90_000),
        scheduler?.waitForLog(schedulerReady, 'ready', 90_000),
      ]),
    );
    const answers: string[] = [];
    const ask = async (base: string, path: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(60_000) });
      const text = await response.text();
      answers.push(`${path} ${response.status} ${text}`);
      return { code: response.status, text };
    };
    const readiness = (base: string, code: number) =>
      waitFor(async () => ((await ask(base, '/health/ready')).code === code ? true : undefined), { timeoutMs: 30_000, what: `/health/ready to answer ${code}` });

    const before = running.map(({ apps }) => apps.map((app) => app.output.length));
    await server.kill();
    // Every app notices: a Redis error in its output since the stop.
    const noticed = (app: AppProcess, since: number) => app.output.slice(since).some((line) => /ECONNREFUSED|Connection is closed|ECONNRESET/.test(line));
    await waitFor(() => running.every(({ apps }, d) => apps.every((app, i) => noticed(app, before[d]?.[i] ?? 0))), {
      timeoutMs: 30_000,
      what: 'every app to log the lost Redis',
    });
    for (const { base } of running) await readiness(base, 503);
    // A scrape waits on Redis's command timeouts: it is answered, if at all, once Redis is back.
    const scrapes = running.map(({ base }) => ask(base, '/metrics', operatorHeaders()));
    await server.start();
    await Promise.allSettled(scrapes);
    for (const { base } of running) {
      await readiness(base, 200);
      await ask(base, '/metrics', operatorHeaders());
    }
    const stored: string[] = [];
    for (const { schema } of running) {
      const rows = (await schema.dataSource.query(`SELECT coalesce(error, '') || ' ' || coalesce(reason, '') AS text FROM cron_job_runs`)) as Array<{ text: string }>;
      stored.push(...rows.map((row) => row.text));
    }
    // Stopping flushes the apps' buffered log lines.
    await Promise.all(running.flatMap(({ apps }) => apps.map((app) => app.stop(10_000))));

    const secrets = [password, ...decoys];
    for (const [d, { apps }] of running.entries()) {
      for (const app of apps) {
        expect(app.output.some((line) => line.includes(deployments[d]?.shown as string)), `${app.name} names the Redis, redacted:\n${app.tail()}`).toBe(true);
        expect(leaks(app.output, secrets), app.name).toEqual([]);
      }
    }
    expect(answers.some((answer) => /^\/health\/ready 503 .*redis/i.test(answer)), answers.join('\n')).toBe(true);
    expect(leaks(answers, secrets)).toEqual([]);
    expect(leaks(stored, secrets)).toEqual([]);
  });

  it('when the password is rotated under running apps, they log the refusals without the old or new password', async () => {
    const apps = APPS.map((kind) => start(kind, { REDIS_URL: server.url() }, 'rotated'));
    await Promise.all([
      apps[0]?.waitForLog(apiReady, 'ready', 60_000),
      apps[1]?.waitForLog(workerReady, 'ready', 60_000),
      apps[2]?.waitForLog(schedulerReady, 'ready', 60_000),
    ]);
    const next = secret('next');
    await server.rotatePassword(next.value);
    try {
      // Each app's connections reconnect and are refused: every app must have said so.
      const refused = (app: AppProcess) => app.output.some((line) => /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(line));
      await waitFor(() => apps.every(refused), { timeoutMs: 30_000, what: 'every app to log the refused login' });
      for (const app of apps) {
        expect(app.running, `${app.name}:\n${app.tail()}`).toBe(true);
        expect(leaks(app.output, [password, next]), app.name).toEqual([]);
      }
    } finally {
      await server.rotatePassword(password.value);
    }
  });

  it('with a wrong Postgres password, in the user info or the query, each app exits saying the login was refused, and prints no password', async () => {
    const pki = await TestPki.create('secrets');
    const pgPassword = secret('pg-right');
    const cluster = await TlsPostgresCluster.create(pki, await pki.issue('postgres', ['IP:127.0.0.1']), { password: pgPassword.value });
    try {
      const wrong = secret('pg-wrong');
      const inUserinfo = new URL(cluster.url('postgres', { sslmode: 'verify-full', sslrootcert: pki.caFile }));
      inUserinfo.password = wrong.encoded;
      const inQuery = new URL(inUserinfo);
      inQuery.password = '';
      inQuery.searchParams.set('password', wrong.value);
      const refused = /^ServiceUnreachableError: Postgres at postgres:\/\/.* refused the login \(password authentication failed for user "postgres"\).*DATABASE_URL/;
      await allFail([inUserinfo, inQuery].flatMap((url) => everyApp({ DATABASE_URL: url.toString() }, 'pg-password', refused, [wrong, pgPassword])));
    } finally {
      await cluster.drop();
      await pki.dispose();
    }
  });
});
