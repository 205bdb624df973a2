import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { CronRegistry, TaskClient, type EnqueueOptions, type TaskHandle } from 'nestjs-tasks';
import { databaseOptions } from '@app/jobs';
import { CronScenario, schedulerReady } from '../support/cron.js';
import { createTasksApp } from '../support/in-process.js';
import { ROOT, workerReady } from '../support/processes.js';
import { REDIS_URL } from '../support/redis.js';
import { CONTRACT_CRONS, ContractJobsModule, ContractProbe, RedisContractProbe, type ContractCronSet, type ContractPayload } from './contract-jobs.js';
import { settleHandle, type ContractDriver, type ContractTaskName, type CronDriver, type ProbeDriver, type RunView, type StackSpec, type TaskDriver, type TaskOutcome } from './driver.js';

/** The contract fixture app (test/fixtures/contract-fixture), built by test/global-setup.ts. */
export const CONTRACT_FIXTURE_ENTRY = resolve(ROOT, 'dist/test/fixtures/contract-fixture/main.js');

/** How long a job of a scenario may take to settle on a loaded machine. */
const SETTLE_TIMEOUT_MS = 60_000;
/** What `until` allows on top of the ticks it waits for: a loaded machine's worker runs late. */
const TICK_MARGIN_MS = 30_000;

/**
 * The contract on the real stack: its own TASKS_PREFIX and Postgres schema,
 * a worker process (the tasks and the stack's crons) and, with crons, a
 * scheduler process, both built from test/fixtures/contract-fixture; in this
 * process a producer app (TaskClient, CronRegistry) with every contract job
 * declared and nothing consumed. Time is the wall clock.
 */
export class RealStackDriver implements ContractDriver {
  readonly kind = 'real';
  readonly tasks: TaskDriver;
  readonly crons: CronDriver;
  readonly probe: ProbeDriver;

  private constructor(
    readonly spec: StackSpec,
    private readonly scenario: CronScenario,
    private readonly producer: TestingModule,
    private readonly redisProbe: RedisContractProbe,
  ) {
    const client = producer.get(TaskClient);
    const registry = producer.get(CronRegistry);
    this.tasks = new RealTasks(client);
    this.crons = new RealCrons(scenario, registry);
    this.probe = new RealProbe(redisProbe, scenario);
  }

  /** Boots the stack's processes and its producer; on failure, removes what it made. */
  static async start(spec: StackSpec): Promise<RealStackDriver> {
    const scenario = await CronScenario.create(`contract_${spec.id}`);
    const redisProbe = new RedisContractProbe(REDIS_URL, scenario.prefix);
    let producer: TestingModule | undefined;
    try {
      const worker = scenario.spawn('worker', CONTRACT_FIXTURE_ENTRY, {
        CONTRACT_ROLE: 'worker',
        CONTRACT_CRONS: spec.crons.join(','),
        ...(spec.cronConcurrency === undefined ? {} : { CRON_CONCURRENCY: String(spec.cronConcurrency) }),
      });
      @Module({ imports: [TypeOrmModule.forRoot(databaseOptions({ ...process.env, ...scenario.schema.env }))] })
      class ProducerDatabaseModule {}
      producer = await createTasksApp({
        tasks: { prefix: scenario.prefix },
        imports: [
          ProducerDatabaseModule,
          ContractJobsModule.register({
            probe: { provide: ContractProbe, useValue: redisProbe },
            crons: Object.keys(CONTRACT_CRONS) as ContractCronSet[],
          }),
        ],
      });
      await worker.waitForLog(workerReady, 'the worker to consume', 90_000);
      // The scheduler starts once the worker consumes: ticks that waited for a
      // booting worker would start together, and which of them took the lock first would be chance.
      if (spec.crons.length > 0) {
        const scheduler = scenario.spawn('scheduler', CONTRACT_FIXTURE_ENTRY, { CONTRACT_ROLE: 'scheduler', CONTRACT_CRONS: spec.crons.join(',') });
        await scheduler.waitForLog(schedulerReady, 'the scheduler to schedule', 90_000);
      }
      return new RealStackDriver(spec, scenario, producer, redisProbe);
    } catch (error) {
      await producer?.close().catch(() => undefined);
      redisProbe.close();
      console.error(`Contract stack ${spec.id} failed to start:\n${scenario.tails()}`);
      await scenario.dispose();
      throw error;
    }
  }

  /** Last lines of its processes, for a failure message. */
  tails(): string {
    return this.scenario.tails();
  }

  /** Stops the processes, closes the producer, drops the schema and every key of the prefix. */
  async dispose(): Promise<void> {
    await this.producer.close();
    this.redisProbe.close();
    await this.scenario.dispose();
  }
}

class RealTasks implements TaskDriver {
  constructor(private readonly client: TaskClient) {}

