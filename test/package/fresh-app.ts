import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, cp, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import pg from 'pg';
import { ensureDatabase } from '../support/postgres.js';
import { AppProcess, ROOT, workerReady, type LogLine } from '../support/processes.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { StopWaiting, waitFor } from '../support/wait-for.js';
import { documentedAppSpecs, documentedDataSource, documentedInstallLines, documentedMigrationCommand } from './docs.js';

// A Nest team's view of the library: `npm pack` it, generate an app with the
// Nest CLI outside this repository (ESM, the default, or `--type cjs`), follow
// the docs' own install lines (no overrides, no --force), migrate with the
// TypeORM CLI through the documented data source, run an api, a worker
// and a scheduler composed the way the docs show, and run docs/testing.md's
// complete spec files with the test runner the Nest CLI set up.

export type ModuleSystem = 'esm' | 'cjs';

/** The apps' sources; `*.tmpl` so that this repository's tsc and oxlint leave them alone. */
const TEMPLATE = resolve(import.meta.dirname, 'fresh-app');
const UNTRACKED_TEMPLATE = resolve(import.meta.dirname, 'fresh-app-untracked');
const WRONG_PAYLOAD = 'typecheck/wrong-payload.ts';
const NEST_CLI = resolve(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
const TARBALL = 'nestjs-tasks-0.1.0.tgz';
const TRACKING_PACKAGES = ['typeorm', '@nestjs/typeorm', 'pg'];

const schedulerReady = (line: LogLine) =>
  line.context === 'CronScheduler' && typeof line.msg === 'string' && line.msg.startsWith('Scheduling');

// The library's messages (libs/tasks/src/errors/tasks.messages.ts), as an app sees them.
const LOGGER_MODULE_MISSING =
  "Running tasks needs nestjs-pino's LoggerModule, which gives every log line of a run its task, jobId and attempt: " +
  "import LoggerModule.forRoot() from 'nestjs-pino' in the worker's root module.";
const CRON_DATABASE_MISSING =
  'Cron jobs need a TypeORM DataSource for run tracking: import TypeOrmModule.forRoot({ ..., ' +
  "entities: [...TASKS_ENTITIES], migrations: [...TASKS_MIGRATIONS] }) (both from 'nestjs-tasks/typeorm') " +
  'in the root module of the worker and of the scheduler, and run the migrations.';

interface Ran {
  code: number | null;
  output: string;
}

// Commands still running when the test process exits are killed with their children.
const commands = new Set<number>();
process.once('exit', () => {
  for (const pid of commands) killGroup(pid);
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * The environment of a fresh shell: without the npm_* variables `npx vitest`
 * sets (npm_config_local_prefix=<this repo> among them), which would point npm
 * at this repository. npm may answer from its cache: the lines stay as written.
 */
function shellEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD'),
  );
  return { ...clean, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

/** Runs a command to its end (killed after `timeoutMs`), with stdout and stderr together. */
function run(command: string, args: string[], cwd: string, timeoutMs = 180_000, env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, env: shellEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid as number;
    commands.add(pid);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      commands.delete(pid);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      commands.delete(pid);
      resolveRun({ code, output: timedOut ? `${output}\n(killed after ${timeoutMs} ms)` : output });
    });
  });
}

