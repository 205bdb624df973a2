import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { CronRegistry, TaskClient, type EnqueueOptions, type TaskHandle } from 'nestjs-tasks';
import { TasksTesting, TasksTestingModule } from 'nestjs-tasks/testing';
import { waitFor } from '../support/wait-for.js';
import { ContractJobsModule, ContractProbe, type ContractCronSet, type ContractPayload } from './contract-jobs.js';
import { settleHandle, type ContractDriver, type ContractTaskName, type CronDriver, type ProbeDriver, type RunView, type StackSpec, type TaskDriver, type TaskOutcome } from './driver.js';

/** Where the kit's clock starts: a fixed instant, so a failure replays alike. */
const KIT_START = Date.parse('2030-01-07T09:00:00.250Z');
/**
 * Runs go on in real time between two moves of the clock (a run its gate let
 * through finishing, a bufferOne tick polling the lock every 250 ms): the
 * clock moves on once the runs have not changed for this long. Moving it on
 * too early costs one more tick, never a different record of the ticks looked at.
 */
const KIT_QUIET_MS = 400;

/** The probe of the kit: notes and gates in memory, in the test's process. */
export class MemoryContractProbe extends ContractProbe {
  private readonly noted = new Map<string, string[]>();
  private readonly opened = new Set<string>();
  private readonly waiting = new Map<string, Set<() => void>>();

  async note(key: string, entry: string): Promise<void> {
    const notes = this.noted.get(key) ?? [];
    notes.push(entry);
    this.noted.set(key, notes);
  }

  passGate(gate: string, signal: AbortSignal): Promise<void> {
    if (this.opened.has(gate)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiters = this.waiting.get(gate) ?? new Set<() => void>();
      this.waiting.set(gate, waiters);
      const onAbort = () => {
        waiters.delete(pass);
        reject(signal.reason as Error);
      };
      const pass = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal.aborted) return onAbort();
      waiters.add(pass);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async notes(key: string): Promise<string[]> {
    return [...(this.noted.get(key) ?? [])];
  }

  async openGate(gate: string): Promise<void> {
    this.opened.add(gate);
    for (const pass of this.waiting.get(gate) ?? []) pass();
    this.waiting.delete(gate);
  }
}

/**
 * The contract on the testing kit: one Nest module in this process with the
 * kit (manual mode: jobs run when the driver drains them), the contract's
 * tasks and the stack's crons. Time is the kit's clock. Give each scenario a
 * driver of its own: the scenarios of a real stack share processes to save
 * boots, but sharing one fake clock would let one scenario's advances move another's.
 */
export class KitDriver implements ContractDriver {
  readonly kind = 'kit';
  readonly tasks: TaskDriver;
  readonly crons: CronDriver;
  readonly probe: ProbeDriver;

  private constructor(private readonly app: TestingModule) {
    const testing = app.get(TasksTesting);
    const probe = app.get(ContractProbe) as MemoryContractProbe;
    this.tasks = new KitTasks(app.get(TaskClient), testing);
    this.crons = new KitCrons(testing, app.get(CronRegistry));
    this.probe = {
      notes: (key, atLeast = 0) => waitFor(async () => ((await probe.notes(key)).length >= atLeast ? probe.notes(key) : undefined), { what: `${atLeast} note(s) of ${key}` }),
      openGate: (gate) => probe.openGate(gate),
    };
  }

  static async start(spec: StackSpec, now: number = KIT_START): Promise<KitDriver> {
    return new KitDriver(await kitApp(spec.crons, now, spec.cronConcurrency));
  }

  async dispose(): Promise<void> {
    await this.app.close();
  }
}

async function kitApp(crons: readonly ContractCronSet[], now: number, cronConcurrency?: number): Promise<TestingModule> {
  @Module({
    imports: [
      TasksTestingModule.forRoot({ mode: 'manual', now, options: cronConcurrency === undefined ? {} : { cronConcurrency } }),
      ContractJobsModule.register({ probe: { provide: ContractProbe, useValue: new MemoryContractProbe() }, crons }),
    ],
  })
  class ContractKitModule {}
  const app = await Test.createTestingModule({ imports: [ContractKitModule] }).compile();
  await app.init();
  return app;
}

class KitTasks implements TaskDriver {
  /** Jobs run one drain after another, started by each enqueue and never awaited by it (a handler may wait for the scenario). */
  private draining: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: TaskClient,
    private readonly testing: TasksTesting,
  ) {}

