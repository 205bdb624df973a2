import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import pg from 'pg';
import { TaskClient } from 'nestjs-tasks';
import { DEFAULT_DATABASE_URL } from '@app/jobs';
import { bullmqConnection, parseRedisUrl, unlinkMatching } from '#nestjs-tasks-internal';
import type { ConnectionOptions } from 'bullmq';
import { benchClientModule } from '../roles/bench-tasks.js';
import type { LibRole, NestBullmqRole, PlainRole, StackRole } from '../shared/protocol.js';
import { BenchProcess, ENTRIES, RoleProcess } from './children.js';

export interface Settings {
  rounds: number;
  /** Smaller workloads, to try the bench out (figures not comparable). */
  quick: boolean;
  scenarios: ReadonlySet<string>;
}

/** A Nest app in the orchestrator holding a TaskClient (the producer side of the library). */
export interface ClientApp {
  app: INestApplicationContext;
  client: TaskClient;
}

/** Run-wide resources of the bench: ids, logs, connections, and what to clean up. */
export class BenchContext {
  readonly runId = randomBytes(3).toString('hex');
  readonly logDir = join(tmpdir(), `tasks-bench-${this.runId}`);
  readonly redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  readonly databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  readonly connection: ConnectionOptions = bullmqConnection(this.redisUrl, 'command');
  readonly redis: Redis;
  private readonly processes = new Set<BenchProcess>();
  private readonly schemas: string[] = [];
  private logSeq = 0;

  constructor(
    readonly root: string,
    readonly settings: Settings,
  ) {
    mkdirSync(this.logDir, { recursive: true });
    this.redis = new Redis(parseRedisUrl(this.redisUrl));
  }

  /** A TASKS_PREFIX of its own for one side of one round. */
  prefix(label: string): string {
    return `bench-${this.runId}-${label}`;
  }

  logFile(label: string): string {
    return join(this.logDir, `${String(++this.logSeq).padStart(4, '0')}-${label}.log`);
  }

  /** Starts a bench role child and waits until it is ready. */
  async startRole(role: LibRole | PlainRole | StackRole | NestBullmqRole, env: Record<string, string>, label: string = role): Promise<RoleProcess> {
    const entry = role.startsWith('lib-')
      ? ENTRIES.libRoles
      : role.startsWith('plain-')
        ? ENTRIES.plainRoles
        : role.startsWith('nest-bullmq-')
          ? ENTRIES.nestBullmqRoles
          : ENTRIES.stackRoles;
    const child = new RoleProcess(label, this.root, entry, { REDIS_URL: this.redisUrl, BENCH_ROLE: role, ...env }, this.logFile(label));
    this.processes.add(child);
    void child.exited.then(() => this.processes.delete(child));
    await child.whenReady();
    return child;
  }

  /** Starts a built app (apps/worker, apps/scheduler) with its logs in a file. */
  startApp(kind: 'worker' | 'scheduler', env: Record<string, string>, label: string = kind): BenchProcess {
    const child = new BenchProcess(
      label,
      this.root,
      ENTRIES[kind],
      { REDIS_URL: this.redisUrl, DATABASE_URL: this.databaseUrl, ...env },
      this.logFile(label),
      false,
    );
    this.processes.add(child);
    void child.exited.then(() => this.processes.delete(child));
    return child;
  }

  /** The library's producer side under `prefix` (on the run's Redis unless told another), its logs (LOG_LEVEL info) in a file. */
  async clientApp(prefix: string, redisUrl: string = this.redisUrl): Promise<ClientApp> {
    const destination = pino.destination({ dest: this.logFile(`client-${prefix}`), sync: false });
    const app = await NestFactory.createApplicationContext(
      benchClientModule({ prefix, redisUrl }, { pinoHttp: [{ level: 'info' }, destination] }),
      { bufferLogs: true, abortOnError: false },
    );
    app.useLogger(app.get(Logger));
    return { app, client: app.get(TaskClient) };
  }

  /** Creates a fresh Postgres schema with the library's tables, through the migrate command. */
  async freshSchema(label: string): Promise<string> {
    const schema = `bench_${this.runId}_${label}`;
    this.schemas.push(schema);
    const migrate = new BenchProcess(
      `migrate-${label}`,
      this.root,
      ENTRIES.migrate,
      { DATABASE_URL: this.databaseUrl, DATABASE_SCHEMA: schema },
      this.logFile(`migrate-${label}`),
      false,
    );
    const code = await migrate.exited;
    if (code !== 0) throw new Error(`Migrating schema ${schema} failed:\n${migrate.tail()}`);
    return schema;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** Redis' own CPU time so far (user + system), ms. */
  async redisCpuMs(): Promise<number> {
    const info = await this.redis.info('cpu');
    const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
  }

  /** Deletes every Redis key under `prefix`. */
  async deletePrefix(prefix: string): Promise<void> {
    await unlinkMatching(this.redis, `${prefix}:*`);
  }

  /** Stops what is still running, deletes this run's keys and schemas, and (on success) its logs. */
  async cleanup(keepLogs: boolean): Promise<void> {
    await Promise.all([...this.processes].map((child) => child.terminate(5_000)));
    await this.deletePrefix(`bench-${this.runId}-*`);
    for (const schema of this.schemas) {
      await this.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    }
    this.redis.disconnect();
    if (!keepLogs && !process.env.BENCH_KEEP_LOGS) rmSync(this.logDir, { recursive: true, force: true });
  }
}