  enqueue(name: ContractTaskName, payload: ContractPayload, options?: EnqueueOptions): Promise<TaskHandle<unknown>> {
    return this.client.enqueue(name, payload, options);
  }

  settle(handle: TaskHandle<unknown>): Promise<TaskOutcome> {
    return settleHandle(this.client, handle, SETTLE_TIMEOUT_MS);
  }
}

class RealCrons implements CronDriver {
  private backlog: number[] = [];
  private backlogOf = '';

  constructor(
    private readonly scenario: CronScenario,
    private readonly registry: CronRegistry,
  ) {}

  async runs(name: string): Promise<RunView[]> {
    return (await this.scenario.runs(name)).map((row) => ({
      tick: row.scheduledAt,
      status: row.status,
      attempt: row.attempt,
      result: row.result,
      error: row.error,
      reason: row.reason,
      fenced: (row.fencingToken ?? 0) > 0,
    }));
  }

  async until(name: string, done: (runs: RunView[]) => boolean | Promise<boolean>, what: string, maxTicks = 10): Promise<RunView[]> {
    return this.scenario.poll(
      async () => {
        const runs = await this.runs(name);
        return (await done(runs)) ? runs : undefined;
      },
      { timeoutMs: maxTicks * this.period(name) + TICK_MARGIN_MS, what: `${name}: ${what}` },
    );
  }

  async nextTicks(name: string, count: number, from: number): Promise<number[]> {
    return this.registry.nextTicks(name, count, new Date(from)).map((tick) => tick.getTime());
  }

  // BullMQ's global pause: the workers take no job of the cron queue (a run
  // going finishes), the schedulers go on adding each tick's job.
  async stopWorkers(): Promise<void> {
    await this.scenario.cronQueue().pause();
  }

  async ticksWhileStopped(name: string, count: number): Promise<number[]> {
    const ticks = await this.scenario.poll(
      async () => {
        const waiting = await this.waitingTicks(name);
        return waiting.length >= count ? waiting : undefined;
      },
      { timeoutMs: count * this.period(name) + TICK_MARGIN_MS, what: `${count} ticks of ${name} waiting` },
    );
    if (ticks.length > count) {
      throw new Error(`${name}: ${ticks.length} ticks fell while the workers were stopped, not ${count}: this process looked too late (a very loaded machine)`);
    }
    this.backlog = ticks;
    this.backlogOf = name;
    return ticks;
  }

  async startWorkers(afterLastTickMs: number): Promise<void> {
    const last = this.backlog[this.backlog.length - 1];
    if (last === undefined) throw new Error('startWorkers() comes after ticksWhileStopped()');
    const [next] = await this.nextTicks(this.backlogOf, 1, last);
    const at = last + afterLastTickMs;
    // The wall clock is this driver's clock: moving it to `at` is waiting for it.
    if (at > Date.now()) await sleep(at - Date.now());
    const waiting = await this.waitingTicks(this.backlogOf);
    if (Date.now() >= (next as number) || waiting.join() !== this.backlog.join()) {
      throw new Error(
        `${this.backlogOf}: the workers were to start ${afterLastTickMs} ms after tick ${new Date(last).toISOString()}, before the next one, ` +
          `but it is ${new Date().toISOString()} and ${waiting.length} ticks wait: this process ran too late (a very loaded machine)`,
      );
    }
    await this.scenario.cronQueue().resume();
  }

  async firedTicks(name: string, from: number, to: number): Promise<number[]> {
    const ticks: number[] = [];
    // The scheduler arms each tick as the next one after the tick it just fired.
    for (let at = from - 1; ; ) {
      const [next] = await this.nextTicks(name, 1, at);
      if (next === undefined || next >= to) return ticks;
      ticks.push(next);
      at = next;
    }
  }

  private async waitingTicks(name: string): Promise<number[]> {
    const jobs = await this.scenario.cronQueue().getWaiting();
    return jobs
      .filter((job) => job.name === name)
      .map((job) => (job.data as { scheduledAt: number }).scheduledAt)
      .sort((a, b) => a - b);
  }

  private period(name: string): number {
    const [a, b] = this.registry.nextTicks(name, 2);
    return (b as Date).getTime() - (a as Date).getTime();
  }
}

class RealProbe implements ProbeDriver {
  constructor(
    private readonly probe: RedisContractProbe,
    private readonly scenario: CronScenario,
  ) {}

  async notes(key: string, atLeast = 0): Promise<string[]> {
    if (atLeast === 0) return this.probe.notes(key);
    return this.scenario.poll(
      async () => {
        const notes = await this.probe.notes(key);
        return notes.length >= atLeast ? notes : undefined;
      },
      { timeoutMs: SETTLE_TIMEOUT_MS, what: `${atLeast} note(s) of ${key}` },
    );
  }

  openGate(gate: string): Promise<void> {
    return this.probe.openGate(gate);
  }
}
