// The library's per-job code in a loop, without Redis or BullMQ in the way:
// TaskRunner.run on a fake job of a no-op task, in a Nest application context
// with nestjs-pino and the library's metrics, CPU time per run over 7 rounds.
// An investigation tool for docs/benchmarks.md, not part of `npm run bench`.
//
//   npm run build:lib && node bench/loops/task-runner-loop.mjs
//   LOG_LEVEL=warn node bench/loops/task-runner-loop.mjs     # without the two lines
//   DEST=null|sonic|pino node bench/loops/task-runner-loop.mjs    # lines to nowhere, to sonic-boom
//     with a 100 ms periodic flush, or pino.destination({ sync: false, minLength: 4096 }) (pino's documented buffered mode)
//   METRICS=false …; HEAPPROF=1 … (allocations, also of collected objects, to /tmp/alloc.heapprofile)
import 'reflect-metadata';
import { openSync } from 'node:fs';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { pino } from 'pino';
import { Task, TasksModule } from 'nestjs-tasks';
import { bufferedLogDestination } from 'nestjs-tasks/extras';
import { TaskRunner } from '../../libs/tasks/dist/esm/worker/task-runner.js';
import { RunLogContext } from '../../libs/tasks/dist/esm/observability/run-log-context.js';
import { TaskCatalog } from '../../libs/tasks/dist/esm/task/task.catalog.js';
import { JobAbort } from '../../libs/tasks/dist/esm/task/job-abort.js';

class Noop { async noop(_p) {} }
Task({ name: 'noop' })(Noop.prototype, 'noop', Object.getOwnPropertyDescriptor(Noop.prototype, 'noop'));
Injectable()(Noop);
const level = process.env.LOG_LEVEL ?? 'info';
const mode = process.env.DEST ?? 'lib';
const out = process.env.LOG_FILE ?? '/tmp/task-runner-loop.log';
const dest =
  mode === 'null'
    ? { write: () => true }
    : mode === 'sonic'
      ? pino.destination({ dest: out, sync: false, minLength: 4096, periodicFlush: 100 })
      : mode === 'pino'
        ? pino.destination({ dest: openSync(out, 'a'), sync: false, minLength: 4096 })
      : bufferedLogDestination({ fd: openSync(out, 'a') });
class M {}
Module({ imports: [LoggerModule.forRoot({ pinoHttp: [{ level }, dest] }), TasksModule.forRoot({ redisUrl: 'redis://127.0.0.1:6379', prefix: 'task-runner-loop', metrics: process.env.METRICS !== 'false' })], providers: [Noop] })(M);
const app = await NestFactory.createApplicationContext(M, { logger: false });
await app.init();
const runner = app.get(TaskRunner);
await app.get(RunLogContext).connect();
const task = app.get(TaskCatalog).get('noop');
const job = { id: '123', name: 'noop', queueName: 'tasks.default', attemptsMade: 0, opts: { attempts: 3 }, data: { n: 1 }, timestamp: Date.now() };
async function round(n) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await runner.run({ task, job, abort: new JobAbort() });
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}
await round(20000);
if (process.env.HEAPPROF) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session(); session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  await round(20000);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  writeFileSync('/tmp/alloc.heapprofile', JSON.stringify(profile));
}
const rs = [];
for (let r = 0; r < 7; r++) rs.push(await round(50000));
rs.sort((a, b) => a - b);
console.log(`${mode} level=${level} µs/run median ${rs[3].toFixed(2)} min ${rs[0].toFixed(2)} max ${rs[6].toFixed(2)}`);
await app.close();
process.exit(0);