  async enqueue(name: ContractTaskName, payload: ContractPayload, options?: EnqueueOptions): Promise<TaskHandle<unknown>> {
    const handle = await this.client.enqueue(name, payload, options);
    this.draining = this.draining.then(() => this.testing.drain({ recursive: true }));
    return handle;
  }

  settle(handle: TaskHandle<unknown>): Promise<TaskOutcome> {
    return settleHandle(this.client, handle, 30_000);
  }
}

class KitCrons implements CronDriver {
  private backlog: number[] = [];

  constructor(
    private readonly testing: TasksTesting,
    private readonly registry: CronRegistry,
  ) {}

  async runs(name: string): Promise<RunView[]> {
    return this.testing
      .runsOf(name)
      .map((run) => ({
        tick: run.scheduledAt.getTime(),
        status: run.status,
        attempt: run.attempt,
        result: run.result ?? null,
        error: run.error ?? null,
        reason: run.reason ?? null,
        fenced: (run.fencingToken ?? 0) > 0,
      }))
      .sort((a, b) => a.tick - b.tick);
  }

  async until(name: string, done: (runs: RunView[]) => boolean | Promise<boolean>, what: string, maxTicks = 10): Promise<RunView[]> {
    for (let ticks = 0; ; ticks++) {
      const runs = await this.settled(name, done);
      if (runs) return runs;
      if (ticks >= maxTicks) throw new Error(`${name}: ${what} did not happen within ${maxTicks} ticks of the kit's clock: ${JSON.stringify(await this.runs(name))}`);
      await this.advanceTo(await this.next(name));
    }
  }

  async nextTicks(name: string, count: number, from: number): Promise<number[]> {
    return this.registry.nextTicks(name, count, new Date(from)).map((tick) => tick.getTime());
  }

  async stopWorkers(): Promise<void> {
    this.testing.stopWorker();
  }

  async ticksWhileStopped(name: string, count: number): Promise<number[]> {
    this.backlog = [];
    for (let i = 0; i < count; i++) {
      const tick = await this.next(name);
      await this.advanceTo(tick);
      this.backlog.push(tick);
    }
    return [...this.backlog];
  }

  async startWorkers(afterLastTickMs: number): Promise<void> {
    const last = this.backlog[this.backlog.length - 1];
    if (last === undefined) throw new Error('startWorkers() comes after ticksWhileStopped()');
    await this.advanceTo(last + afterLastTickMs);
    await this.testing.startWorker();
  }

  async firedTicks(name: string, from: number, to: number): Promise<number[]> {
    // A kit of its own whose clock starts just before `from`, with only the zone's crons.
    const app = await kitApp(['dst'], from - 1);
    try {
      const testing = app.get(TasksTesting);
      await testing.clock.advanceTo(new Date(to - 1));
      const runs = testing.runsOf(name);
      const notCompleted = runs.filter((run) => run.status !== 'COMPLETED');
      if (notCompleted.length > 0) throw new Error(`${name}: runs of a DST day that did not complete: ${JSON.stringify(notCompleted)}`);
      return runs.map((run) => run.scheduledAt.getTime()).sort((a, b) => a - b);
    } finally {
      await app.close();
    }
  }

  private async next(name: string): Promise<number> {
    const [next] = await this.nextTicks(name, 1, this.testing.clock.now().getTime());
    return next as number;
  }

  private async advanceTo(at: number): Promise<void> {
    await this.testing.clock.advanceTo(new Date(at));
  }

  /** `done`'s runs as soon as it holds; undefined once the runs have been quiet for {@link KIT_QUIET_MS} without it. */
  private async settled(name: string, done: (runs: RunView[]) => boolean | Promise<boolean>): Promise<RunView[] | undefined> {
    let last = '';
    let quietSince = Date.now();
    for (;;) {
      const runs = await this.runs(name);
      if (await done(runs)) return runs;
      const seen = JSON.stringify(runs);
      if (seen !== last) [last, quietSince] = [seen, Date.now()];
      else if (Date.now() - quietSince >= KIT_QUIET_MS) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
