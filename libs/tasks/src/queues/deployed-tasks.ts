import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';

/** How often a running worker says what it consumes, and after how long without that it no longer counts. */
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

/** Another running worker of the prefix: the queues it consumes and the tasks it runs from each. */
export interface DeployedWorker {
  /** The worker process (host:pid:random). */
  app: string;
  queues: ConsumedTasks;
}

/** A task other running workers have on a queue: one entry per task and queue, however many workers have it. */
export interface LackedTask {
  name: string;
  queue: string;
  /** How many other running workers run it from that queue. */
  workers: number;
}

interface WorkerEntry {
  seenAt: number;
  queues: Record<string, string[]>;
}

/**
 * The fresh entries of the hash of running workers other than `self`'s, and the
 * fields to delete: entries not refreshed for {@link STALE_MS} (a crashed
 * worker) or not in this format.
 */
export function readWorkerEntries(raw: Readonly<Record<string, string>>, self: string, now: number): { workers: DeployedWorker[]; stale: string[] } {
  const workers: DeployedWorker[] = [];
  const stale: string[] = [];
  for (const [app, value] of Object.entries(raw)) {
    if (app === self) continue;
    const entry = parseEntry(value);
    if (!entry || now - entry.seenAt > STALE_MS) stale.push(app);
    else workers.push({ app, queues: entry.queues });
  }
  return { workers, stale };
}

function parseEntry(value: string): WorkerEntry | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { seenAt, queues } = entry as Partial<WorkerEntry>;
  if (typeof seenAt !== 'number' || typeof queues !== 'object' || queues === null) return undefined;
  for (const tasks of Object.values(queues)) if (!Array.isArray(tasks)) return undefined;
  return { seenAt, queues };
}

/**
 * The tasks other workers run from the queues in `consumed` that this worker
 * does not run from that queue, each once, sorted by queue then name.
 */
export function lackedTasks(others: readonly DeployedWorker[], consumed: ConsumedTasks): LackedTask[] {
  const found = new Map<string, LackedTask>();
  for (const worker of others) {
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
 * Which tasks the running workers of this prefix run, from which queue. Each
 * worker keeps its entry in one Redis hash fresh while it consumes and removes
 * it when it stops taking jobs; a crashed one drops out after a minute. Only
 * workers are listed (an api or a scheduler with the same modules runs no
 * task), so "some entry has task T on queue Q" means "some running worker can
 * run a job of T from Q": a worker holds back such a job it cannot run itself
 * rather than failing it (a rolling deploy that removes, renames or moves T).
 */
@Injectable()
export class DeployedTasks implements OnApplicationShutdown {
  private readonly logger = new Logger('DeployedTasks');
  readonly appId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private client?: Redis;
  private timer?: NodeJS.Timeout;
  private consumed?: ConsumedTasks;
  private publishing?: Promise<void>;
  private read?: { at: number; workers: Promise<DeployedWorker[]> };

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {}

  private get key(): string {
    // Beside the library's queues (`tasks.default`), never under a queue an app may name `tasks`; with a
    // second dot, no task queue has its name. Not the former `tasks.deployed`, which listed producers too.
    return `${this.options.prefix}:tasks.workers.running`;
  }

  /** Lists this worker, with what it consumes, until {@link withdraw}. */
  async advertise(consumed: ConsumedTasks): Promise<void> {
    this.consumed = consumed;
    await this.publish();
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.publish(), REFRESH_MS);
    this.timer.unref();
  }

  /** Takes this worker off the list: it takes no more jobs, so no job should wait for it. */
  async withdraw(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.consumed) return;
    this.consumed = undefined;
    // A refresh under way would list this worker again after the removal.
    await this.publishing;
    await this.redis()
      .hdel(this.key, this.appId)
      .catch((error: unknown) => this.logger.warn(`Could not remove this worker from ${this.key}: ${this.connections.describe(error)}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.withdraw();
    this.client?.disconnect();
  }

  /** The other running workers (drops stale entries on the way). */
  async others(): Promise<DeployedWorker[]> {
    const { workers, stale } = readWorkerEntries(await this.redis().hgetall(this.key), this.appId, Date.now());
    if (stale.length > 0) await this.redis().hdel(this.key, ...stale);
    return workers;
  }

  /** Whether another running worker runs task `name` from task queue `queue`. */
  async someWorkerRuns(name: string, queue: string): Promise<boolean> {
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
    const workers = await read.workers;
    return workers.some((worker) => worker.queues[queue]?.includes(name) ?? false);
  }

  private publish(): Promise<void> {
    const consumed = this.consumed;
    if (!consumed) return Promise.resolve();
    const publishing = this.write(consumed).finally(() => {
      if (this.publishing === publishing) this.publishing = undefined;
    });
    this.publishing = publishing;
    return publishing;
  }

  private async write(consumed: ConsumedTasks): Promise<void> {
    try {
      await this.redis().hset(this.key, this.appId, JSON.stringify({ seenAt: Date.now(), queues: consumed } satisfies { seenAt: number; queues: ConsumedTasks }));
    } catch (error) {
      // Until a refresh succeeds, other workers may fail (rather than hold back) jobs only this one runs.
      this.logger.warn(`Could not list this worker in ${this.key}: ${this.connections.describe(error)}`);
    }
  }

  private redis(): Redis {
    this.client ??= this.connections.create('fail-fast', 'deployed-tasks');
    return this.client;
  }
}
