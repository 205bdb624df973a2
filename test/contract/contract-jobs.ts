import { Injectable, Module, type DynamicModule, type OnApplicationShutdown, type Provider, type Type } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Cron, NonRetriableError, Task, type CronContext, type TaskContext } from 'nestjs-tasks';

/**
 * What the contract's handlers tell the test, and what the test tells them,
 * whichever runs them: a worker process (notes and gates in Redis) or the
 * testing kit in the test's own process (in memory).
 */
export abstract class ContractProbe {
  /** Appends `entry` to the notes of `key` (what a handler saw: its attempt, its signal's reason). */
  abstract note(key: string, entry: string): Promise<void>;
  /** Resolves once the test opened `gate`; rejects with the signal's reason if the run is aborted first. */
  abstract passGate(gate: string, signal: AbortSignal): Promise<void>;
  /** The notes of `key` so far, oldest first. */
  abstract notes(key: string): Promise<string[]>;
  /** Opens `gate` for good: every handler waiting at it, and every later one, goes on. */
  abstract openGate(gate: string): Promise<void>;
}

/** How often a handler waiting at a gate in Redis looks again. */
const GATE_POLL_MS = 20;

/** The probe of processes: a Redis list per key and a key per opened gate, under the test's prefix (its cleanup deletes them). */
export class RedisContractProbe extends ContractProbe implements OnApplicationShutdown {
  private client?: Redis;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {
    super();
  }

  async note(key: string, entry: string): Promise<void> {
    await this.redis().rpush(`${this.prefix}:contract:notes:${key}`, entry);
  }

  async passGate(gate: string, signal: AbortSignal): Promise<void> {
    while ((await this.redis().exists(`${this.prefix}:contract:gate:${gate}`)) === 0) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => setTimeout(resolve, GATE_POLL_MS));
    }
  }

  notes(key: string): Promise<string[]> {
    return this.redis().lrange(`${this.prefix}:contract:notes:${key}`, 0, -1);
  }

  async openGate(gate: string): Promise<void> {
    await this.redis().set(`${this.prefix}:contract:gate:${gate}`, '1');
  }

  onApplicationShutdown(): void {
    this.close();
  }

  close(): void {
    this.client?.disconnect();
    this.client = undefined;
  }

  private redis(): Redis {
    this.client ??= new Redis(this.redisUrl);
    return this.client;
  }
}

/** Payload of every contract task: `key` names the scenario's notes. */
// A type, not an interface: it must be assignable to JsonValue.
export type ContractPayload = { key: string; n?: number };

/** Aborts this many ms after it starts: short, since the handler only waits for its signal. */
export const TIMEOUT_MS = 100;

/** The tasks of the contract scenarios; each notes what it saw under its payload's key. */
@Injectable()
export class ContractTasks {
  constructor(private readonly probe: ContractProbe) {}

  /** Fails its first attempt, succeeds at the second. */
  @Task({ name: 'contract.flaky', attempts: 3, backoffMs: 10 })
  async flaky(payload: ContractPayload, ctx: TaskContext): Promise<{ attempt: number }> {
    await this.probe.note(payload.key, `attempt ${ctx.attempt}`);
    if (ctx.attempt === 1) throw new Error(`contract.flaky fails attempt ${ctx.attempt}`);
    return { attempt: ctx.attempt };
  }

  /** Refuses its input: no retry, although it has attempts left. */
  @Task({ name: 'contract.rejects', attempts: 3, backoffMs: 10 })
  async rejects(payload: ContractPayload, ctx: TaskContext): Promise<never> {
    await this.probe.note(payload.key, `attempt ${ctx.attempt}`);
    throw new NonRetriableError('contract.rejects refuses its payload');
  }

  /** Waits for its signal, which its timeout aborts; what it returns then comes too late to count. */
  @Task({ name: 'contract.timesOut', attempts: 2, backoffMs: 10, timeoutMs: TIMEOUT_MS })
  async timesOut(payload: ContractPayload, ctx: TaskContext): Promise<{ late: true }> {
    await abortOf(ctx.signal);
    await this.probe.note(payload.key, `attempt ${ctx.attempt} aborted: ${reasonName(ctx.signal)}`);
    return { late: true };
  }

  /** Runs until its signal aborts (a cancellation), then gives up with the signal's reason. */
  @Task({ name: 'contract.cancellable', attempts: 3, backoffMs: 10 })
  async cancellable(payload: ContractPayload, ctx: TaskContext): Promise<never> {
    await this.probe.note(payload.key, `attempt ${ctx.attempt} started`);
    await abortOf(ctx.signal);
    await this.probe.note(payload.key, `attempt ${ctx.attempt} aborted: ${reasonName(ctx.signal)}`);
    throw ctx.signal.reason;
  }

