import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = resolve(ROOT, 'test/fixtures/logging/log-lines.mjs');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the fixture with its stdout on a pipe. With `hold`, nobody reads the
 * pipe until the child has logged everything, so its writes find the pipe
 * full (EAGAIN) as a slow log shipper would leave it.
 */
function run(env: Record<string, string>, hold = false): Promise<Outcome> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, ...env, HOLD: hold ? '1' : '0' },
      stdio: hold ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const read = () => child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    if (hold) {
      child.on('message', (message) => {
        if (message !== 'logged') return;
        read();
        child.send('go');
      });
    } else {
      read();
    }
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const numbers = (stdout: string) =>
  stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { n?: number; msg: string })
    .filter((line) => line.n !== undefined)
    .map((line) => line.n);

const oneTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

describe('bufferedLogDestination in a real process', () => {
  it('writes every buffered line when the process calls process.exit', async () => {
    const { code, stdout } = await run({ LINES: '250', END: 'exit' });
    expect(code).toBe(0);
    expect(numbers(stdout)).toEqual(oneTo(250));
  });

  it('writes every buffered line before an uncaught exception ends the process', async () => {
    const { code, stdout, stderr } = await run({ LINES: '250', END: 'throw' });
    expect(code).toBe(1);
    expect(stderr).toContain('boom after logging');
    expect(numbers(stdout)).toEqual(oneTo(250));
  });

  it('writes every line when the event loop empties (its timer does not keep the process alive)', async () => {
    const { code, stdout } = await run({ LINES: '250', END: 'natural' });
    expect(code).toBe(0);
    expect(numbers(stdout)).toEqual(oneTo(250));
  });

  it('keeps the lines a full pipe refused and writes them, in order, once it is read', async () => {
    // About 1 MB of lines against a 64 KB pipe that nobody reads meanwhile.
    const { code, stdout } = await run({ LINES: '4000', PAD: '200', END: 'exit' }, true);
    expect(code).toBe(0);
    expect(numbers(stdout)).toEqual(oneTo(4000));
  });

  it('drops what exceeds maxPendingBytes while the pipe is full, and says how many lines it dropped', async () => {
    const { code, stdout } = await run({ LINES: '4000', PAD: '200', END: 'exit', MAX_PENDING: String(256 * 1024) }, true);
    expect(code).toBe(0);
    const got = numbers(stdout);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(4000);
    // What arrived is in order and without gaps inside what was kept.
    expect(got).toEqual([...got].sort((a, b) => (a as number) - (b as number)));
    const note = stdout.split('\n').find((line) => line.includes('log line(s) dropped'));
    expect(note).toBeDefined();
    const dropped = Number(/"msg":"(\d+) log line\(s\) dropped/.exec(note as string)?.[1]);
    expect(dropped + got.length).toBe(4000);
  });
});
