import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CRON_QUEUE, TASKS_QUEUE } from '#nestjs-tasks-internal';
import { AppProcess, ENTRY, ROOT, workerReady } from '../support/processes.js';
import { cronScenarios, withStatus } from '../support/cron.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';

const REGISTER = resolve(ROOT, 'test/fixtures/otel/register.mjs');
const PRODUCER = resolve(ROOT, 'test/fixtures/otel/producer.mjs');
// @opentelemetry/api's SpanKind and SpanStatusCode.
const KIND = { SERVER: 1, PRODUCER: 3, CONSUMER: 4 } as const;
const STATUS = { UNSET: 0, ERROR: 2 } as const;

interface ExportedSpan {
  process: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  links: { traceId: string; spanId: string }[];
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: { name: string; attributes?: Record<string, unknown> }[];
}

function spansIn(file: string): ExportedSpan[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ExportedSpan);
}

// Producer and worker are separate processes with the OpenTelemetry SDK and
// its in-memory exporter preloaded (test/fixtures/otel/register.mjs); the
// only link between their spans is the context the job carried through Redis.
describe('OpenTelemetry traces across a producer process and a worker process', () => {
  const prefix = uniquePrefix('traces');
  const dir = mkdtempSync(join(tmpdir(), 'tasks-traces-'));
  const file = join(dir, 'spans.jsonl');
  let worker: AppProcess;
  let produced: { one: string[]; many: string[]; request: { traceId: string; spanId: string } };

  beforeAll(async () => {
    const otel = { NODE_OPTIONS: `--import ${REGISTER}`, OTEL_TEST_SPANS_FILE: file };
    worker = new AppProcess('worker', ENTRY.fixtureWorker, { TASKS_PREFIX: prefix, ...otel, OTEL_TEST_PROCESS: 'worker' });
    await worker.waitForLog(workerReady, 'the worker to consume', 60_000);
    const plan = {
      one: [
        { name: 'echo', payload: { value: 1 } },
        { name: 'flaky', payload: { failTimes: 2 } },
        { name: 'rejectsInput', payload: { reason: 'traced' } },
      ],
      many: [
        { name: 'echo', payload: { value: 10 } },
        { name: 'echo', payload: { value: 11 } },
      ],
    };
    const { stdout } = await promisify(execFile)(process.execPath, [PRODUCER], {
      cwd: ROOT,
      env: { ...process.env, ...otel, OTEL_TEST_PROCESS: 'producer', REDIS_URL, TASKS_PREFIX: prefix, PRODUCER_PLAN: JSON.stringify(plan) },
      timeout: 60_000,
    });
    produced = JSON.parse(stdout.trim().split('\n').pop() as string) as typeof produced;
    // 1 echo + 3 flaky attempts + 1 rejectsInput + 2 echoes of the batch.
    await waitFor(() => spansIn(file).filter((span) => span.process === 'worker' && span.name === `process ${TASKS_QUEUE}`).length >= 7, {
      timeoutMs: 30_000,
      what: 'seven process spans from the worker',
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const producerSpan = (operation: 'send' | 'create', jobId: string) => {
    const span = spansIn(file).find((s) => s.process === 'producer' && s.name === `${operation} ${TASKS_QUEUE}` && s.attributes['messaging.message.id'] === jobId);
    if (!span) throw new Error(`no ${operation} span for job ${jobId}`);
    return span;
  };
  const processSpans = (jobId: string) =>
    spansIn(file)
      .filter((s) => s.process === 'worker' && s.name === `process ${TASKS_QUEUE}` && s.attributes['messaging.message.id'] === jobId)
      .sort((a, b) => Number(a.attributes['tasks.attempt']) - Number(b.attributes['tasks.attempt']));

  it('makes the run a child of the enqueue, and the enqueue a child of the request: one trace', () => {
    const [echoId] = produced.one as [string];
    const send = producerSpan('send', echoId);
    expect(send).toMatchObject({
      kind: KIND.PRODUCER,
      traceId: produced.request.traceId,
      parentSpanId: produced.request.spanId,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': TASKS_QUEUE,
        'messaging.message.id': echoId,
        'tasks.task.name': 'echo',
      },
    });
    const [run, ...others] = processSpans(echoId);
    expect(others).toEqual([]);
    expect(run).toMatchObject({
      kind: KIND.CONSUMER,
      traceId: produced.request.traceId,
      parentSpanId: send.spanId,
      status: { code: STATUS.UNSET },
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': TASKS_QUEUE,
        'messaging.message.id': echoId,
        'tasks.task.name': 'echo',
        'tasks.attempt': 1,
        'tasks.outcome': 'completed',
      },
    });
  });

  it('has one span per attempt on a retry, failed attempts with an error status, all children of the one enqueue', () => {
    const flakyId = produced.one[1] as string;
    const send = producerSpan('send', flakyId);
    const attempts = processSpans(flakyId);
    expect(attempts.map((span) => span.attributes['tasks.attempt'])).toEqual([1, 2, 3]);
    expect(attempts.every((span) => span.parentSpanId === send.spanId && span.traceId === produced.request.traceId)).toBe(true);
    for (const failed of attempts.slice(0, 2)) {
      expect(failed.status).toEqual({ code: STATUS.ERROR, message: `flaky failure on attempt ${String(failed.attributes['tasks.attempt'])}` });
      expect(failed.attributes).toMatchObject({ 'error.type': 'Error', 'tasks.outcome': 'retried', 'tasks.max_attempts': 3 });
      expect(failed.events.map((event) => event.name)).toEqual(['exception']);
    }
    expect(attempts[2]).toMatchObject({ status: { code: STATUS.UNSET }, attributes: { 'tasks.outcome': 'completed' } });
  });

  it('marks a failure for good with its error type', () => {
    const rejectedId = produced.one[2] as string;
    const [run, ...others] = processSpans(rejectedId);
    expect(others).toEqual([]);
    expect(run).toMatchObject({
      parentSpanId: producerSpan('send', rejectedId).spanId,
      status: { code: STATUS.ERROR, message: 'bad input: traced' },
      attributes: { 'error.type': 'NonRetriableError', 'tasks.outcome': 'failed' },
    });
  });

  it('links the batch send of enqueueMany to one create span per job, each the parent of its run', () => {
    const creates = produced.many.map((id) => producerSpan('create', id));
    for (const create of creates) {
      expect(create).toMatchObject({ kind: KIND.PRODUCER, parentSpanId: produced.request.spanId, attributes: { 'messaging.operation.type': 'create' } });
    }
    const batch = spansIn(file).filter((s) => s.process === 'producer' && s.attributes['messaging.batch.message_count'] === 2);
    expect(batch).toHaveLength(1);
    expect(batch[0]).toMatchObject({ name: `send ${TASKS_QUEUE}`, kind: KIND.PRODUCER, parentSpanId: produced.request.spanId });
    expect(batch[0]?.links.map((link) => link.spanId).sort()).toEqual(creates.map((create) => create.spanId).sort());
    produced.many.forEach((id, i) => {
      const [run] = processSpans(id);
      expect(run?.parentSpanId).toBe(creates[i]?.spanId);
      expect(run?.traceId).toBe(produced.request.traceId);
    });
  });
});

const PROCESS_TIMEOUT = { timeout: 180_000 };

describe('OpenTelemetry spans of cron runs', PROCESS_TIMEOUT, () => {
  const scenarios = cronScenarios();

  it('has one span per run with the job, its tick, its fencing token and its outcome', async () => {
    const s = await scenarios.create('cron_traces');
    const dir = mkdtempSync(join(tmpdir(), 'tasks-cron-traces-'));
    const file = join(dir, 'spans.jsonl');
    try {
      const otel = { NODE_OPTIONS: `--import ${REGISTER}`, OTEL_TEST_SPANS_FILE: file, OTEL_TEST_PROCESS: 'worker' };
      await s.startWorker(['tick', 'failing'], { env: otel });
      await s.startScheduler(['tick', 'failing']);
      await s.waitForRuns('fixture.failing', (rows) => withStatus(rows, 'FAILED').length >= 1, 'a failed run');
      await s.waitForRuns('fixture.tick', (rows) => withStatus(rows, 'COMPLETED').length >= 1, 'a completed run');
      const { rows: ticks } = await s.settle('fixture.tick');
      const failing = await s.runs('fixture.failing');
      const cronSpans = await waitFor(
        () => {
          const spans = spansIn(file).filter((span) => span.name === `process ${CRON_QUEUE}`);
          return spans.length >= ticks.length + failing.length ? spans : undefined;
        },
        { timeoutMs: 10_000, what: 'a span for every cron run' },
      );
      const spanOf = (row: { id: number; jobName: string }) =>
        cronSpans.find((span) => span.attributes['tasks.cron.name'] === row.jobName && span.attributes['tasks.cron.run_id'] === row.id);
      const completed = withStatus(ticks, 'COMPLETED')[0];
      if (!completed) throw new Error('no completed run of fixture.tick');
      expect(spanOf(completed)).toMatchObject({
        kind: KIND.CONSUMER,
        status: { code: STATUS.UNSET },
        attributes: {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'messaging.destination.name': CRON_QUEUE,
          'tasks.cron.name': 'fixture.tick',
          'tasks.cron.tick': new Date(completed.scheduledAt).toISOString(),
          'tasks.cron.trigger': 'schedule',
          'tasks.cron.fencing_token': completed.fencingToken,
          'tasks.outcome': 'COMPLETED',
        },
      });
      const failed = withStatus(failing, 'FAILED')[0];
      if (!failed) throw new Error('no failed run of fixture.failing');
      expect(spanOf(failed)).toMatchObject({
        status: { code: STATUS.ERROR, message: `fixture failure of run ${failed.id}` },
        attributes: { 'tasks.cron.fencing_token': failed.fencingToken, 'tasks.outcome': 'FAILED', 'error.type': 'Error' },
      });
      // Every tick has its span: one per row a run wrote, whatever its status.
      for (const row of ticks.filter((r) => r.status !== 'SKIPPED' && r.status !== 'MISSED')) expect(spanOf(row), `span of run ${row.id}`).toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
