import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import { TaskCatalog } from '../task/task.catalog.js';

/** How often a running app says which tasks it has, and after how long without that it no longer counts. */
const REFRESH_MS = 20_000;
const STALE_MS = 60_000;
/**
 * How long one read of the workers stays good: a burst of jobs of a task this
 * worker lacks costs one read, not one each, and a worker that stopped is
 * still noticed within a second.
 */
const READ_TTL_MS = 1_000;

/** Task names by the task queue a worker consumes them from. */
export type ConsumedTasks = Readonly<Record<string, readonly string[]>>;

/**
 * Another running app of the prefix and its tasks by queue: for a worker, the
 * queues it consumes and the tasks it runs from each (`runs`); for an api or a
 * scheduler, the queues its tasks are on.
 */
export interface DeployedApp {
  /** The process (host:pid:random). */
  app: string;
  queues: ConsumedTasks;
  /** A worker consuming these queues, not an app that only has the tasks. */
  runs: boolean;
}

/** Who else has a task on a queue: a worker that runs it, an app that only has it (a worker for it is expected), or nobody. */
export type TaskHolder = 'worker' | 'app' | undefined;

/** A task other running workers have on a queue: one entry per task and queue, however many workers have it. */
export interface LackedTask {
  name: string;
  queue: string;
  /** How many other running workers run it from that queue. */
  workers: number;
}

interface AppEntry {
  seenAt: number;
  queues: ConsumedTasks;
  runs: boolean;
}

/**
 * The fresh entries of the hash of running workers other than `self`'s, and the
 * fields to delete: entries not refreshed for {@link STALE_MS} (a crashed
 * worker) or not in this format.
 */
export function readWorkerEntries(raw: Readonly<Record<string, string>>, self: string, now: number): { workers: DeployedApp[]; stale: string[] } {
  const workers: DeployedApp[] = [];
  const stale: string[] = [];
  for (const [app, value] of Object.entries(raw)) {
    if (app === self) continue;
    const entry = parseEntry(value);
    if (!entry || now - entry.seenAt > STALE_MS) stale.push(app);
    else workers.push({ app, queues: entry.queues, runs: entry.runs });
  }
  return { workers, stale };
}

function parseEntry(value: string): AppEntry | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { seenAt, queues, runs } = entry as Partial<AppEntry>;
  if (typeof seenAt !== 'number' || typeof queues !== 'object' || queues === null || typeof runs !== 'boolean') return undefined;
  for (const tasks of Object.values(queues)) if (!Array.isArray(tasks)) return undefined;
  return { seenAt, queues: queues as ConsumedTasks, runs };
}

/**
 * The tasks other workers run from the queues in `consumed` that this worker
 * does not run from that queue, each once, sorted by queue then name.
 */
export function lackedTasks(others: readonly DeployedApp[], consumed: ConsumedTasks): LackedTask[] {
  const found = new Map<string, LackedTask>();
  for (const worker of others) {
    if (!worker.runs) continue;
    for (const [queue, names] of Object.entries(worker.queues)) {
      const own = consumed[queue];
      if (!own) continue;
      for (const name of names) {
        if (own.includes(name)) continue;
        const key = `${queue}\n${name}`;
        const known = found.get(key);
        if (known) known.workers++;
        else found.set(key, { name, queue, workers: 1 });
      }
    }
  }
  return [...found.values()].sort((a, b) => a.queue.localeCompare(b.queue) || a.name.localeCompare(b.name));
}

/**
 * Which tasks the running apps of this prefix have, and on which queue. Each
 * app with tasks keeps its entry in one Redis hash fresh while it runs and
 * removes it when it stops; a crashed one drops out after a minute. A worker
 * lists the queues it consumes and the tasks it runs from each (`runs`); an
 * api or a scheduler lists the queues its tasks are on. A worker holds back a
 * job it cannot run itself, rather than failing it, while another worker runs
 * its task from that queue (a rolling deploy that removes, renames or moves
 * it) or while another app has it there (a new task whose api is out before
 * its workers); once no running app has it, the job fails.
 */
@Injectable()
export class DeployedTasks implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeployedTasks.name);
  readonly appId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private timer?: NodeJS.Timeout;
  private listed?: { queues: ConsumedTasks; runs: boolean };
  private publishing?: Promise<void>;
  private read?: { at: number; workers: Promise<DeployedApp[]> };

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
    private readonly catalog: TaskCatalog,
  ) {}

  private get key(): string {
    // Beside the library's queues (`tasks.default`), never under a queue an app may name `tasks`; with a
    // second dot, no task queue has its name.
    return `${this.options.prefix}:tasks.apps.running`;
  }

  /** Every app with tasks lists them, by queue, while it runs; a worker lists what it consumes once it starts. */
  async onApplicationBootstrap(): Promise<void> {
    const byQueue = this.catalog.byQueue();
    if (byQueue.size > 0 && !this.listed) await this.list({ queues: Object.fromEntries(byQueue), runs: false });
  }

  /** Lists this worker, with what it consumes, until {@link withdraw}. */
  advertise(consumed: ConsumedTasks): Promise<void> {
    return this.list({ queues: consumed, runs: true });
  }

  private async list(listed: { queues: ConsumedTasks; runs: boolean }): Promise<void> {
    this.listed = listed;
    await this.publish();
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.publish(), REFRESH_MS);
    this.timer.unref();
  }

  /** Takes this app off the list: a worker that takes no more jobs, an app that stops; no job should wait for it. */
  async withdraw(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.listed) return;
    this.listed = undefined;
    // A refresh under way would list this worker again after the removal.
    await this.publishing;
    await this.clients.failFast
      .hdel(this.key, this.appId)
      .catch((error: unknown) => this.logger.warn(`Could not remove this app from ${this.key}: ${this.clients.describe(error)}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.withdraw();
  }

  /** The other running apps with tasks, workers or not (drops stale entries on the way). */
  async others(): Promise<DeployedApp[]> {
    const { workers, stale } = readWorkerEntries(await this.clients.failFast.hgetall(this.key), this.appId, Date.now());
    if (stale.length > 0) await this.clients.failFast.hdel(this.key, ...stale);
    return workers;
  }

  /** Whether another running worker runs task `name` from task queue `queue`, or else another running app has it there. */
  async whoHas(name: string, queue: string): Promise<TaskHolder> {
    let read = this.read;
    if (!read || Date.now() - read.at > READ_TTL_MS) {
      const workers = this.others();
      read = { at: Date.now(), workers };
      this.read = read;
      // A failed read is not kept: the next job reads again.
      workers.catch(() => {
        if (this.read?.workers === workers) this.read = undefined;
      });
    }
    const holders = (await read.workers).filter((app) => app.queues[queue]?.includes(name) ?? false);
    if (holders.some((app) => app.runs)) return 'worker';
    return holders.length > 0 ? 'app' : undefined;
  }

  private publish(): Promise<void> {
    const listed = this.listed;
    if (!listed) return Promise.resolve();
    const publishing = this.write(listed).finally(() => {
      if (this.publishing === publishing) this.publishing = undefined;
    });
    this.publishing = publishing;
    return publishing;
  }

  private async write({ queues, runs }: { queues: ConsumedTasks; runs: boolean }): Promise<void> {
    try {
      await this.clients.failFast.hset(this.key, this.appId, JSON.stringify({ seenAt: Date.now(), queues, runs } satisfies AppEntry));
    } catch (error) {
      // Until a refresh succeeds, workers may fail (rather than hold back) jobs of this app's tasks.
      this.logger.warn(`Could not list this app in ${this.key}: ${this.clients.describe(error)}`);
    }
  }
}
