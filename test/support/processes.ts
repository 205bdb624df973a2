import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { StopWaiting, waitFor } from './wait-for.js';
import { TEST_DATABASE_URL } from './postgres.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Built entry points (test/global-setup.ts builds them before the suite). */
export const ENTRY = {
  api: resolve(ROOT, 'dist/apps/api/main.js'),
  worker: resolve(ROOT, 'dist/apps/worker/main.js'),
  scheduler: resolve(ROOT, 'dist/apps/scheduler/main.js'),
  fixtureWorker: resolve(ROOT, 'dist/test/fixtures/main.js'),
} as const;

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

// Children still running when the test process exits (a timed-out or aborted
// run skips afterAll) are killed rather than left behind holding Redis and Postgres.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A child process running one of the apps, with its JSON log lines collected. */
export class AppProcess {
  readonly lines: LogLine[] = [];
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    entry: string,
    env: Record<string, string | undefined>,
    /** Another Node.js binary than the one running the tests. */
    node: string = process.execPath,
  ) {
    this.child = spawn(node, [entry], {
      cwd: ROOT,
      // Every app connects to Postgres at boot: the test database unless the test says otherwise.
      env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        this.output.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // Not JSON (a crash trace): kept in `output` for the failure message.
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    live.add(this.child);
    this.exited = new Promise((resolveExit) =>
      this.child.on('exit', (code) => {
        live.delete(this.child);
        resolveExit(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a log line matching `match`; fails early, with the output, if the process exits. */
  async waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(
      () => {
        const found = this.lines.find(match);
        if (!found && !this.running) {
          throw new StopWaiting(`${this.name} exited (code ${this.child.exitCode}) before ${what}:\n${this.tail()}`);
        }
        return found;
      },
      { timeoutMs, what: `${this.name}: ${what}` },
    );
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  tail(n = 40): string {
    return this.output.slice(-n).join('\n');
  }
}

/**
 * Starts an app and waits until it logs that it is ready. Booting takes a
 * couple of seconds, but much longer on a loaded two-core machine running
 * several app processes at once, hence the generous deadline.
 */
export async function startApp(
  kind: keyof typeof ENTRY,
  env: Record<string, string | undefined>,
  ready: (line: LogLine) => boolean,
  name: string = kind,
  readyTimeoutMs = 60_000,
): Promise<AppProcess> {
  const app = new AppProcess(name, ENTRY[kind], env);
  await app.waitForLog(ready, 'ready', readyTimeoutMs);
  return app;
}

export const workerReady = (line: LogLine) => line.context === 'TaskWorkerHost' && line.msg.startsWith('Consuming');
export const apiReady = (line: LogLine) => typeof line.msg === 'string' && line.msg.startsWith('api listening');
