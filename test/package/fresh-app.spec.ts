import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TEST_DATABASE_URL, dropSchema } from '../support/database.js';
import { AppProcess, ROOT, workerReady, type LogLine } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { StopWaiting, waitFor } from '../support/wait-for.js';

// A Nest team's view of the library: `npm pack` it, generate an app with the
// Nest CLI outside this repository, `npm install` the tarball and its peers
// (no overrides, no --force), write a task, a cron, a worker, a scheduler and
// a producer against the package's public exports, build and run them.

/** The app's sources; `*.tmpl` so that this repository's tsc and oxlint leave them alone. */
const TEMPLATE = resolve(import.meta.dirname, 'fresh-app');
const WRONG_PAYLOAD = 'typecheck/wrong-payload.ts';
const NEST_CLI = resolve(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');

/**
 * What the app installs besides what `nest new` put in its package.json: the
 * package README's install line with cron run tracking, in the majors the
 * library's peer ranges allow.
 */
const INSTALL = [
  '@nestjs/bullmq@^12',
  'bullmq@^6',
  // typeorm 1.1 declares an optional peer ioredis ^5.0.4: with ioredis 6 the install would fail with ERESOLVE.
  'ioredis@^5',
  'typeorm@^1',
  '@nestjs/typeorm@^12',
  'pg@^8',
  'nestjs-pino@^5',
  'pino@^10',
  'pino-http@^11',
];

const schedulerReady = (line: LogLine) =>
  line.context === 'CronScheduler' && typeof line.msg === 'string' && line.msg.startsWith('Scheduling');

// The library's messages (libs/tasks/src/tasks.messages.ts), as an app sees them.
const LOGGER_MODULE_MISSING =
  "Running tasks needs nestjs-pino's LoggerModule, which gives every log line of a run its task, jobId and attempt: " +
  "import LoggerModule.forRoot() from 'nestjs-pino' in the worker's root module.";
const CRON_DATABASE_MISSING =
  'Cron jobs need a TypeORM DataSource for run tracking: import TypeOrmModule.forRoot({ ..., ' +
  "entities: [...TASKS_ENTITIES], migrations: [...TASKS_MIGRATIONS] }) (both from 'nestjs-tasks/typeorm') " +
  "in the root module of the worker and of the scheduler, and run the migrations.";

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
 * sets (npm_config_local_prefix=<this repo> among them), which would point npm at this repository.
 */
function shellEnv(): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD'),
  );
}

