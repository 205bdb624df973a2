import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildSamples, FromChild, ToChild } from '../shared/protocol.js';

/** Where the built entry points are, relative to the repository root. */
export const ENTRIES = {
  libRoles: 'dist/bench/lib-roles.js',
  plainRoles: 'dist/bench/plain-roles.js',
  stackRoles: 'dist/bench/stack-roles.js',
  nestBullmqRoles: 'dist/bench/nest-bullmq-roles.js',
  worker: 'dist/apps/worker/main.js',
  scheduler: 'dist/apps/scheduler/main.js',
  migrate: 'dist/apps/migrate/main.js',
} as const;

/** Extra node flags for every child, e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const CHILD_NODE_ARGS = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Page size and clock ticks of /proc, for CPU time and resident memory. */
const CLOCK_TICKS_PER_S = 100;

/**
 * A child process of the bench. Its stdout and stderr (the JSON log lines the
 * user gets by default, LOG_LEVEL info) go to a file, never to the terminal.
 */
export class BenchProcess {
  protected readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly root: string,
    entry: string,
    env: Record<string, string>,
    readonly logPath: string,
    ipc: boolean,
  ) {
    const fd = openSync(logPath, 'a');
    this.child = spawn(process.execPath, [...CHILD_NODE_ARGS, join(root, entry)], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', ...env },
      stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    });
    closeSync(fd);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no output)';
    }
  }

  /** User + system CPU time so far, ms (10 ms resolution). */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  }

  /**
   * System calls that read and write so far (sockets, pipes, files: /proc/<pid>/io),
   * all threads. Where a side costs more CPU for the same Redis commands, more
   * of them says its writes to Redis were coalesced less.
   */
  ioCalls(): number {
    const io = readFileSync(`/proc/${this.pid}/io`, 'utf8');
    const read = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(io)?.[1] ?? 0);
    return read('syscr') + read('syscw');
  }

  /** Resident set size, MB (VmRSS). */
  rssMb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    return kb / 1024;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async terminate(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until the log has a JSON line matching `match`. */
  async waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let text = '';
      try {
        text = readFileSync(this.logPath, 'utf8');
      } catch {
        // Not created yet.
      }
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          if (match(JSON.parse(line) as Record<string, unknown>)) return;
        } catch {
          // A partial line.
        }
      }
      if (!this.running) throw new Error(`${this.name} exited before it was ready:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(50);
    }
  }
}

/** A bench role process (dist/bench/*-roles.js) that talks to the orchestrator over IPC. */
export class RoleProcess extends BenchProcess {
  private readonly ready: Promise<void>;

  constructor(name: string, root: string, entry: string, env: Record<string, string>, logPath: string) {
    super(name, root, entry, env, logPath, true);
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromChild) => {
        if (message.type === 'ready') {
          this.child.off('message', onMessage);
          resolve();
        }
      };
      this.child.on('message', onMessage);
      void this.exited.then((code) => reject(new Error(`${name} exited (code ${code}) before it was ready:\n${this.tail()}`)));
    });
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  async report(): Promise<ChildSamples> {
    const reply = await this.request({ type: 'report' }, 'report');
    return reply.samples;
  }

  /** Asks the child to close its app (as SIGTERM would) and exit; kills it if it does not. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.send({ type: 'stop' } satisfies ToChild);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private request<T extends FromChild['type']>(message: ToChild, reply: T): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not answer ${message.type}`)), 10_000);
      const onMessage = (answer: FromChild) => {
        if (answer.type !== reply) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(answer as Extract<FromChild, { type: T }>);
      };
      this.child.on('message', onMessage);
      this.child.send(message);
    });
  }
}