  /** Returns its `n`: which of the deduplicated payloads ran. */
  @Task({ name: 'contract.dedup', attempts: 1 })
  async dedup(payload: ContractPayload): Promise<{ n: number | undefined }> {
    await this.probe.note(payload.key, `ran n=${payload.n}`);
    return { n: payload.n };
  }
}

function abortOf(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

const reasonName = (signal: AbortSignal) => (signal.reason instanceof Error ? signal.reason.name : String(signal.reason));

// The crons. Those that run in real time tick every second (overlap) or
// every five (outages). A catch-up window of a minute keeps a worker that a
// loaded machine slows down from recording MISSED ticks no scenario asked for.
const NO_SPURIOUS_MISSES = { windowMs: 60_000 } as const;

/** A run waits at its gate, so the ticks after it find it going. */
@Injectable()
export class OverlapCron {
  constructor(private readonly probe: ContractProbe) {}

  @Cron('* * * * * *', { name: 'contract.overlap', lockTtlMs: 10_000, catchUp: NO_SPURIOUS_MISSES })
  async overlap(ctx: CronContext): Promise<{ ran: string; attempt: number }> {
    await this.probe.passGate('contract.overlap', ctx.signal);
    return { ran: ctx.jobName, attempt: ctx.attempt };
  }
}

/** As {@link OverlapCron}, with `overlap: 'bufferOne'`. */
@Injectable()
export class BufferOneCron {
  constructor(private readonly probe: ContractProbe) {}

  @Cron('* * * * * *', { name: 'contract.bufferOne', lockTtlMs: 10_000, overlap: 'bufferOne', catchUp: NO_SPURIOUS_MISSES })
  async bufferOne(ctx: CronContext): Promise<{ ran: string; attempt: number }> {
    await this.probe.passGate('contract.bufferOne', ctx.signal);
    return { ran: ctx.jobName, attempt: ctx.attempt };
  }
}

/** Every five seconds, the default catch-up (`'skip'`, grace `cronCatchUpMs`): ticks its workers take late are MISSED. */
@Injectable()
export class MissedCron {
  @Cron('*/5 * * * * *', { name: 'contract.missed', lockTtlMs: 10_000 })
  async missed(ctx: CronContext): Promise<{ ran: string; attempt: number }> {
    return { ran: ctx.jobName, attempt: ctx.attempt };
  }
}

/** The catch-up window of {@link WindowCron}: between one and two of its periods, plus a second. */
export const CATCH_UP_WINDOW_MS = 11_000;

/** Every five seconds, `catchUp: { windowMs }`: ticks taken within the window run, older ones are MISSED. */
@Injectable()
export class WindowCron {
  @Cron('*/5 * * * * *', { name: 'contract.window', lockTtlMs: 10_000, catchUp: { windowMs: CATCH_UP_WINDOW_MS } })
  async window(ctx: CronContext): Promise<{ ran: string; attempt: number }> {
    return { ran: ctx.jobName, attempt: ctx.attempt };
  }
}

/**
 * Crons in a zone with daylight saving time, at the hours it changes:
 * `contract.dstNightly` at 02:30, `contract.dstHalfHourly` every half hour
 * from 01:00 to 03:30 (Europe/Berlin). No real-time scenario runs them.
 */
@Injectable()
export class DstCrons {
  @Cron('0 30 2 * * *', { name: 'contract.dstNightly', timeZone: 'Europe/Berlin' })
  async nightly(ctx: CronContext): Promise<{ ran: string }> {
    return { ran: ctx.jobName };
  }

  @Cron('0 */30 1-3 * * *', { name: 'contract.dstHalfHourly', timeZone: 'Europe/Berlin' })
  async halfHourly(ctx: CronContext): Promise<{ ran: string }> {
    return { ran: ctx.jobName };
  }
}

/** The cron classes by the short name a stack selects them with (CONTRACT_CRONS=overlap,bufferOne). */
export const CONTRACT_CRONS = {
  overlap: OverlapCron,
  bufferOne: BufferOneCron,
  missed: MissedCron,
  window: WindowCron,
  dst: DstCrons,
} as const satisfies Record<string, Type<unknown>>;

export type ContractCronSet = keyof typeof CONTRACT_CRONS;

/** The classes named in a comma-separated list; throws on a name it does not know. */
export function selectContractCrons(list: string | undefined): ContractCronSet[] {
  const names = (list ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(name in CONTRACT_CRONS)) throw new Error(`Unknown contract cron set "${name}"; known: ${Object.keys(CONTRACT_CRONS).join(', ')}`);
  }
  return names as ContractCronSet[];
}

/** The contract's tasks, the crons named, and the probe their handlers talk through. */
@Module({})
export class ContractJobsModule {
  static register({ probe, crons }: { probe: Provider<ContractProbe>; crons: readonly ContractCronSet[] }): DynamicModule {
    return {
      module: ContractJobsModule,
      providers: [probe, ContractTasks, ...crons.map((name) => CONTRACT_CRONS[name])],
      exports: [ContractProbe],
    };
  }
}
