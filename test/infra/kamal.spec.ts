import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TASKS_ENV_VARIABLES, parseRedisUrl } from '#nestjs-tasks-internal';
import { ROOT } from '../support/processes.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

interface Role {
  hosts: string[];
  cmd: string;
  proxy?: boolean;
  env?: { clear?: Record<string, string | number>; secret?: string[] };
  options?: Record<string, string | number>;
}

interface Deploy {
  service: string;
  image: string;
  servers: Record<string, Role>;
  proxy: { app_port: number; healthcheck: { path: string } };
  env: { clear: Record<string, string | number>; secret: string[] };
  registry: { password: string[] };
  accessories: Record<string, { image: string; host: string; cmd?: string; port?: string; env?: { clear?: Record<string, string>; secret?: string[] } }>;
}

/**
 * The words the host's shell makes of `docker run … <image> <cmd>`: Kamal
 * appends an accessory's cmd to that command line as it is, over SSH. Run with
 * `env`, to show what the host's shell would expand.
 */
function hostShellWords(cmd: string, env: Record<string, string>): string[] {
  const printed = spawnSync('sh', ['-c', `printf '%s\\0' ${cmd}`], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  expect(printed.status, printed.stderr).toBe(0);
  return printed.stdout.split('\0').slice(0, -1);
}

// config/deploy.yml is the Kamal example of the stack: parsed here, checked against the built apps and their settings.
describe('config/deploy.yml (Kamal)', () => {
  const deploy = parse(readFileSync(resolve(ROOT, 'config/deploy.yml'), 'utf8')) as Deploy;
  const roles = deploy.servers;

  it('runs the api behind kamal-proxy, and the worker and the scheduler as roles of their own without it', () => {
    expect(Object.keys(roles).sort()).toEqual(['reports', 'scheduler', 'web', 'workers']);
    expect(roles.web.cmd).toBe('node dist/apps/api/main.js');
    expect(roles.workers.cmd).toBe('node dist/apps/worker/main.js');
    expect(roles.scheduler.cmd).toBe('node dist/apps/scheduler/main.js');
    for (const role of Object.values(roles)) {
      const entry = role.cmd.split(' ')[1];
      expect(existsSync(resolve(ROOT, entry)), `${entry} is what the build produces`).toBe(true);
      expect(role.hosts.length).toBeGreaterThan(0);
    }
    expect(roles.web.proxy).toBeUndefined();
    expect(roles.workers.proxy).toBe(false);
    expect(roles.scheduler.proxy).toBe(false);
    expect(roles.workers.hosts.length).toBeGreaterThanOrEqual(2);
    // Two worker pools of one image: uploads on the default queue, and reports.
    expect(roles.reports.cmd).toBe(roles.workers.cmd);
    expect(roles.workers.env?.clear?.WORKER_QUEUES).toBe('default');
    expect(roles.reports.env?.clear?.WORKER_QUEUES).toBe('reports:2');
    expect(roles.reports.proxy).toBe(false);
  });

  it("routes traffic once the api's readiness (/up) answers, on the api's port", () => {
    expect(deploy.proxy.healthcheck.path).toBe('/up');
    expect(deploy.proxy.app_port).toBe(Number(deploy.env.clear.PORT));
  });

  it('probes the worker and the scheduler on their health port, and gives the worker time to drain', () => {
    for (const name of ['workers', 'reports', 'scheduler']) {
      const port = roles[name].env?.clear?.TASKS_HEALTH_PORT;
      expect(port, name).toBe(8080);
      // Reachable on the hosts' Docker network (the role publishes nothing: no proxy).
      expect(roles[name].env?.clear?.TASKS_HEALTH_HOST, name).toBe('0.0.0.0');
      expect(roles[name].options?.['health-cmd'], name).toContain(`http://127.0.0.1:${port}/health/ready`);
    }
    const graceMs = Number(roles.workers.env?.clear?.TASKS_SHUTDOWN_GRACE_MS);
    // The grace, plus the 2 s a cron run gets to hand itself back, plus slack.
    expect(Number(roles.workers.options?.['stop-timeout']) * 1_000).toBeGreaterThan(graceMs + 2_000);
  });

  it('names secrets without values, and sets only variables the apps read', () => {
    expect(deploy.env.secret).toEqual(expect.arrayContaining(['API_AUTH_SECRET', 'DATABASE_URL']));
    expect(deploy.registry.password).toEqual(['KAMAL_REGISTRY_PASSWORD']);
    const known = new Set<string>([...Object.values(TASKS_ENV_VARIABLES), 'HOST', 'PORT', 'LOG_LEVEL', 'DATABASE_URL', 'WORKER_QUEUES']);
    const clear = [deploy.env.clear, ...Object.values(roles).map((role) => role.env?.clear ?? {})];
    for (const variables of clear) {
      for (const name of Object.keys(variables)) {
        expect(known.has(name), `${name} is a documented variable`).toBe(true);
        expect(name).not.toMatch(/SECRET|PASSWORD/);
      }
    }
    expect(deploy.accessories.postgres.env?.secret).toEqual(['POSTGRES_PASSWORD']);
    // Prometheus' token for the api's /metrics is a secret of the web role only.
    expect(roles.web.env?.secret).toEqual(['METRICS_TOKEN']);
  });

  it('runs Redis with a password from a Kamal secret (never written in the file), and the apps get it inside REDIS_URL, a secret too', () => {
    const redis = deploy.accessories.redis;
    expect(redis.env?.secret).toEqual(['REDIS_PASSWORD']);
    expect(redis.env?.clear ?? {}).not.toHaveProperty('REDIS_PASSWORD');
    // requirepass takes the container's variable, not a value.
    expect(redis.cmd).toMatch(/--requirepass "\$REDIS_PASSWORD"/);
    // The workers on the other hosts reach it on its host's address; it is published there only, not on every interface.
    expect(redis.port).toBe(`${redis.host}:6379:6379`);
    expect(deploy.env.secret).toContain('REDIS_URL');
    for (const variables of [deploy.env.clear, ...Object.values(roles).map((role) => role.env?.clear ?? {})]) {
      expect(variables).not.toHaveProperty('REDIS_URL');
    }
  });

  it('the Redis accessory’s cmd, run as Docker runs it, starts a redis-server that refuses clients without the password; the documented URL form (percent-encoded) gets in', async () => {
    const cmd = deploy.accessories.redis.cmd as string;
    // The host's shell must leave $REDIS_PASSWORD to the container's (which has the secret from Kamal's env file).
    const words = hostShellWords(cmd, { REDIS_PASSWORD: 'expanded-on-the-host' });
    expect(words.join(' ')).not.toContain('expanded-on-the-host');
    expect(words.join(' ')).toContain('$REDIS_PASSWORD');

    const realServer = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
    expect(realServer, 'redis-server on the PATH').not.toBe('');
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'kamal-redis-'));
    // Stands in for the image's redis-server: the same arguments, on a free loopback port, in a scratch directory.
    writeFileSync(join(dir, 'redis-server'), `#!/bin/sh\nexec ${realServer} "$@" --port ${port} --bind 127.0.0.1 --dir ${dir} --save ''\n`);
    chmodSync(join(dir, 'redis-server'), 0o755);
    // URL-special characters on purpose: the URL form percent-encodes them.
    const password = `p@ss:w/rd%#?&${randomBytes(8).toString('hex')}`;
    const server = spawn(words[0] as string, words.slice(1), { env: { PATH: `${dir}:${process.env.PATH}`, REDIS_PASSWORD: password }, stdio: 'ignore' });
    // Parsed as the apps parse REDIS_URL.
    const ping = async (url: string) => {
      const client = new Redis({ ...parseRedisUrl(url), maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        return await client.ping();
      } finally {
        client.disconnect();
      }
    };
    try {
      const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
      expect(await waitFor(() => ping(url).catch(() => undefined), { what: 'the accessory’s redis-server to answer with the password' })).toBe('PONG');
      await expect(ping(`redis://127.0.0.1:${port}`)).rejects.toThrow(/NOAUTH/);
    } finally {
      server.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
