import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CronRegistry } from 'nestjs-tasks';
import { CRON_QUEUE, bullmqConnection } from '#nestjs-tasks-internal';
import { AppProcess, ROOT, workerReady, type LogLine } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { iso, schedulerReady } from '../support/cron.js';
import { waitFor } from '../support/wait-for.js';
import { freePort } from '../support/ports.js';
import { createTasksApp } from '../support/in-process.js';
import {
  UNTRACKED_TICK,
  UntrackedCronsModule,
  contextsKey,
  tickCountsKey,
  type UntrackedRunRecord,
} from '../fixtures/untracked-cron-fixture/untracked-crons.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

/** The fixture app (test/fixtures/untracked-cron-fixture), built by test/global-setup.ts. */
const ENTRY = resolve(ROOT, 'dist/test/fixtures/untracked-cron-fixture/main.js');
/** Makes typeorm, @nestjs/typeorm and pg unresolvable in a process started with it, and reports every attempt. */
const HIDE_DATABASE_PEERS = pathToFileURL(resolve(ROOT, 'test/fixtures/untracked-cron-fixture/hide-database-peers.mjs')).href;
const HIDDEN_PEER_REQUESTED = 'hidden database peer requested';
const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${HIDE_DATABASE_PEERS}`.trim();

const skippedLine = (line: LogLine) =>
  line.context === 'CronRunPipeline' && line.msg === `Cron job ${UNTRACKED_TICK} skipped: an earlier run still holds the lock`;

/** `GET /health/ready` of a process's health port: the status code and each check's status. */
async function readiness(port: number): Promise<{ code: number; checks: Record<string, string> }> {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
  const body = (await response.json()) as { details: Record<string, { status: string }> };
  return { code: response.status, checks: Object.fromEntries(Object.entries(body.details).map(([name, check]) => [name, check.status])) };
}

/** A TCP listener standing in for Postgres: a process that tried to reach the database would connect here. */
async function listenForDatabase(): Promise<{ url: string; connections: Socket[]; server: Server }> {
  const connections: Socket[] = [];
  const server = createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as { port: number };
  return { url: `postgres://postgres@127.0.0.1:${port}/never_used`, connections, server };
}

