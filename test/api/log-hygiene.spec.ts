import net from 'node:net';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { apiReady, startApp, workerReady, type AppProcess, type LogLine } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { AUTH_ENV, tokenFor } from '../support/auth.js';

/** What must never reach a log line raw: control characters (C0, DEL, C1), bidi controls, line separators. */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** The raw lines a process wrote that carry an unsafe character (a terminal would act on it). */
const unsafeLines = (app: AppProcess) => app.output.filter((line) => UNSAFE.test(line));

/** Writes `request` (latin1: one byte per character) on a connection of its own; resolves with the status line. */
function sendRaw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? ''));
    socket.on('error', reject);
    socket.end(Buffer.from(request, 'latin1'));
  });
}

// End to end: the built api and worker, fed hostile bytes from outside (HTTP requests, jobs written
// straight to the queue); their JSON log lines must show those bytes escaped, never act on them.
describe('log hygiene: control and bidi characters from outside are escaped in the apps’ log lines', () => {
  const prefix = uniquePrefix('log-hygiene');
  let api: AppProcess;
  let worker: AppProcess;
  let port: number;
  let queue: Queue;

  beforeAll(async () => {
    port = await freePort();
    queue = new Queue(TASKS_QUEUE, { connection: { url: REDIS_URL }, prefix });
    [api, worker] = await Promise.all([
      startApp('api', { TASKS_PREFIX: prefix, PORT: String(port), ...AUTH_ENV }, apiReady),
      startApp('worker', { TASKS_PREFIX: prefix, EXAMPLE_UPLOAD_STEP_MS: '1' }, workerReady),
    ]);
  });

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await queue?.close();
    await deletePrefix(prefix);
  });

  it('escapes a request’s control bytes (User-Agent with 0x9B) and what its URL decodes to (a C1 control, a bidi override) in the api’s request log', async () => {
    // Header bytes reach Node as latin1 characters: 0x9B is U+009B (CSI), 0xE2 0x80 0xAE three characters.
    // Node refuses such bytes in the URL itself; percent-encoded, they are decoded into the parameters.
    const status = await sendRaw(
      port,
      `GET /jobs/hygiene%C2%9B1?note=%E2%80%AE HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\x9b31m\xe2\x80\xaeagent\r\n` +
        `Authorization: Bearer ${tokenFor('alice')}\r\nConnection: close\r\n\r\n`,
    );
    expect(status).toMatch(/^HTTP\/1\.1 400 /);
    const line = await api.waitForLog(
      (l) => typeof (l.req as { url?: unknown } | undefined)?.url === 'string' && (l.req as { url: string }).url.startsWith('/jobs/hygiene'),
      'the request log line',
    );
    const req = line.req as { url: string; query: unknown; params: unknown; headers: Record<string, string> };
    expect(req.url).toBe('/jobs/hygiene%C2%9B1?note=%E2%80%AE');
    // nestjs-pino's middleware is mounted on every path: the path's segments are its parameters.
    expect(req.params).toEqual({ splat: ['jobs', 'hygiene\\u009b1'] });
    expect(req.headers['user-agent']).toBe('evil\\u009b31m\u00e2\\u0080\u00aeagent');
    expect(req.query).toEqual({ note: '\\u202e' });
    expect(unsafeLines(api)).toEqual([]);
  });

  it('escapes a job’s name and id written by someone else than the app (straight to the queue) in the worker’s log', async () => {
    const hostileName = 'evil\u009b2J\u202etxt.exe';
    await queue.add(hostileName, {});
    // A chosen id, as TaskClient stores it (`key-` + the id): an idempotency key from the app's users.
    await queue.add('processUpload', { uploadId: 'hygiene' }, { jobId: 'key-order\u202e\u009b7' });

    const unknown = await worker.waitForLog((l: LogLine) => l.msg.startsWith('No handler for task'), 'the unknown task line');
    expect(unknown.msg).toContain('No handler for task "evil\\u009b2J\\u202etxt.exe" in this worker');
    const started = await worker.waitForLog((l: LogLine) => l.event === 'task.started' && l.task === 'processUpload', 'the task.started line');
    expect(started.jobId).toBe('order\\u202e\\u009b7');
    await worker.waitForLog((l: LogLine) => l.event === 'task.completed' && l.jobId === started.jobId, 'the task.completed line');
    expect(unsafeLines(worker)).toEqual([]);
  });
});
