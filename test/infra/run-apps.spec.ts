import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';
import { TEST_DATABASE_URL } from '../support/postgres.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { StopWaiting, waitFor } from '../support/wait-for.js';

type Formatter = (line: string) => string[];
type FormatterFactory = (options?: { colorize?: boolean; json?: boolean }) => Formatter;

const RUNNER = resolve(ROOT, 'scripts/run-apps.mjs');
const loadFormatter = async (): Promise<FormatterFactory> =>
  ((await import(pathToFileURL(resolve(ROOT, 'scripts/lib/pretty-log-lines.mjs')).href)) as { logLineFormatter: FormatterFactory }).logLineFormatter;

// A line as nestjs-pino writes it in the apps.
const jsonLine = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 5, 14, 3, 7, 215), pid: 4242, hostname: 'laptop', ...fields });

describe('make dev log lines (scripts/lib/pretty-log-lines.mjs)', () => {
  it('turns a JSON line into one readable line: time, level word, Nest context and message, bindings after', async () => {
    const format = (await loadFormatter())();
    const [line, ...rest] = format(jsonLine({ context: 'TaskRunner', msg: 'Task mail.send completed', task: 'mail.send', jobId: '42' }));
    expect(rest).toEqual([]);
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[TaskRunner\] Task mail\.send completed \{"task":"mail\.send","jobId":"42"\}$/);
    expect(line).not.toContain('4242');
    expect(format(jsonLine({ level: 50, msg: 'Cron job nightly failed' }))[0]).toMatch(/ ERROR: Cron job nightly failed$/);
  });

  it('passes a line that is not JSON unchanged, and keeps JSON with json: true', async () => {
    const factory = await loadFormatter();
    const reason = 'ServiceUnreachableError: Cannot reach Redis at redis://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1).';
    expect(factory()(reason)).toEqual([reason]);
    const raw = jsonLine({ msg: 'hello' });
    expect(factory({ json: true })(raw)).toEqual([raw]);
  });
});

// The runner itself, with the example worker: what a developer sees in `make dev`.
describe('scripts/run-apps.mjs', { timeout: 120_000 }, () => {
  const prefix = uniquePrefix('run-apps');
  afterAll(() => deletePrefix(prefix));

  it("prints the worker's log lines readable, prefixed with its name, and stops it on SIGTERM", async () => {
    const runner = spawn(process.execPath, [RUNNER, 'worker'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL, TASKS_PREFIX: prefix, DATABASE_URL: TEST_DATABASE_URL, LOG_LEVEL: 'info', TASKS_SHUTDOWN_GRACE_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buffered = '';
    runner.stdout.setEncoding('utf8');
    runner.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const complete = buffered.split('\n');
      buffered = complete.pop() ?? '';
      lines.push(...complete);
    });
    runner.stderr.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk.toString()}`));
    const exited = new Promise<number | null>((done) => runner.on('exit', (code) => done(code)));
    try {
      const ready = await waitFor(
        () => {
          const found = lines.find((line) => line.includes('[TaskWorkerHost] Consuming'));
          if (!found && runner.exitCode !== null) throw new StopWaiting(`run-apps exited (code ${runner.exitCode}):\n${lines.join('\n')}`);
          return found;
        },
        { timeoutMs: 90_000, what: `the worker's "Consuming" line` },
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${lines.join('\n')}`);
      });
      expect(ready).toMatch(/^worker \| \[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[TaskWorkerHost\] Consuming /);
      const appLines = lines.filter((line) => line.startsWith('worker |'));
      expect(appLines.filter((line) => line.slice('worker | '.length).startsWith('{'))).toEqual([]);
    } finally {
      runner.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(lines.some((line) => /^dev +\| worker stopped \(code 0\)$/.test(line))).toBe(true);
  });
});
