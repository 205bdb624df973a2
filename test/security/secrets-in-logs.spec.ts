import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY, apiReady, workerReady, type LogLine } from '../support/processes.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';
import { TestPki, TlsPostgresCluster } from '../support/tls.js';

// Real processes need time to boot on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

const secret = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;
const schedulerReady = (line: LogLine) => line.context === 'CronScheduler' && typeof line.msg === 'string' && line.msg.startsWith('Scheduling');
const APPS = ['api', 'worker', 'scheduler'] as const;

/** Every line a process printed (stdout and stderr, JSON or not) that contains one of `secrets`. */
function leaks(app: AppProcess, secrets: string[]): string[] {
  return app.output.filter((line) => secrets.some((value) => line.includes(value) || line.includes(encodeURIComponent(value))));
}

// Whenever Redis refuses the login — a wrong password at boot, a password
// rotated under running apps — or the URL is malformed or unreachable, the
// api, worker and scheduler (the built example apps) print no password.
describe('no secret in any log line', PROCESS_TIMEOUT, () => {
  let server: ExtraRedisServer;
  const password = secret('right');
  const apiSecret = randomBytes(32).toString('hex');
  const started: AppProcess[] = [];
  const prefixes: string[] = [];
  const prefixFor = (label: string) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  };

  beforeAll(async () => {
    server = await ExtraRedisServer.start({ password });
  });

  afterAll(async () => {
    await Promise.all(started.map((app) => app.stop(5_000)));
    await server?.stop();
    for (const prefix of prefixes) await deletePrefix(prefix);
  });

  function start(kind: (typeof APPS)[number], redisUrl: string, label: string): AppProcess {
    const app = new AppProcess(`${kind} (${label})`, ENTRY[kind], {
      REDIS_URL: redisUrl,
      TASKS_PREFIX: prefixFor(`secrets-${label}`),
      API_AUTH_SECRET: apiSecret,
      // Any free port: these tests make no HTTP request.
      PORT: '0',
      TASKS_SHUTDOWN_GRACE_MS: '500',
    });
    started.push(app);
    return app;
  }

  /** Starts the three apps with `redisUrl` and waits until each has exited on its own; they must fail, naming Redis. */
  async function bootFails(redisUrl: string, label: string, secrets: string[], says: RegExp): Promise<void> {
    const apps = APPS.map((kind) => start(kind, redisUrl, label));
    const codes = await Promise.all(apps.map((app) => app.exited));
    for (const [i, app] of apps.entries()) {
      expect(codes[i], `${app.name}:\n${app.tail()}`).not.toBe(0);
      expect(app.output.join('\n'), app.name).toMatch(says);
      expect(leaks(app, [...secrets, apiSecret]), app.name).toEqual([]);
    }
  }

  it('with a wrong password at boot, each app exits non-zero saying Redis refused, and prints no password', async () => {
    const wrong = secret('wrong');
    await bootFails(server.url(wrong), 'wrong-password', [wrong, password], /Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
  });

  it('with a malformed REDIS_URL holding a password, each app names the variable and not the password', async () => {
    const hidden = secret('malformed');
    await bootFails(`redis://:${hidden}@[not-a-host`, 'malformed', [hidden], /REDIS_URL/);
  });

  it('with an unreachable Redis, each app exits non-zero and prints no password', async () => {
    const hidden = secret('unreachable');
    const closed = await freePort();
    await bootFails(`redis://:${hidden}@127.0.0.1:${closed}`, 'unreachable', [hidden], /Cannot reach Redis/);
  });

  it('when the password is rotated under running apps, they log the refusals without the old or new password', async () => {
    const apps = [start('api', server.url(), 'rotated'), start('worker', server.url(), 'rotated'), start('scheduler', server.url(), 'rotated')];
    await Promise.all([
      apps[0].waitForLog(apiReady, 'ready', 60_000),
      apps[1].waitForLog(workerReady, 'ready', 60_000),
      apps[2].waitForLog(schedulerReady, 'ready', 60_000),
    ]);
    const next = secret('next');
    await server.rotatePassword(next);
    // Each app's connections reconnect and are refused: every app must have said so.
    const refused = (app: AppProcess) => app.output.some((line) => /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(line));
    await waitFor(() => apps.every(refused), { timeoutMs: 30_000, what: 'every app to log the refused login' });
    for (const app of apps) {
      expect(app.running, `${app.name}:\n${app.tail()}`).toBe(true);
      expect(leaks(app, [password, next, apiSecret]), app.name).toEqual([]);
    }
  });

  it('with a wrong Postgres password, each app exits non-zero saying the login was refused, and prints no password', async () => {
    const pki = await TestPki.create('secrets');
    const pgPassword = secret('pg-right');
    const cluster = await TlsPostgresCluster.create(pki, await pki.issue('postgres', ['IP:127.0.0.1']), { password: pgPassword });
    try {
      const wrong = secret('pg-wrong');
      const url = new URL(cluster.url('postgres', { sslmode: 'verify-full', sslrootcert: pki.caFile }));
      url.password = wrong;
      const failing = APPS.map((kind) => {
        const app = new AppProcess(`${kind} (pg-password)`, ENTRY[kind], {
          REDIS_URL,
          DATABASE_URL: url.toString(),
          TASKS_PREFIX: prefixFor('secrets-pg'),
          API_AUTH_SECRET: apiSecret,
          PORT: '0',
        });
        started.push(app);
        return app;
      });
      const codes = await Promise.all(failing.map((app) => app.exited));
      for (const [i, app] of failing.entries()) {
        expect(codes[i], `${app.name}:\n${app.tail()}`).not.toBe(0);
        expect(app.output.join('\n'), app.name).toMatch(/refused the login \(password authentication failed for user "postgres"\).*DATABASE_URL/);
        expect(leaks(app, [wrong, pgPassword, apiSecret]), app.name).toEqual([]);
      }
    } finally {
      await cluster.drop();
      await pki.dispose();
    }
  });
});