/** Runs a command that must succeed; returns its output. */
async function mustRun(command: string, args: string[], cwd: string, timeoutMs?: number, env?: Record<string, string>): Promise<string> {
  const { code, output } = await run(command, args, cwd, timeoutMs, env);
  if (code !== 0) throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} exited ${code}:\n${output}`);
  return output;
}

/** A documented shell line, run as written by bash. */
const shellLine = (line: string, cwd: string, timeoutMs = 300_000, env?: Record<string, string>) =>
  mustRun('bash', ['-c', line], cwd, timeoutMs, env);

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

async function readJson<T = any>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Copies a template folder's `*.tmpl` files into an app, without the suffix. */
async function copyTemplate(template: string, app: string, skip: readonly string[] = []): Promise<void> {
  for (const file of await filesUnder(template)) {
    if (skip.includes(file)) continue;
    const target = join(app, file.replace(/\.tmpl$/, ''));
    await mkdir(dirname(target), { recursive: true });
    await cp(join(template, file), target);
  }
}

/**
 * The test runner `nest new` sets up for a module system, which runs
 * docs/testing.md's spec files in the app: Jest (ts-jest) for CommonJS, Vitest
 * for ESM, both with their test functions as globals.
 */
interface TestRunner {
  name: string;
  /** The scaffold's devDependencies it needs, at the scaffold's versions; the rest of its test tooling (supertest, e2e) goes. */
  devDependencies: readonly string[];
  /** Its config file, kept as generated. */
  config: string;
  /** What the scaffold's tsconfig.json lists in `types` for its globals. */
  types: string;
  /** The scaffold's `npm test`. */
  script: RegExp;
  /**
   * The `npm test` runs, each writing a JSON report to `report`; `leak` is what
   * that run prints on a leaked handle, which a control file shows it does.
   */
  runs: readonly { label: string; args: (report: string) => string[]; leak: RegExp }[];
}

const TEST_RUNNERS: Record<ModuleSystem, TestRunner> = {
  cjs: {
    name: 'Jest',
    devDependencies: ['@nestjs/testing', 'jest', 'ts-jest', '@types/jest'],
    config: 'jest.config.ts',
    types: 'jest',
    // Node's --experimental-vm-modules: Jest's require() of Nest 12's ES modules needs it.
    script: /^node --experimental-vm-modules \.\/node_modules\/jest\/bin\/jest\.js$/,
    runs: [
      // Jest's own 1 s check, as a plain run prints it.
      { label: 'npm test', args: (report) => ['--json', `--outputFile=${report}`], leak: /Jest did not exit one second after the test run has completed/ },
      {
        label: 'npm test -- --detectOpenHandles',
        args: (report) => ['--detectOpenHandles', '--json', `--outputFile=${report}`],
        leak: /Jest has detected the following \d+ open handles?/,
      },
    ],
  },
  esm: {
    name: 'Vitest',
    devDependencies: ['@nestjs/testing', 'vitest', 'vite'],
    config: 'vitest.config.ts',
    types: 'vitest/globals',
    script: /^vitest run$/,
    runs: [
      // Vitest stops its workers itself, so a handle left in a test file never holds its exit
      // (nor shows in the hanging-process reporter): --detectAsyncLeaks is what names one.
      {
        label: 'npm test -- --detectAsyncLeaks',
        args: (report) => ['--detectAsyncLeaks', '--reporter=default', '--reporter=json', `--outputFile=${report}`],
        leak: /\bleaking in\b/,
      },
    ],
  },
};

/** The `it`s of docs/testing.md's complete spec files, all of which must pass. */
const DOCUMENTED_SPEC_TESTS = 5;

/**
 * A control spec for the runners' leak checks: a timer that outlives the run
 * by seconds, so that both a plain Jest (its 1 s check) and the detectors see it.
 */
const LEAKING_SPEC = "export {};\n\nit('leaves a timer running', () => {\n  setTimeout(() => {}, 5_000);\n});\n";

/**
 * Generates an app with the Nest CLI (`--type esm|cjs`) and trims its lint,
 * format and e2e tooling, keeping the test runner it set up: the install stays
 * small and the build is plain tsc.
 */
async function generateApp(root: string, type: ModuleSystem): Promise<string> {
  await mustRun(
    process.execPath,
    [NEST_CLI, 'new', 'fresh-app', '--skip-install', '--skip-git', '--no-observe']
      .concat(['--package-manager', 'npm', '--language', 'ts', '--type', type]),
    root,
    60_000,
  );
  const app = join(root, 'fresh-app');
  const runner = TEST_RUNNERS[type];
  const manifest = await readJson(join(app, 'package.json'));
  expect(manifest.type).toBe(type === 'esm' ? 'module' : undefined);
  expect(Object.keys(manifest.dependencies)).toEqual(expect.arrayContaining(['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs']));
  expect(await filesUnder(join(app, 'src'))).toEqual(expect.arrayContaining(['main.ts', 'app.module.ts']));
  expect(Object.keys(manifest.devDependencies), `the test runner nest new --type ${type} sets up`).toEqual(expect.arrayContaining([...runner.devDependencies]));
  expect(manifest.scripts.test).toMatch(runner.script);
  const kept = ['typescript', '@types/node', ...runner.devDependencies];
  manifest.devDependencies = Object.fromEntries(kept.map((name) => [name, manifest.devDependencies[name]]));
  manifest.scripts = { build: 'tsc -p tsconfig.build.json', test: manifest.scripts.test };
  await writeFile(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  expect(await exists(join(app, runner.config)), runner.config).toBe(true);
  for (const file of await readdir(app)) {
    if (/^(vitest|jest)\..*\.[cm]?[jt]s$/.test(file) && file !== runner.config) await unlink(join(app, file));
  }
  // The scaffold's own specs (its e2e needs supertest): the runs count docs/testing.md's alone.
  await rm(join(app, 'test'), { recursive: true, force: true });
  await rm(join(app, 'src/app.controller.spec.ts'));
  const tsconfig = await readJson(join(app, 'tsconfig.json'));
  expect(tsconfig.compilerOptions.types).toEqual(expect.arrayContaining(['node', runner.types]));
  return app;
}

/**
 * The package's entry points as this app resolves them: its own node_modules,
 * the build of its module system, and no deep imports nor internals.
 */
async function resolvedEntries(app: string, type: ModuleSystem): Promise<string[]> {
  const ids = ['nestjs-tasks', 'nestjs-tasks/extras', 'nestjs-tasks/typeorm', 'nestjs-tasks/testing', 'nestjs-tasks/internal', 'nestjs-tasks/dist/esm/index.js'];
  const script =
    type === 'esm'
      ? `for (const id of ${JSON.stringify(ids)}) { try { console.log(id, import.meta.resolve(id)); } catch (error) { console.log(id, error.code); } }`
      : `for (const id of ${JSON.stringify(ids)}) { try { console.log(id, require('url').pathToFileURL(require.resolve(id)).href); } catch (error) { console.log(id, error.code); } }`;
  const args = type === 'esm' ? ['--input-type=module', '-e', script] : ['-e', script];
  return (await mustRun(process.execPath, args, app)).trim().split('\n');
}

/** The Node.js binary the app's processes run on: the tests' own (24), or another major the engines allow. */
export interface Runtime {
  label: string;
  node: () => string;
}

export const CURRENT_NODE: Runtime = { label: `Node ${process.versions.node}`, node: () => process.execPath };

export function describeFreshApp(type: ModuleSystem, runtime: Runtime = CURRENT_NODE): void {
  const build = type === 'esm' ? 'esm' : 'commonjs';

  describe(`nestjs-tasks packed and installed into a Nest app made with \`nest new --type ${type}\`, run on ${runtime.label}`, { timeout: 600_000 }, () => {
    const cleanup: Array<() => Promise<unknown>> = [];
    const processes: AppProcess[] = [];
    const database = `fresh_app_${type}_${randomBytes(4).toString('hex')}`;
    const databaseUrl = new URL(`/${database}`, 'postgres://postgres@127.0.0.1:5432').href;
    let app = '';
    let untracked = '';
    let db: pg.Client;
    let node = '';
    const timings: Record<string, number> = {};

    async function timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
      const started = Date.now();
      try {
        return await fn();
      } finally {
        timings[step] = Date.now() - started;
      }
    }

    /** A TASKS_PREFIX of its own for one process group, deleted at the end. */
    function prefixFor(label: string): string {
      const prefix = uniquePrefix(`fresh-${type}-${label}`);
      cleanup.push(() => deletePrefix(prefix));
      return prefix;
    }

    function envFor(prefix: string): Record<string, string> {
      return { REDIS_URL, TASKS_PREFIX: prefix, DATABASE_URL: databaseUrl };
    }

    function start(name: string, dir: string, entry: string, env: Record<string, string | undefined>): AppProcess {
      const proc = new AppProcess(`${type} ${name}`, join(dir, 'dist', entry), env, node);
      processes.push(proc);
      return proc;
    }

    /** The exit code of a process expected to end on its own (killed if it has not within `timeoutMs`). */
    async function exitCodeOf(proc: AppProcess, timeoutMs = 60_000): Promise<number | null> {
      try {
        await waitFor(() => !proc.running, { timeoutMs, intervalMs: 50, what: `${proc.name} to exit` });
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${proc.tail()}`);
      }
      return proc.exited;
    }

    beforeAll(async () => {
      const root = await mkdtemp(join(tmpdir(), `nestjs-tasks-fresh-${type}-`));
      cleanup.push(() => rm(root, { recursive: true, force: true }));
      node = await timed('node', async () => runtime.node());

      // 1. The tarball, as `npm publish` would upload it. Its prepack build already ran
      // in the suite's global setup, and two of these files pack at once: no second build.
      await timed('pack', () => mustRun('npm', ['pack', '--ignore-scripts', '--workspace', 'nestjs-tasks', '--pack-destination', root], ROOT));
      expect((await readdir(root)).filter((name) => name.endsWith('.tgz'))).toEqual([TARBALL]);
      const listing = (await mustRun('tar', ['-tzf', join(root, TARBALL)], root)).split('\n').filter(Boolean);
      expect(listing).toEqual(
        expect.arrayContaining(
          ['index', 'extras', 'typeorm'].flatMap((entry) =>
            ['esm', 'commonjs'].flatMap((dir) => [`package/dist/${dir}/${entry}.js`, `package/dist/${dir}/${entry}.d.ts`]),
          ),
        ),
      );
      const besidesDist = new Set(['package/package.json', 'package/README.md', 'package/LICENSE']);
      expect(listing.filter((path) => !path.startsWith('package/dist/') && !besidesDist.has(path))).toEqual([]);
      expect(listing.filter((path) => /\.spec\.|tsbuildinfo|-cjs\.cts/.test(path))).toEqual([]);

      // 2. A fresh app from the Nest CLI.
      app = await timed('generate', () => generateApp(root, type));

      // 3. The docs' install lines, as written, in the app's folder holding the tarball.
      // The line with the tarball first; the app without run tracking is a copy made then.
      const lines = [...(await documentedInstallLines()).keys()];
      const base = lines.filter((line) => line.includes(`./${TARBALL}`));
      expect(base, `install lines in the docs: ${lines.join(' | ')}`).toHaveLength(1);
      const tracking = lines.filter((line) => TRACKING_PACKAGES.every((pkg) => line.split(/\s+/).includes(pkg)));
      expect(tracking, `install lines in the docs: ${lines.join(' | ')}`).toHaveLength(1);
      await cp(join(root, TARBALL), join(app, TARBALL));
      await timed('install', () => shellLine(base[0] as string, app));

      untracked = join(root, 'untracked-app');
      await cp(app, untracked, { recursive: true, verbatimSymlinks: true });
      for (const line of lines.filter((l) => l !== base[0])) await timed(`install: ${line}`, () => shellLine(line, app));

      const installed = await readJson(join(app, 'package.json'));
      expect(installed.dependencies['nestjs-tasks']).toMatch(/^file:.*nestjs-tasks-0\.1\.0\.tgz$/);
      expect(installed.overrides).toBeUndefined();
      expect((await lstat(join(app, 'node_modules/nestjs-tasks'))).isSymbolicLink()).toBe(false);
      // No missing or invalid peer anywhere in either tree.
      await mustRun('npm', ['ls', '--all'], app, 60_000);
      await mustRun('npm', ['ls', '--all'], untracked, 60_000);
      for (const pkg of TRACKING_PACKAGES) expect(await exists(join(untracked, 'node_modules', pkg)), pkg).toBe(false);

      const appModules = new URL(`file://${app}/node_modules/nestjs-tasks/dist/${build}/`).href;
      expect(await resolvedEntries(app, type)).toEqual([
        `nestjs-tasks ${appModules}index.js`,
        `nestjs-tasks/extras ${appModules}extras.js`,
        `nestjs-tasks/typeorm ${appModules}typeorm.js`,
        `nestjs-tasks/testing ${appModules}testing.js`,
        'nestjs-tasks/internal ERR_PACKAGE_PATH_NOT_EXPORTED',
        'nestjs-tasks/dist/esm/index.js ERR_PACKAGE_PATH_NOT_EXPORTED',
      ]);

      // 4. The apps' sources and the documented data source, then 5. their builds.
      await copyTemplate(TEMPLATE, app, [`${WRONG_PAYLOAD}.tmpl`]);
      await writeFile(join(app, 'src/data-source.ts'), (await documentedDataSource()).source);
      // docs/testing.md's spec files, as the page shows them: the type-check covers them, the test runner runs them.
      for (const spec of await documentedAppSpecs()) {
        await mkdir(dirname(join(app, spec.path)), { recursive: true });
        await writeFile(join(app, spec.path), spec.source);
      }
      await copyTemplate(UNTRACKED_TEMPLATE, untracked);
      await cp(join(TEMPLATE, 'src/settings.ts.tmpl'), join(untracked, 'src/settings.ts'));
      await timed('build', () => Promise.all([mustRun('npm', ['run', 'build'], app, 120_000), mustRun('npm', ['run', 'build'], untracked, 120_000)]));
      expect(await filesUnder(join(app, 'dist'))).toEqual(
        expect.arrayContaining(['main.js', 'worker.js', 'scheduler.js', 'data-source.js', 'bare-worker.js', 'pino-worker.js']),
      );

      // 6. The app's own database, migrated by the TypeORM CLI through dist/data-source.js as the docs say.
      await ensureDatabase(databaseUrl);
      cleanup.push(async () => {
        const admin = new pg.Client({ connectionString: new URL('/postgres', databaseUrl).href });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(database)} WITH (FORCE)`);
        await admin.end();
      });
      const migrate = (await documentedMigrationCommand()).replace(/^(\w+=\S+\s+)+/, '');
      const withoutUrl = await run('bash', ['-c', migrate], app, 60_000, { DATABASE_URL: '' });
      expect(withoutUrl.code, withoutUrl.output).not.toBe(0);
      expect(withoutUrl.output).toContain('Set DATABASE_URL');
      const migrated = await timed('migrate', () => shellLine(migrate, app, 120_000, { DATABASE_URL: databaseUrl }));
      expect(migrated).toContain('CronSchedulesAndFencing1796100000000');
      db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      cleanup.push(() => db.end());
    }, 540_000);

    afterAll(async () => {
      await Promise.all(processes.splice(0).map((proc) => proc.stop()));
      for (const step of cleanup.reverse()) await step().catch((error: unknown) => console.warn(`cleanup: ${String(error)}`));
      console.log(`fresh ${type} app timings (ms): ${JSON.stringify(timings)}`);
    });

    it('migrated through the documented data source: both tables and their migrations are in', async () => {
      const { rows } = await db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((row) => row.name)).toEqual(['CreateCronJobRuns1795800000000', 'CronSchedulesAndFencing1796100000000']);
      const { rows: tables } = await db.query<{ runs: string | null; schedules: string | null }>(
        "SELECT to_regclass('cron_job_runs') AS runs, to_regclass('cron_schedules') AS schedules",
      );
      expect(tables[0]).toEqual({ runs: 'cron_job_runs', schedules: 'cron_schedules' });
    });

    it('api → worker round trip, a cron row from worker + scheduler, the app’s own processor only in the worker; all stop with 0', async () => {
      const prefix = prefixFor('run');
      const env = envFor(prefix);
      const port = await freePort();
      const worker = start('worker', app, 'worker.js', env);
      const ready = await worker.waitForLog(workerReady, 'ready', 90_000);
      expect(ready.msg).toContain('[greet]');
      expect(ready.msg).toContain('freshHeartbeat');
      const scheduler = start('scheduler', app, 'scheduler.js', env);
      await scheduler.waitForLog(schedulerReady, 'ready', 90_000);
      const api = start('api', app, 'main.js', { ...env, PORT: String(port) });
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          if (!api.running) throw new StopWaiting(`api exited:\n${api.tail()}`);
          return (await fetch(`${base}/up`).catch(() => undefined))?.ok;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'the api to answer /up' },
      );

      // enqueue(GreetingTasks, 'greet', payload) in the api, run by the worker, waited for by the api.
      const greeted = await fetch(`${base}/greet`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'fresh app' }),
      });
      expect(greeted.status, await greeted.clone().text()).toBe(201);
      expect(await greeted.json()).toEqual({
        jobId: expect.any(String),
        result: { greeting: 'Hello, fresh app!', attempt: 1, pid: worker.pid },
      });

      // The app's own BullMQ queue: the api adds, only the worker consumes.
      const emails = new Queue('emails', { connection: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }, prefix });
      try {
        const added = await fetch(`${base}/emails`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: 'ada@example.com' }),
        });
        const { jobId } = (await added.json()) as { jobId: string };
        const done = await waitFor(
          async () => {
            const job = await emails.getJob(jobId);
            return job?.finishedOn ? job : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'the emails job to finish' },
        );
        expect(done.returnvalue).toEqual({ sentTo: 'ada@example.com', pid: worker.pid });
        expect(await emails.getWorkersCount()).toBe(1);
      } finally {
        await emails.close();
      }

      const row = await waitFor(
        async () => {
          for (const proc of [worker, scheduler, api]) {
            if (!proc.running) throw new StopWaiting(`${proc.name} exited:\n${proc.tail()}`);
          }
          const { rows } = await db.query<{ status: string; result: unknown; scheduled_at: Date; trigger: string }>(
            `SELECT status, result, scheduled_at, trigger FROM cron_job_runs
              WHERE job_name = 'freshHeartbeat' AND status = 'COMPLETED' ORDER BY id LIMIT 1`,
          );
          return rows[0];
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'a COMPLETED freshHeartbeat row in cron_job_runs' },
      );
      expect(row).toMatchObject({ trigger: 'schedule', result: { tick: row.scheduled_at.toISOString() } });

      // The api is the generated main.ts, which leaves SIGTERM to Node's default: only the library's entries are asserted.
      const [schedulerCode, workerCode] = await Promise.all([scheduler.stop(), worker.stop(), api.stop()]);
      expect(schedulerCode, scheduler.tail()).toBe(0);
      expect(workerCode, worker.tail()).toBe(0);
      expect(worker.lines.some((line) => line.context === 'TaskWorkerHost' && line.msg === 'Worker closed')).toBe(true);
    });

    it('runs crons that are all track: false with no TypeORM package installed, once per tick across two schedulers', async () => {
      const prefix = prefixFor('untracked');
      // No DATABASE_URL either: nothing may reach for Postgres.
      const env = { REDIS_URL, TASKS_PREFIX: prefix, DATABASE_URL: undefined };
      const worker = start('untracked worker', untracked, 'untracked-worker.js', env);
      await worker.waitForLog(workerReady, 'ready', 90_000);
      const schedulers = [1, 2].map((n) => start(`untracked scheduler ${n}`, untracked, 'untracked-scheduler.js', env));
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL);
      try {
        const counts = await waitFor(
          async () => {
            for (const proc of [worker, ...schedulers]) {
              if (!proc.running) throw new StopWaiting(`${proc.name} exited:\n${proc.tail()}`);
            }
            const keys = await redis.keys(`${prefix}:app:ran:*`);
            if (keys.length < 3) return undefined;
            return Promise.all(keys.map(async (key) => Number(await redis.get(key))));
          },
          { timeoutMs: 60_000, intervalMs: 200, what: 'three ticks of untrackedHeartbeat' },
        );
        expect(counts.every((count) => count === 1), `runs per tick: ${counts.join(', ')}`).toBe(true);
      } finally {
        redis.disconnect();
      }
      const codes = await Promise.all([...schedulers, worker].map((proc) => proc.stop()));
      expect(codes, [...schedulers, worker].map((proc) => proc.tail()).join('\n')).toEqual([0, 0, 0]);
      for (const proc of [worker, ...schedulers]) {
        expect(proc.output.join('\n')).not.toMatch(/typeorm|DataSource|postgres/i);
      }
    });

    it('type-checks the typed enqueue: the right payload passes, a wrong one fails on its own line', async () => {
      const tsc = [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.typecheck.json', '--pretty', 'false'];
      const right = await run(process.execPath, tsc, app, 120_000);
      expect(right, right.output).toMatchObject({ code: 0 });

      const source = await readFile(join(TEMPLATE, `${WRONG_PAYLOAD}.tmpl`), 'utf8');
      await writeFile(join(app, WRONG_PAYLOAD), source);
      try {
        const wrong = await run(process.execPath, tsc, app, 120_000);
        expect(wrong.code, wrong.output).not.toBe(0);
        // Each error: "file(line,col): error TSxxxx: message" and its indented continuation lines.
        const errors = wrong.output.split(/\n(?=\S)/).filter((text) => /\): error TS\d+/.test(text));
        const lineOf = (text: string) => Number(/^\S+?\((\d+),\d+\)/.exec(text)?.[1]);
        expect(errors.filter((text) => !text.startsWith(`${WRONG_PAYLOAD}(`)), wrong.output).toEqual([]);
        const expected = source
          .split('\n')
          .map((text, index) => ({ line: index + 1, says: /\/\/ error: (.*)$/.exec(text)?.[1] }))
          .filter((marker): marker is { line: number; says: string } => marker.says !== undefined);
        expect(expected).toHaveLength(4);
        expect(errors.map(lineOf), wrong.output).toEqual(expected.map((marker) => marker.line));
        for (const { line, says } of expected) {
          expect(errors.find((text) => lineOf(text) === line)).toContain(says);
        }
      } finally {
        await rm(join(app, WRONG_PAYLOAD), { force: true });
      }
    });

    it(`runs docs/testing.md's spec files with the scaffold's ${TEST_RUNNERS[type].name}: all pass, and nothing is left open after app.close()`, async () => {
      const runner = TEST_RUNNERS[type];
      const specs = (await documentedAppSpecs()).map((spec) => spec.path);
      expect(specs, 'the `// src/….spec.ts` blocks of docs/testing.md').toEqual(['src/reports/report.tasks.spec.ts', 'src/reports/report.cron.spec.ts']);
      // Jest's require() of an ES module (Nest 12's packages, from a CommonJS spec) needs Node 24.9 or later.
      const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
      if (type === 'cjs' && (major < 24 || (major === 24 && minor < 9))) {
        throw new Error(`Jest loads Nest 12's ES modules from CommonJS specs on Node 24.9 or later, and this suite runs on ${process.version}: run it on Node 24 (scripts/ensure-node.sh)`);
      }
      // npm test as typed in the app's folder, on the Node.js running this suite.
      const npmTest = (args: string[]) =>
        run('npm', ['test', '--', ...args], app, 180_000, { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1' });

      for (const { label, args } of runner.runs) {
        const report = join(app, '..', `${label.replace(/\W+/g, '-')}.json`);
        const ran = await timed(label, () => npmTest(args(report)));
        const output = stripVTControlCharacters(ran.output);
        expect(ran.code, `${label}:\n${output}`).toBe(0);
        const results = await readJson<{ numTotalTests: number; numPassedTests: number; testResults: { name: string }[] }>(report);
        expect({
          total: results.numTotalTests,
          passed: results.numPassedTests,
          files: results.testResults.map((file) => relative(app, file.name)).sort(),
        }, output).toEqual({ total: DOCUMENTED_SPEC_TESTS, passed: DOCUMENTED_SPEC_TESTS, files: [...specs].sort() });
        for (const other of runner.runs) expect(output, label).not.toMatch(other.leak);
      }

      // The control: the same runs report a timer a spec leaves running, so their silence above is a finding.
      const control = join(app, 'control');
      await mkdir(control);
      await writeFile(join(control, 'leak.spec.ts'), LEAKING_SPEC);
      try {
        await timed('leak controls', () =>
          Promise.all(
            runner.runs.map(async ({ label, args, leak }) => {
              const ran = await npmTest([...args(join(control, `${label.replace(/\W+/g, '-')}.json`)), 'control/']);
              const output = stripVTControlCharacters(ran.output);
              expect(ran.code, `${label} control/:\n${output}`).toBe(0);
              expect(output, `${label} control/`).toMatch(leak);
            }),
          ),
        );
      } finally {
        await rm(control, { recursive: true, force: true });
      }
    });

    // With the package's folder moved out of node_modules, a worker with a tracked cron fails its boot naming it.
    // bare-worker imports neither nestjs-pino nor TypeORM: a missing package is named before a missing module.
    it.each([
      ['nestjs-pino', 'Running tasks and cron jobs', 'npm install nestjs-pino pino pino-http'],
      ['typeorm', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
      ['@nestjs/typeorm', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
      ['pg', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
    ])('without %s installed, bare-worker.js exits non-zero with the message naming it', async (pkg, feature, install) => {
      const installedAt = join(app, 'node_modules', pkg);
      const aside = join(app, '..', 'aside', pkg.replace('/', '__'));
      await mkdir(dirname(aside), { recursive: true });
      await rename(installedAt, aside);
      try {
        const worker = start(`bare-worker without ${pkg}`, app, 'bare-worker.js', envFor(prefixFor('peer')));
        const code = await exitCodeOf(worker);
        const output = worker.output.join('\n');
        expect(code, output).not.toBe(0);
        expect(output).toContain(`TasksConfigurationError: ${feature}`);
        expect(output).toContain(`needs the package "${pkg}", which is not installed. Install it with \`${install}\``);
        expect(output).not.toContain('ERR_MODULE_NOT_FOUND');
        // Thrown by the installed package's build for this module system, not by this repository's copy.
        expect(output).toContain(`${app}/node_modules/nestjs-tasks/dist/${build}/peers/optional-peers.js`);
        expect(worker.lines.some((line) => line.context === 'TaskWorkerHost')).toBe(false);
      } finally {
        await rename(aside, installedAt);
      }
    });

    it('with every package installed, says to import LoggerModule, then a TypeORM DataSource, when the worker lacks it', async () => {
      const bare = start('bare-worker', app, 'bare-worker.js', envFor(prefixFor('no-logger')));
      const noDataSource = start('pino-worker', app, 'pino-worker.js', envFor(prefixFor('no-datasource')));
      const [bareCode, noDataSourceCode] = await Promise.all([exitCodeOf(bare), exitCodeOf(noDataSource)]);

      expect(bareCode, bare.tail()).not.toBe(0);
      expect(bare.output.join('\n')).toContain(`TasksConfigurationError: ${LOGGER_MODULE_MISSING}`);
      expect(noDataSourceCode, noDataSource.tail()).not.toBe(0);
      expect(noDataSource.output.join('\n')).toContain(`TasksConfigurationError: ${CRON_DATABASE_MISSING}`);
      for (const proc of [bare, noDataSource]) {
        expect(proc.output.join('\n')).not.toContain('needs the package');
        expect(proc.lines.some((line) => line.context === 'TaskWorkerHost')).toBe(false);
      }
    });
  });
}
