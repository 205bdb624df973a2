import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BullModule, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { Logger, LoggerModule, PinoLogger } from 'nestjs-pino';
import { loggerParams } from '@app/jobs/logger-params.js';
import { TASKS_QUEUE, bullmqConnection } from '#nestjs-tasks-internal';
import { NAMES, type NestBullmqRole } from '../shared/protocol.js';
import { plainSettings, type PlainPolicy } from '../shared/plain-policy.js';
import { countNoop, serveOrchestrator } from '../shared/samples.js';
import { runLogged } from '../shared/task-lines.js';

// The peer a Nest user picks today, as a child of `npm run bench`:
// @nestjs/bullmq, a `@Processor` class extending `WorkerHost` in a Nest
// application context, with Nest's default logger at `warn` (logging nothing
// per job), or with BENCH_TASK_LINES=1 logging what the library logs per job
// (below). Configured like the plain BullMQ baseline (plain-roles.ts):
// the same connections, lockDuration/stalledInterval and concurrency, and the
// job retention of shared/plain-policy.ts, so that Nest and @nestjs/bullmq
// are the only difference from it.
const role = process.env.BENCH_ROLE as NestBullmqRole;
if (role !== 'nest-bullmq-worker') throw new Error(`Unknown BENCH_ROLE "${String(role)}"`);
const prefix = process.env.TASKS_PREFIX ?? 'bench';
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 10);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// The library's retention by default: this side is only compared with the library.
const policy = plainSettings((process.env.BENCH_PLAIN_POLICY as PlainPolicy | undefined) ?? 'library');

// The worker's own connection (blocking profile) in place of the queue's, as the plain Worker has.
const workerOptions = { connection: bullmqConnection(redisUrl, 'blocking'), concurrency, lockDuration: 30_000, stalledInterval: 30_000, ...policy.worker };

// The processing scenario's no-op job, as plain-roles.ts runs it; anything else fails (and the scenario checks for failed jobs).
async function noop(job: Job): Promise<undefined> {
  if (job.name !== NAMES.noop) throw new Error(`Unexpected job "${job.name}"`);
  countNoop();
  return undefined;
}

@Processor({ name: TASKS_QUEUE }, workerOptions)
class BenchProcessor extends WorkerHost {
  override process(job: Job): Promise<undefined> {
    return noop(job);
  }
}

/**
 * BENCH_TASK_LINES=1: the same processor logging the library's two lines per
 * task through nestjs-pino, set up as the library's worker sets it up (the
 * example apps' loggerParams()), with the same bindings on a child logger.
 */
@Processor({ name: TASKS_QUEUE }, workerOptions)
class LoggingBenchProcessor extends WorkerHost {
  constructor(private readonly pino: PinoLogger) {
    super();
  }

  override process(job: Job): Promise<undefined> {
    return runLogged(this.pino.logger, job, () => noop(job));
  }
}

const taskLines = process.env.BENCH_TASK_LINES === '1';
const processor = taskLines ? LoggingBenchProcessor : BenchProcessor;

@Module({
  imports: [
    ...(taskLines ? [LoggerModule.forRoot(loggerParams())] : []),
    BullModule.forRoot({ connection: bullmqConnection(redisUrl, 'command'), prefix }),
    BullModule.registerQueue({ name: TASKS_QUEUE }),
  ],
  providers: [processor],
})
class NestBullmqModule {}

const app = taskLines
  ? await NestFactory.createApplicationContext(NestBullmqModule, { bufferLogs: true })
  : await NestFactory.createApplicationContext(NestBullmqModule, { logger: ['fatal', 'error', 'warn'] });
if (taskLines) app.useLogger(app.get(Logger));
// The explorer creates the Worker at module init; ready once it is connected, as the plain worker.
await app.get<WorkerHost>(processor).worker.waitUntilReady();
serveOrchestrator(() => app.close());
