import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { EnqueueManyItem } from 'nestjs-tasks';
import { TASKS_QUEUE, bullmqConnection, parseRedisUrl, unlinkMatching } from '#nestjs-tasks-internal';
import { NAMES } from '../shared/protocol.js';
import { plainSettings } from '../shared/plain-policy.js';
import type { BenchContext } from '../orchestrator/context.js';
import type { RoleProcess } from '../orchestrator/children.js';
import { inSummary, row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';

const CONCURRENCY = 10;
const BATCH = 1_000;
/** The library's own commands per job above which it has a round trip of its own (one per job would add 1). */
const OWN_COMMANDS_LIMIT = 0.05;

/** A Redis the scenario is the only client of, or the run's own when no redis-server can be started. */
interface CountingRedis {
  url: string;
  /** Whether it is a redis-server of the scenario's own (no other client adds to its counts). */
  own: boolean;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Starts a redis-server of its own on a free loopback port (Redis defaults, no
 * persistence): INFO commandstats counts every client's commands, and other
 * work on the machine's shared Redis would add to them. Falls back to the run's
 * Redis, with a warning, where redis-server is not installed.
 */
async function countingRedis(ctx: BenchContext): Promise<CountingRedis> {
  const port = await freePort();
  const fd = openSync(ctx.logFile('redis-server'), 'a');
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', ctx.logDir], {
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const exited = once(child, 'exit');
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if ((spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      process.off('exit', kill);
      progress(`commands: no redis-server on PATH; counting on ${ctx.redisUrl}, where other clients' commands add to the counts`);
      return { url: ctx.redisUrl, own: false, stop: async () => {} };
    }
    if (spawnError || child.exitCode !== null) throw new Error(`redis-server on port ${port} did not start (${spawnError?.message ?? `exit ${child.exitCode}`}); see ${ctx.logDir}`);
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    // Refused until the server listens: the loop retries.
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return { url: `redis://127.0.0.1:${port}`, own: true, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server on port ${port} not answering after 10 s; see ${ctx.logDir}`);
      }
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
}

/** Calls of every command so far (INFO commandstats), by name. */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const stats = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) stats.set(match[1] as string, Number(match[2]));
  }
  return stats;
}

/** The orchestrator's own commands in the window (the snapshots and the MONITOR markers), left out of the counts. */
const ORCHESTRATOR_COMMANDS = new Set(['info', 'echo']);

function delta(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [name, calls] of after) {
    const added = calls - (before.get(name) ?? 0);
    if (added > 0 && !ORCHESTRATOR_COMMANDS.has(name)) result.set(name, added);
  }
  return result;
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);

/** The `addr` CLIENT LIST shows for this connection, as MONITOR names its commands' source. */
async function clientAddress(redis: Redis): Promise<string> {
  const info = String(await redis.call('CLIENT', 'INFO'));
  const addr = /\baddr=(\S+)/.exec(info)?.[1];
  if (!addr) throw new Error(`CLIENT INFO gave no addr: ${info}`);
  return addr;
}

interface Counted {
  /** Commands executed, scripts' inner commands included (INFO commandstats), by name. */
  executed: Map<string, number>;
  /** Commands the worker processes sent (MONITOR, without scripts' inner commands), by name. */
  sent: Map<string, number>;
  /** Redis CPU time per job, µs. */
  redisCpuUs: number;
}

/**
 * One side: a worker process at concurrency 10 drains `jobs` no-op jobs from
 * its paused, pre-filled queue. Counted from just before the queue is resumed
 * until every handler has run (the children count them, so the orchestrator
 * polls no Redis meanwhile) and the last jobs are finished.
 */
async function count(ctx: BenchContext, redisUrl: string, side: 'lib' | 'plain', jobs: number): Promise<Counted> {
  const prefix = ctx.prefix(`commands-${side}`);
  const stats = new Redis(parseRedisUrl(redisUrl));
  const queueConnection = new Redis({ ...(bullmqConnection(redisUrl, 'command') as object), maxRetriesPerRequest: null });
  const queue = new Queue(TASKS_QUEUE, { connection: queueConnection, prefix });
  const monitorClient = new Redis(parseRedisUrl(redisUrl));
  let worker: RoleProcess | undefined;
  try {
    await queue.pause();
    const env = { REDIS_URL: redisUrl, TASKS_PREFIX: prefix, WORKER_CONCURRENCY: String(CONCURRENCY), BENCH_PLAIN_POLICY: 'library' };
    const starting = ctx.startRole(side === 'lib' ? 'lib-worker' : 'plain-worker', env, `commands-${side}-worker`);
    if (side === 'lib') {
      const { app, client } = await ctx.clientApp(prefix, redisUrl);
      for (let from = 0; from < jobs; from += BATCH) {
        await client.enqueueMany(Array.from({ length: BATCH }, (_, i): EnqueueManyItem => ({ name: NAMES.noop, payload: { n: from + i } })));
      }
      await app.close();
    } else {
      const opts = plainSettings('library').job;
      for (let from = 0; from < jobs; from += BATCH) {
        await queue.addBulk(Array.from({ length: BATCH }, (_, i) => ({ name: NAMES.noop, data: { n: from + i }, opts })));
      }
    }
    worker = await starting;
    // Past the worker's boot: what it sends while idle on a paused queue is not per job.
    await sleep(1_000);
    const orchestrator = new Set([await clientAddress(stats), await clientAddress(queueConnection)]);
    const marker = `bench-commands-${ctx.runId}-${side}`;
    const sent = new Map<string, number>();
    let counting = false;
    let windowClosed!: () => void;
    const closed = new Promise<void>((resolve) => (windowClosed = resolve));
    const monitor = await monitorClient.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const name = (args[0] ?? '').toLowerCase();
      if (name === 'echo' && args[1] === `${marker}-start`) counting = true;
      else if (name === 'echo' && args[1] === `${marker}-end`) {
        counting = false;
        windowClosed();
      } else if (counting && source !== 'lua' && !orchestrator.has(source)) sent.set(name, (sent.get(name) ?? 0) + 1);
    });
    await stats.echo(`${marker}-start`);
    const before = await commandStats(stats);
    const cpuBefore = await redisCpuMs(stats);
    await queue.resume();
    while ((await worker.report()).noops < jobs) await sleep(100);
    // The handlers have run; their jobs' completion follows within milliseconds.
    await sleep(500);
    const after = await commandStats(stats);
    const cpuAfter = await redisCpuMs(stats);
    await stats.echo(`${marker}-end`);
    await closed;
    monitor.disconnect();
    // Completed jobs are trimmed to the retention, so what is checked is that none is left or failed.
    const counts = await queue.getJobCounts('failed', 'active', 'wait', 'delayed', 'prioritized');
    if (Object.values(counts).some((n) => n > 0)) throw new Error(`commands ${side}: jobs left unfinished or failed when counted: ${JSON.stringify(counts)}`);
    return { executed: delta(after, before), sent, redisCpuUs: ((cpuAfter - cpuBefore) * 1_000) / jobs };
  } finally {
    await worker?.stop();
    await queue.close();
    queueConnection.disconnect();
    monitorClient.disconnect();
    await unlinkMatching(stats, `${prefix}:*`);
    stats.disconnect();
  }
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

/**
 * Scenario "commands": Redis commands per job of the library's worker and of
 * plain BullMQ set up the same way (its retries and retention), one worker
 * process at concurrency 10 draining 10,000 no-op jobs each, on a redis-server
 * of the scenario's own: executed commands by name (INFO commandstats, the
 * scripts' inner commands included) and the commands the worker process sent
 * (MONITOR). The library should send none of its own per job.
 */
export async function commandsScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const jobs = ctx.settings.quick ? 1_000 : 10_000;
  const redis = await countingRedis(ctx);
  let lib: Counted;
  let plain: Counted;
  try {
    plain = await count(ctx, redis.url, 'plain', jobs);
    lib = await count(ctx, redis.url, 'lib', jobs);
  } finally {
    await redis.stop();
  }
  const perJob = (n: number | undefined) => (n ?? 0) / jobs;
  const scenario = '6 commands';
  const where = redis.own ? 'a redis-server of its own' : 'the shared Redis (other clients add noise)';
  const section = `Redis commands per job (${jobs} jobs, 1 worker process at concurrency ${CONCURRENCY}, ${where})`;
  progress(
    `commands per job: sent ${perJob(total(lib.sent)).toFixed(3)} (library) vs ${perJob(total(plain.sent)).toFixed(3)} (plain), ` +
      `executed ${perJob(total(lib.executed)).toFixed(3)} vs ${perJob(total(plain.executed)).toFixed(3)}`,
  );
  const ownSent = perJob(total(lib.sent)) - perJob(total(plain.sent));
  const rows: MetricRow[] = [
    inSummary(
      row({ scenario, metric: `commands sent per job by the worker process (MONITOR, ${jobs} jobs)`, unit: 'cmds', better: 'lower' }, [perJob(total(lib.sent))], [
        perJob(total(plain.sent)),
      ]),
      { section, row: 'sent by the worker (round trips)', column: 'library', show: 'library' },
      { section, row: 'sent by the worker (round trips)', column: 'plain BullMQ', show: 'baseline' },
    ),
    inSummary(
      withTarget(
        row({ scenario, metric: `  library's own commands sent per job (library − plain)`, unit: 'cmds', better: 'lower' }, [ownSent]),
        `< ${OWN_COMMANDS_LIMIT}`,
        (m) => m.library.median < OWN_COMMANDS_LIMIT,
      ),
      { section, row: 'sent by the worker (round trips)', column: `library − plain (target < ${OWN_COMMANDS_LIMIT})`, show: 'library', target: true },
    ),
  ];
  const sentNames = [...new Set([...lib.sent.keys(), ...plain.sent.keys()])].sort();
  for (const name of sentNames) {
    rows.push(row({ scenario, metric: `  sent: ${name}`, unit: 'cmds', better: 'lower' }, [perJob(lib.sent.get(name))], [perJob(plain.sent.get(name))]));
  }
  rows.push(
    inSummary(
      row({ scenario, metric: `commands executed per job, scripts' inner commands included (INFO commandstats)`, unit: 'cmds', better: 'lower' }, [
        perJob(total(lib.executed)),
      ], [perJob(total(plain.executed))]),
      { section, row: "executed (scripts' inner commands included)", column: 'library', show: 'library' },
      { section, row: "executed (scripts' inner commands included)", column: 'plain BullMQ', show: 'baseline' },
    ),
    inSummary(
      withTarget(
        row({ scenario, metric: `  library − plain, commands executed per job`, unit: 'cmds', better: 'lower' }, [
          perJob(total(lib.executed)) - perJob(total(plain.executed)),
        ]),
        `< ${OWN_COMMANDS_LIMIT}`,
        (m) => m.library.median < OWN_COMMANDS_LIMIT,
      ),
      { section, row: "executed (scripts' inner commands included)", column: `library − plain (target < ${OWN_COMMANDS_LIMIT})`, show: 'library', target: true },
    ),
  );
  const executedNames = [...new Set([...lib.executed.keys(), ...plain.executed.keys()])].sort();
  for (const name of executedNames) {
    rows.push(row({ scenario, metric: `  executed: ${name}`, unit: 'cmds', better: 'lower' }, [perJob(lib.executed.get(name))], [perJob(plain.executed.get(name))]));
  }
  rows.push(row({ scenario, metric: '  Redis CPU per job (while counted: MONITOR slows Redis)', unit: 'µs', better: 'lower' }, [lib.redisCpuUs], [plain.redisCpuUs]));
  return rows;
}
