// docker-compose.yml and Dockerfile are part of the product: these tests read the
// compose file through Docker Compose itself (`docker compose config`), so a file
// Compose rejects, or one that lost a service, the worker replicas, a healthcheck
// or a depends_on condition, fails the suite. No Docker engine is needed.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPOSE_FILE = resolve(ROOT, 'docker-compose.yml');
const DOCKERFILE = resolve(ROOT, 'Dockerfile');

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }>;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  restart?: string;
  ports?: unknown[];
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
}

interface ComposeCli {
  name: string;
  /** `extraEnv`: variables of the host environment Compose interpolates. */
  config(extraEnv?: Record<string, string>): ComposeConfig;
}

// Compose must not pick up a caller's COMPOSE_* settings (another file, project or profile).
const composeEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('COMPOSE_')));

function run(
  command: string,
  args: string[],
  input?: string,
  extraEnv: Record<string, string> = {},
): { ok: boolean; stdout: string; stderr: string } {
  const env = { ...composeEnv, ...extraEnv };
  const result = spawnSync(command, args, { cwd: ROOT, env, input, encoding: 'utf8', timeout: 60_000 });
  return { ok: result.status === 0, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

function mustRun(command: string, args: string[], input?: string, extraEnv?: Record<string, string>): string {
  const result = run(command, args, input, extraEnv);
  if (!result.ok) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/**
 * Docker Compose v2 (`docker compose`, prints JSON), else the standalone v1
 * `docker-compose` (Debian's package; prints YAML, turned into JSON by the
 * PyYAML it runs on).
 */
function findCompose(): ComposeCli | undefined {
  if (run('docker', ['compose', 'version']).ok) {
    return {
      name: 'docker compose',
      config: (extraEnv) =>
        JSON.parse(mustRun('docker', ['compose', '-f', COMPOSE_FILE, 'config', '--format', 'json'], undefined, extraEnv)) as ComposeConfig,
    };
  }
  if (run('docker-compose', ['version']).ok) {
    const path = mustRun('sh', ['-c', 'command -v docker-compose']).trim();
    const shebang = /^#!\s*(\S+)/.exec(readFileSync(path, 'latin1').slice(0, 200))?.[1];
    const toJson = 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)';
    const python = [shebang, 'python3'].find((p) => p && run(p, ['-c', 'import yaml']).ok);
    if (!python) return undefined;
    return {
      name: 'docker-compose (v1)',
      config: (extraEnv) =>
        JSON.parse(
          mustRun(python, ['-c', toJson], mustRun('docker-compose', ['-f', COMPOSE_FILE, 'config'], undefined, extraEnv)),
        ) as ComposeConfig,
    };
  }
  return undefined;
}

/** Seconds in a Compose duration such as "35s", "1m30s" or "1m". */
function durationSeconds(value: string | undefined): number {
  if (!value) return 0;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) total += Number(amount) * units[unit];
  return total;
}

const compose = findCompose();
// On a developer machine without Compose the file checks are skipped; CI must run them.
const skip = !compose && !process.env.CI;

describe.skipIf(skip)('docker-compose.yml, as Docker Compose reads it', () => {
  const APPS = ['api', 'worker', 'scheduler'] as const;
  let config: ComposeConfig;

  const service = (name: string): ComposeService => {
    if (!compose) {
      throw new Error(
        'No Docker Compose CLI found: install the compose plugin (`docker compose`) or Debian\'s docker-compose package.',
      );
    }
    config ??= compose.config();
    const found = config.services[name];
    if (!found) throw new Error(`${compose.name} config has no service "${name}"; it has: ${Object.keys(config.services).join(', ')}`);
    return found;
  };

  it('defines redis, postgres, migrate, api, worker and scheduler', () => {
    for (const name of ['redis', 'postgres', 'migrate', ...APPS]) expect(service(name), name).toBeDefined();
    expect(service('redis').image).toMatch(/^redis:7-alpine/);
    expect(service('postgres').image).toMatch(/^postgres:16-alpine/);
    expect(service('postgres').environment?.POSTGRES_DB).toBe('tasks');
  });

  it('gives the api, the worker and the scheduler a healthcheck on their readiness probes', () => {
    const probeOf = (name: string) => {
      const test = service(name).healthcheck?.test;
      return Array.isArray(test) ? test.join(' ') : test;
    };
    expect(probeOf('api')).toContain('http://127.0.0.1:3000/health/ready');
    for (const name of ['worker', 'scheduler']) {
      expect(service(name).environment?.TASKS_HEALTH_PORT, name).toBe('8080');
      expect(probeOf(name), name).toContain('http://127.0.0.1:8080/health/ready');
    }
  });

  it('opens the health port to the compose network only: 0.0.0.0 in the container, never published', () => {
    for (const name of ['worker', 'worker-reports', 'scheduler']) {
      expect(service(name).environment?.TASKS_HEALTH_HOST, name).toBe('0.0.0.0');
      expect(service(name).ports ?? [], `${name} publishes no port`).toEqual([]);
    }
  });

  it('gives redis and postgres a healthcheck', () => {
    for (const name of ['redis', 'postgres']) {
      const healthcheck = service(name).healthcheck;
      expect(healthcheck?.disable ?? false, `${name} healthcheck disabled`).toBe(false);
      expect(healthcheck?.test?.length ?? 0, `${name} healthcheck test`).toBeGreaterThan(0);
    }
  });

  it('runs two worker pools: uploads (default queue) and reports, each probed and draining', () => {
    expect(service('worker').environment?.WORKER_QUEUES).toBe('default');
    const reports = service('worker-reports');
    expect(reports.environment?.WORKER_QUEUES).toBe('reports:2');
    expect(reports.command).toEqual(service('worker').command);
    expect(JSON.stringify(reports.healthcheck?.test)).toContain('/health/ready');
    expect(durationSeconds(reports.stop_grace_period) * 1000).toBeGreaterThan(Number(reports.environment?.TASKS_SHUTDOWN_GRACE_MS));
  });

  it('runs two worker replicas', () => {
    expect(service('worker').deploy?.replicas).toBe(2);
  });

  it('starts the apps only after healthy redis and postgres and a successful migrate', () => {
    for (const app of APPS) {
      expect(service(app).depends_on, app).toMatchObject({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
    expect(service('migrate').depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
  });

  it('runs each app from the one image, chosen by its command', () => {
    for (const app of [...APPS, 'migrate']) {
      const { command, build, image } = service(app);
      expect(build ?? image, `${app} has neither build nor image`).toBeDefined();
      expect([command].flat().join(' '), app).toContain(`dist/apps/${app}/main.js`);
    }
  });

  it('points every app at the compose redis and postgres, and the api at 0.0.0.0', () => {
    for (const app of [...APPS, 'migrate']) {
      const env = service(app).environment ?? {};
      expect(new URL(env.REDIS_URL ?? 'missing:').hostname, `${app} REDIS_URL`).toBe('redis');
      expect(new URL(env.DATABASE_URL ?? 'missing:').hostname, `${app} DATABASE_URL`).toBe('postgres');
      expect(env.TASKS_PREFIX, `${app} TASKS_PREFIX`).toBeTruthy();
      expect(env.LOG_LEVEL, `${app} LOG_LEVEL`).toBeTruthy();
    }
    expect(service('api').environment).toMatchObject({ HOST: '0.0.0.0', PORT: expect.any(String) });
  });

  it('passes API_AUTH_SECRET to the api from the host environment, never a secret written in the file', () => {
    service('api');
    const secret = randomBytes(32).toString('base64url');
    expect(compose?.config({ API_AUTH_SECRET: secret }).services.api?.environment?.API_AUTH_SECRET).toBe(secret);
    // In the file it is only an interpolation of the host's variable.
    const raw = readFileSync(COMPOSE_FILE, 'utf8');
    const lines = raw.split('\n').filter((line) => /^\s*-?\s*API_AUTH_SECRET\s*[:=]/.test(line));
    expect(lines.length, 'API_AUTH_SECRET lines in docker-compose.yml').toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/API_AUTH_SECRET\s*[:=]\s*['"]?\$\{API_AUTH_SECRET(:?-)?\}['"]?\s*$/);
  });

  it('lets a stopping worker drain: stop_grace_period is longer than TASKS_SHUTDOWN_GRACE_MS', () => {
    const worker = service('worker');
    const graceMs = Number(worker.environment?.TASKS_SHUTDOWN_GRACE_MS ?? 25_000);
    expect(durationSeconds(worker.stop_grace_period) * 1000).toBeGreaterThan(graceMs);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(DOCKERFILE, 'utf8');
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map(([, from, as]) => ({ from, as }));

  it('builds on Node 24 in separate deps, build and runtime stages', () => {
    expect(dockerfile).toMatch(/node:24[-.\w]*/);
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(/RUN npm ci\s*$/m);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=\S+ \/app\/dist\/apps \.\/dist\/apps/);
    // No test fixtures or bench in the runtime image.
    expect(dockerfile).not.toMatch(/COPY --from=\S+ \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/^EXPOSE 3000 8080$/m);
  });
});