describe('crons with track: false, in an app without TypeORM', PROCESS_TIMEOUT, () => {
  let prefix = '';
  let processes: AppProcess[] = [];
  let redis: Redis;
  let queue: Queue | undefined;
  let registryApp: TestingModule | undefined;
  let database: Awaited<ReturnType<typeof listenForDatabase>>;

  beforeEach(async ({ onTestFailed }) => {
    prefix = uniquePrefix('untracked');
    processes = [];
    redis = new Redis(REDIS_URL);
    database = await listenForDatabase();
    onTestFailed(() => {
      console.error(processes.map((app) => `--- ${app.name} (pid ${app.pid}) ---\n${app.tail(30)}`).join('\n'));
    });
  });

  afterEach(async () => {
    await Promise.all(processes.map((app) => app.stop()));
    await queue?.close();
    queue = undefined;
    await registryApp?.close();
    registryApp = undefined;
    redis.disconnect();
    await new Promise((closed) => database.server.close(closed));
    await deletePrefix(prefix);
  });

  /** Starts the fixture app with the database packages hidden, and waits until it is ready. */
  const start = async (role: 'worker' | 'scheduler', name: string, env: Record<string, string> = {}): Promise<AppProcess> => {
    const app = new AppProcess(name, ENTRY, {
      ...env,
      CRON_ROLE: role,
      REDIS_URL,
      TASKS_PREFIX: prefix,
      TASKS_SHUTDOWN_GRACE_MS: '1000',
      DATABASE_URL: database.url,
      NODE_OPTIONS: nodeOptions,
    });
    processes.push(app);
    await app.waitForLog(role === 'worker' ? workerReady : schedulerReady, 'ready', 60_000);
    return app;
  };

  const tickCounts = async (): Promise<Map<number, number>> =>
    new Map(Object.entries(await redis.hgetall(tickCountsKey(prefix))).map(([tick, count]) => [Number(tick), Number(count)]));

  /** Waits until `more` ticks beyond those counted now have run. */
  const moreTicks = async (more: number, what: string): Promise<void> => {
    const before = (await tickCounts()).size;
    await waitFor(async () => (await tickCounts()).size >= before + more, { timeoutMs: 60_000, what });
  };

  it('the package loads, by import and by require, without asking for typeorm, @nestjs/typeorm or pg', async () => {
    const script = [
      "const esm = await import('nestjs-tasks');",
      "const { createRequire } = await import('node:module');",
      "const cjs = createRequire(process.cwd() + '/package.json')('nestjs-tasks');",
      'console.log(JSON.stringify([typeof esm.TasksModule, typeof esm.CronRegistry, typeof cjs.TasksModule]));',
    ].join('\n');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
    });
    expect(stderr).not.toContain(HIDDEN_PEER_REQUESTED);
    expect(JSON.parse(stdout) as string[]).toEqual(['function', 'function', 'function']);
  });

  it(
    'two workers and two schedulers run an every-second cron once per tick; a held lock skips ticks, a pause kept in Redis holds',
    async () => {
      const [workerPort, schedulerPort] = await Promise.all([freePort(), freePort()]);
      const workers = await Promise.all([start('worker', 'worker-1', { TASKS_HEALTH_PORT: String(workerPort) }), start('worker', 'worker-2')]);
      const schedulers = await Promise.all([
        start('scheduler', 'scheduler-1', { TASKS_HEALTH_PORT: String(schedulerPort) }),
        start('scheduler', 'scheduler-2'),
      ]);
      await moreTicks(6, '6 ticks run');
      // Ready without a database: its check is not part of readiness.
      expect(await readiness(workerPort)).toEqual({ code: 200, checks: { redis: 'up', worker: 'up' } });
      expect(await readiness(schedulerPort)).toEqual({ code: 200, checks: { redis: 'up', scheduler: 'up' } });

      // Another holder of the job's lock: the ticks meanwhile find it taken.
      const lockKey = `${prefix}:cron-lock:${UNTRACKED_TICK}`;
      await redis.set(lockKey, 'held-by-the-test', 'PX', 60_000);
      const skipped = () => workers.flatMap((worker) => worker.lines.filter(skippedLine));
      await waitFor(() => skipped().length >= 2, { timeoutMs: 30_000, what: 'two ticks skipped for the held lock' });
      await redis.del(lockKey);
      await moreTicks(3, '3 more ticks run after the lock was freed');

      // An app with the same crons (and no DataSource) pauses the cron: its schedule is in Redis.
      registryApp = await createTasksApp({ tasks: { prefix }, imports: [UntrackedCronsModule] });
      const registry = registryApp.get(CronRegistry);
      const pausedAt = (await registry.pause(UNTRACKED_TICK, { reason: 'test' })).paused?.since?.getTime() as number;
      // The schedulers still note each tick they pass over: wait for three of them.
      await waitFor(async () => ((await registry.get(UNTRACKED_TICK))?.lastTick?.getTime() ?? 0) >= pausedAt + 3_000, {
        timeoutMs: 30_000,
        what: 'three ticks passed over while paused',
      });
      expect([...(await tickCounts()).keys()].filter((tick) => tick > pausedAt).map(iso)).toEqual([]);
      const resumedAt = Date.now();
      await registry.resume(UNTRACKED_TICK);
      await moreTicks(3, '3 more ticks run after the resume');

      // Stop firing, then let the workers finish every tick already enqueued.
      await Promise.all(schedulers.map((app) => app.stop()));
      queue = new Queue(CRON_QUEUE, { connection: bullmqConnection(REDIS_URL, 'command'), prefix });
      const cronQueue = queue;
      await waitFor(
        async () => Object.values(await cronQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((count) => count === 0),
        { timeoutMs: 20_000, what: 'the cron queue to be idle' },
      );

      const counts = await tickCounts();
      const skippedTicks = skipped().map((line) => Date.parse(line.scheduledAt as string));
      const ran = [...counts.keys()].sort((a, b) => a - b);
      // Every tick ran once or was skipped, never both, never twice, and none was lost but those of the pause.
      expect([...counts].filter(([, count]) => count !== 1).map(([tick]) => iso(tick))).toEqual([]);
      expect(skippedTicks.filter((tick) => counts.has(tick)).map(iso)).toEqual([]);
      const accounted = new Set([...ran, ...skippedTicks]);
      const paused = (tick: number) => tick >= pausedAt - 1_000 && tick <= resumedAt + 1_000;
      const missing: number[] = [];
      for (let tick = ran[0]; tick <= ran[ran.length - 1]; tick += 1_000) if (!accounted.has(tick) && !paused(tick)) missing.push(tick);
      expect(missing.map(iso)).toEqual([]);
      expect(ran.length).toBeGreaterThanOrEqual(12);
      // Without rows, the latest run is what Redis keeps of it.
      expect((await registry.get(UNTRACKED_TICK))?.lastRun).toEqual({
        id: 0,
        status: 'COMPLETED',
        scheduledAt: new Date(ran[ran.length - 1]),
        completedAt: expect.any(Date),
      });

      // No row, so no run id and no fencing token from the database sequence.
      const contexts = (await redis.lrange(contextsKey(prefix), 0, -1)).map((line) => JSON.parse(line) as UntrackedRunRecord);
      expect(contexts.filter((run) => run.runId !== 0 || run.fencingToken !== 0 || run.trigger !== 'schedule')).toEqual([]);

      // Nothing asked for the database packages, and nothing connected to the database.
      expect(processes.filter((app) => app.output.some((line) => line.includes(HIDDEN_PEER_REQUESTED))).map((app) => app.name)).toEqual([]);
      expect(database.connections).toHaveLength(0);
      expect(processes.flatMap((app) => app.lines.filter((line) => line.level >= 50))).toEqual([]);
    },
  );
});
