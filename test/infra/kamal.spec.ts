import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TASKS_ENV_VARIABLES } from 'nestjs-tasks';
import { ROOT } from '../support/processes.js';

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
  accessories: Record<string, { image: string; env?: { clear?: Record<string, string>; secret?: string[] } }>;
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
});
