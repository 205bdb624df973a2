import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY } from '../support/processes.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { TEST_DATABASE_URL, createTestSchema, dropSchema } from '../support/database.js';
import { waitFor } from '../support/wait-for.js';

// Real processes need time to boot on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 120_000 };
// Not a timing target (docs/security.md documents about 10 s): how long a boot may take before it counts as hanging.
const HANG_MS = 45_000;

/** A TCP server that accepts connections and never answers, like a wedged Redis. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// The example worker run directly, as a container runs it, against each boot
// fault: it exits non-zero on its own, and its very first line of output names
// the service, the (redacted) URL, the variable and the fix; a URL that does
// not parse is named by its variable, with what is wrong with it, never quoted.
describe('boot faults fail fast and clearly', PROCESS_TIMEOUT, () => {
  const prefix = uniquePrefix('bootfaults');
  const cleanups: Array<() => Promise<unknown>> = [];
  let password: ExtraRedisServer;
  let silent: { url: string; close: () => Promise<void> };
  let emptySchema: string;

  beforeAll(async () => {
    password = await ExtraRedisServer.start({ password: `pw-${randomBytes(8).toString('hex')}` });
    silent = await silentServer();
    emptySchema = `test_bootfaults_${randomBytes(4).toString('hex')}`;
    const schema = await createTestSchema('bootfaults_base');
    // An empty schema next to a migrated one: the database exists, the tables do not.
    await schema.dataSource.query(`CREATE SCHEMA ${emptySchema}`);
    cleanups.push(() => schema.drop(), () => dropSchema(emptySchema), () => password.stop(), () => silent.close(), () => deletePrefix(prefix));
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function bootWorker(env: Record<string, string>, kind: 'worker' | 'scheduler' | 'api' = 'worker'): Promise<{ code: number | null; first: string; output: string }> {
    const app = new AppProcess(kind, ENTRY[kind], { TASKS_PREFIX: prefix, REDIS_URL, API_AUTH_SECRET: randomBytes(32).toString('hex'), PORT: '0', ...env });
    cleanups.push(() => app.stop(2_000));
    const code = await waitFor(async () => {
      if (app.running) return undefined;
      return { code: await app.exited };
    }, { timeoutMs: HANG_MS, what: `the ${kind} to exit by itself` });
    return { code: code.code, first: app.output.find((line) => line.trim() !== '') ?? '', output: app.output.join('\n') };
  }

  const closedPort = async () => `redis://127.0.0.1:${await freePort()}`;

  it.each([
    ['Redis unreachable', async () => ({ REDIS_URL: await closedPort() }), /^ServiceUnreachableError: Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED.*REDIS_URL/],
    ['Redis silent', async () => ({ REDIS_URL: silent.url }), /^ServiceUnreachableError: Cannot reach Redis at .*did not answer PING within \d+ ms.*REDIS_URL/],
    ['a Redis db index out of range', async () => ({ REDIS_URL: `${REDIS_URL}/99` }), /^ServiceUnreachableError: Cannot reach Redis at .*\/99: it has no database 99.*REDIS_URL/],
    ['the Redis login refused', async () => ({ REDIS_URL: password.url('wrong-password') }), /^ServiceUnreachableError: Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.*refused the login.*REDIS_URL/],
    [
      'Postgres unreachable',
      async () => ({ DATABASE_URL: `postgres://postgres:pg-secret@127.0.0.1:${await freePort()}/tasks_test` }),
      /^ServiceUnreachableError: Cannot reach Postgres at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/tasks_test .*DATABASE_URL/,
    ],
    [
      'the database missing',
      async () => {
        const url = new URL(TEST_DATABASE_URL);
        url.pathname = `/missing_${randomBytes(4).toString('hex')}`;
        return { DATABASE_URL: url.toString() };
      },
      /^ServiceUnreachableError: Postgres at postgres:\/\/.*\/missing_\w+ has no such database.*npm run db:migrate.*DATABASE_URL/,
    ],
    [
      'the Redis password in the query refused',
      async () => ({ REDIS_URL: `redis://127.0.0.1:${password.port}/?password=wrong-password` }),
      /^ServiceUnreachableError: Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/\?password=\*\*\*: it refused the login.*REDIS_URL/,
    ],
    [
      'Postgres unreachable, its password in the query',
      async () => ({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/tasks_test?password=pg-secret` }),
      /^ServiceUnreachableError: Cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/tasks_test\?password=\*\*\* .*DATABASE_URL/,
    ],
    [
      "a '/' in the REDIS_URL password",
      async () => ({ REDIS_URL: 'redis://:ab/wrong-password+ef=@127.0.0.1:6379' }),
      /^TasksConfigurationError: REDIS_URL is not a valid URL \(it has a '\/' in the password\? percent-encode it as %2F\)/,
    ],
    [
      "a '#' in the DATABASE_URL password",
      async () => ({ DATABASE_URL: 'postgres://postgres:ab#pg-secret?@127.0.0.1:5432/tasks_test' }),
      /^TasksConfigurationError: DATABASE_URL is not a valid URL \(it has a '#' in the password\? percent-encode it as %23\)/,
    ],
    [
      'a keyword-form DATABASE_URL',
      async () => ({ DATABASE_URL: 'host=127.0.0.1 port=5432 user=postgres password=pg-secret dbname=tasks_test' }),
      /^TasksConfigurationError: DATABASE_URL is not a valid URL \(it is in keyword form \(host=… password=…\), not a URL\); expected postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/,
    ],
    [
      'the migrations not applied',
      async () => ({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: emptySchema }),
      /^TasksConfigurationError: Cron jobs need the table cron_job_runs, which does not exist.*TASKS_MIGRATIONS/,
    ],
  ])('with %s, exits non-zero with that reason as its first line', async (_fault, env, firstLine) => {
    const { code, first, output } = await bootWorker(await env());
    expect(code, output).not.toBe(0);
    expect(first, output).toMatch(firstLine);
    expect(output).not.toContain('wrong-password');
    expect(output).not.toContain('pg-secret');
  });

  it.each(['api', 'scheduler'] as const)('the %s, too, exits non-zero with the reason first when Redis is unreachable or Postgres refuses', async (kind) => {
    const redis = await bootWorker({ REDIS_URL: await closedPort() }, kind);
    expect(redis.code, redis.output).not.toBe(0);
    expect(redis.first, redis.output).toMatch(/^ServiceUnreachableError: Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED.*REDIS_URL/);
    const postgres = await bootWorker({ DATABASE_URL: `postgres://postgres:pg-secret@127.0.0.1:${await freePort()}/tasks_test` }, kind);
    expect(postgres.code, postgres.output).not.toBe(0);
    expect(postgres.first, postgres.output).toMatch(/^ServiceUnreachableError: Cannot reach Postgres at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1.*DATABASE_URL/);
    expect(postgres.output).not.toContain('pg-secret');
    const malformed = await bootWorker({ REDIS_URL: 'redis://:ab/wrong-password+ef=@127.0.0.1:6379' }, kind);
    expect(malformed.code, malformed.output).not.toBe(0);
    expect(malformed.first, malformed.output).toMatch(/^TasksConfigurationError: REDIS_URL is not a valid URL \(it has a '\/' in the password/);
    expect(malformed.output).not.toContain('wrong-password');
    const dsn = await bootWorker({ DATABASE_URL: 'host=127.0.0.1 user=postgres password=pg-secret' }, kind);
    expect(dsn.code, dsn.output).not.toBe(0);
    expect(dsn.first, dsn.output).toMatch(/^TasksConfigurationError: DATABASE_URL is not a valid URL \(it is in keyword form/);
    expect(dsn.output).not.toContain('pg-secret');
  });
});