/** Runs a command to its end (killed after `timeoutMs`), with stdout and stderr together. */
function run(command: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd, env: shellEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
async function mustRun(command: string, args: string[], cwd: string, timeoutMs?: number): Promise<string> {
  const { code, output } = await run(command, args, cwd, timeoutMs);
  if (code !== 0) throw new Error(`\`${command} ${args.join(' ')}\` in ${cwd} exited ${code}:\n${output}`);
  return output;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

async function readJson<T = any>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

describe('nestjs-tasks packed and installed into a freshly generated Nest app', { timeout: 600_000 }, () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  const processes: AppProcess[] = [];
  const schema = `test_fresh_app_${randomBytes(4).toString('hex')}`;
  let app = '';
  let tarball = '';
  let db: pg.Client;

  /** A TASKS_PREFIX of its own for one process group, deleted at the end. */
  function prefixFor(label: string): string {
    const prefix = uniquePrefix(`fresh-app-${label}`);
    cleanup.push(() => deletePrefix(prefix));
    return prefix;
  }

  function envFor(prefix: string): Record<string, string> {
    return { REDIS_URL, TASKS_PREFIX: prefix, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema };
  }

  function start(name: string, entry: string, env: Record<string, string>): AppProcess {
    const proc = new AppProcess(name, join(app, 'dist', entry), env);
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
    const root = await mkdtemp(join(tmpdir(), 'nestjs-tasks-fresh-app-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));

    // 1. The tarball, as `npm publish` would upload it (its prepack script builds dist/).
    await mustRun('npm', ['pack', '--workspace', 'nestjs-tasks', '--pack-destination', root], ROOT);
    const packed = (await readdir(root)).filter((name) => name.endsWith('.tgz'));
    expect(packed).toEqual(['nestjs-tasks-0.1.0.tgz']);
    tarball = join(root, packed[0]);
    const listing = (await mustRun('tar', ['-tzf', tarball], root)).split('\n').filter(Boolean);
    expect(listing).toEqual(
      expect.arrayContaining([
        'package/package.json',
        'package/dist/index.js',
        'package/dist/index.d.ts',
        'package/dist/typeorm.js',
        'package/dist/typeorm.d.ts',
        'package/dist/testing.js',
        'package/dist/testing.d.ts',
      ]),
    );
    const besidesDist = new Set(['package/package.json', 'package/README.md', 'package/LICENSE']);
    expect(listing.filter((path) => !path.startsWith('package/dist/') && !besidesDist.has(path))).toEqual([]);
    expect(listing.filter((path) => /\.spec\.|tsbuildinfo/.test(path))).toEqual([]);

    // 2. A fresh app from the repository's own Nest CLI.
    await mustRun(
      process.execPath,
      [NEST_CLI, 'new', 'fresh-app', '--skip-install', '--skip-git', '--skip-tests', '--no-observe']
        .concat(['--package-manager', 'npm', '--language', 'ts']),
      root,
      60_000,
    );
    app = join(root, 'fresh-app');
    const manifest = await readJson(join(app, 'package.json'));
    // Nest CLI 12 generates an ESM app (the templates rely on that: top-level await, `.js` specifiers).
    expect(manifest.type).toBe('module');
    expect(Object.keys(manifest.dependencies)).toEqual(
      expect.arrayContaining(['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs']),
    );
    expect(await filesUnder(join(app, 'src'))).toEqual(expect.arrayContaining(['main.ts', 'app.module.ts']));

    // Its test, lint and format tooling go: the install stays small, the build is plain tsc.
    manifest.devDependencies = {
      typescript: manifest.devDependencies.typescript,
      '@types/node': manifest.devDependencies['@types/node'],
    };
    manifest.scripts = { build: 'tsc -p tsconfig.build.json' };
    await writeFile(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    for (const file of await readdir(app)) if (/^vitest\..*\.ts$/.test(file)) await unlink(join(app, file));
    const tsconfig = await readJson(join(app, 'tsconfig.json'));
    tsconfig.compilerOptions.types = ['node'];
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));

    // 3. The tarball and the peers with plain npm install: no overrides, no --force or --legacy-peer-deps.
    await mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...INSTALL], app, 300_000);
    const installed = await readJson(join(app, 'package.json'));
    expect(installed.dependencies['nestjs-tasks']).toMatch(/^file:.*nestjs-tasks-0\.1\.0\.tgz$/);
    expect(installed.overrides).toBeUndefined();
    expect((await lstat(join(app, 'node_modules/nestjs-tasks'))).isSymbolicLink()).toBe(false);
    // No missing or invalid peer anywhere in the tree.
    await mustRun('npm', ['ls', '--all'], app, 60_000);
    // The package's exports, resolved from the app: its own node_modules, and no deep imports.
    const resolved = await mustRun(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `for (const id of ['nestjs-tasks', 'nestjs-tasks/typeorm', 'nestjs-tasks/testing', 'nestjs-tasks/dist/index.js']) {
           try { console.log(id, import.meta.resolve(id)); } catch (error) { console.log(id, error.code); }
         }`,
      ],
      app,
    );
    const appModules = new URL(`file://${app}/node_modules/nestjs-tasks/dist/`).href;
    expect(resolved.trim().split('\n')).toEqual([
      `nestjs-tasks ${appModules}index.js`,
      `nestjs-tasks/typeorm ${appModules}typeorm.js`,
      `nestjs-tasks/testing ${appModules}testing.js`,
      'nestjs-tasks/dist/index.js ERR_PACKAGE_PATH_NOT_EXPORTED',
    ]);

    // 4. The app's task, cron and entries, then 5. its build (with the generated main.ts and AppModule).
    for (const file of await filesUnder(TEMPLATE)) {
      if (file === `${WRONG_PAYLOAD}.tmpl`) continue;
      const target = join(app, file.replace(/\.tmpl$/, ''));
      await mkdir(dirname(target), { recursive: true });
      await cp(join(TEMPLATE, file), target);
    }
    await mustRun('npm', ['run', 'build'], app, 120_000);
    expect(await filesUnder(join(app, 'dist'))).toEqual(
      expect.arrayContaining(['main.js', 'worker.js', 'scheduler.js', 'producer.js', 'bare-worker.js', 'pino-worker.js']),
    );

    // The app's own schema: the worker's TypeORM runs the library's migrations into it.
    cleanup.push(() => dropSchema(schema));
    db = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await db.connect();
    cleanup.push(() => db.end());
    await db.query(`CREATE SCHEMA ${db.escapeIdentifier(schema)}`);
  }, 480_000);

  afterAll(async () => {
    await Promise.all(processes.splice(0).map((proc) => proc.stop()));
    for (const step of cleanup.reverse()) await step();
  });

  it('round-trips the producer’s task and records the every-second cron; worker and scheduler stop with 0', async () => {
    const env = envFor(prefixFor('run'));
    // The worker applies the migrations (migrationsRun); the scheduler, which needs
    // cron_schedules, starts once they are in.
    const worker = start('worker', 'worker.js', env);
    const ready = await worker.waitForLog(workerReady, 'ready', 90_000);
    const scheduler = start('scheduler', 'scheduler.js', env);
    await scheduler.waitForLog(schedulerReady, 'ready', 90_000);
    expect(ready.msg).toContain('[greet]');
    expect(ready.msg).toContain('freshHeartbeat');
    expect(ready.msg).toContain(`under prefix "${env.TASKS_PREFIX}"`);
    // migrationsRun applied the library's migration into the app's schema.
    const { rows: migrations } = await db.query<{ name: string }>('SELECT name FROM migrations');
    expect(migrations.map((row) => row.name)).toEqual(expect.arrayContaining(['CreateCronJobRuns1795800000000', 'CronSchedulesAndFencing1796100000000']));

    // enqueue(GreetingTasks, 'greet', payload) in another process, then waitResult.
    const producer = start('producer', 'producer.js', { ...env, GREET_NAME: 'fresh app' });
    const produced = await producer.waitForLog((line) => line.msg === 'producer result', 'its result', 60_000);
    expect(produced).toMatchObject({
      jobId: expect.any(String),
      result: { greeting: 'Hello, fresh app!', attempt: 1 },
    });
    expect(await exitCodeOf(producer), producer.tail()).toBe(0);
    // The worker logs through bufferedLogDestination(): the run's lines arrive, with its fields.
    const completed = await worker.waitForLog((line) => line.event === 'task.completed', 'its task.completed line', 10_000);
    expect(completed).toMatchObject({ task: 'greet', jobId: produced.jobId, attempt: 1, context: 'Tasks' });

    const run = await waitFor(
      async () => {
        for (const proc of [worker, scheduler]) {
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
    expect(run).toMatchObject({ trigger: 'schedule', result: { tick: run.scheduled_at.toISOString() } });

    const [schedulerCode, workerCode] = await Promise.all([scheduler.stop(), worker.stop()]);
    expect(schedulerCode, scheduler.tail()).toBe(0);
    expect(workerCode, worker.tail()).toBe(0);
    expect(worker.lines.some((line) => line.context === 'TaskWorker' && line.msg === 'Worker closed')).toBe(true);
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

  // With the package's folder moved out of node_modules, a worker with a cron fails its boot naming it.
  // bare-worker imports neither nestjs-pino nor TypeORM: a missing package is named before a missing module.
  it.each([
    ['nestjs-pino', 'bare-worker.js', 'Running tasks and cron jobs', 'npm install nestjs-pino pino pino-http'],
    ['typeorm', 'bare-worker.js', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
    ['@nestjs/typeorm', 'bare-worker.js', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
    ['pg', 'bare-worker.js', 'Cron run tracking', 'npm install typeorm @nestjs/typeorm pg'],
  ])('without %s installed, %s exits non-zero with the message naming it', async (pkg, entry, feature, install) => {
    const installedAt = join(app, 'node_modules', pkg);
    const aside = join(app, '..', 'aside', pkg.replace('/', '__'));
    await mkdir(dirname(aside), { recursive: true });
    await rename(installedAt, aside);
    try {
      const worker = start(`${entry} without ${pkg}`, entry, envFor(prefixFor('peer')));
      const code = await exitCodeOf(worker);
      const output = worker.output.join('\n');
      expect(code, output).not.toBe(0);
      expect(output).toContain(`TasksConfigurationError: ${feature}`);
      expect(output).toContain(`needs the package "${pkg}", which is not installed. Install it with \`${install}\``);
      expect(output).not.toContain('ERR_MODULE_NOT_FOUND');
      // Thrown by the installed package, not by this repository's copy.
      expect(output).toContain(`${app}/node_modules/nestjs-tasks/dist/peers/optional-peers.js`);
      expect(worker.lines.some((line) => line.context === 'TaskWorker')).toBe(false);
    } finally {
      await rename(aside, installedAt);
    }
  });

  it('with every package installed, says to import LoggerModule, then a TypeORM DataSource, when the worker lacks it', async () => {
    const bare = start('bare-worker', 'bare-worker.js', envFor(prefixFor('no-logger')));
    const noDataSource = start('pino-worker', 'pino-worker.js', envFor(prefixFor('no-datasource')));
    const [bareCode, noDataSourceCode] = await Promise.all([exitCodeOf(bare), exitCodeOf(noDataSource)]);

    expect(bareCode, bare.tail()).not.toBe(0);
    expect(bare.output.join('\n')).toContain(`TasksConfigurationError: ${LOGGER_MODULE_MISSING}`);
    expect(noDataSourceCode, noDataSource.tail()).not.toBe(0);
    expect(noDataSource.output.join('\n')).toContain(`TasksConfigurationError: ${CRON_DATABASE_MISSING}`);
    for (const proc of [bare, noDataSource]) {
      expect(proc.output.join('\n')).not.toContain('needs the package');
      expect(proc.lines.some((line) => line.context === 'TaskWorker')).toBe(false);
    }
  });
});
