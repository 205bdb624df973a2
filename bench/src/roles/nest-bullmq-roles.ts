import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BullModule, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { TASKS_QUEUE, bullmqConnection } from '#nestjs-tasks-internal';
import { NAMES, type NestBullmqRole } from '../shared/protocol.js';
import { plainSettings, type PlainPolicy } from '../shared/plain-policy.js';
import { serveOrchestrator } from '../shared/samples.js';

// The peer a Nest user picks today, as a child of `npm run bench`:
// @nestjs/bullmq, a `@Processor` class extending `WorkerHost` in a Nest
// application context, with Nest's default logger at `warn` (an app does not
// log per job). Configured like the plain BullMQ baseline (plain-roles.ts):
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

@Processor(
  { name: TASKS_QUEUE },
  // The worker's own connection (blocking profile) in place of the queue's, as the plain Worker has.
  { connection: bullmqConnection(redisUrl, 'blocking'), concurrency, lockDuration: 30_000, stalledInterval: 30_000, ...policy.worker },
)
class BenchProcessor extends WorkerHost {
  // The processing scenario's no-op job, as plain-roles.ts runs it; anything else fails (and the scenario checks for failed jobs).
  override async process(job: Job): Promise<undefined> {
    if (job.name !== NAMES.noop) throw new Error(`Unexpected job "${job.name}"`);
    return undefined;
  }
}

@Module({
  imports: [BullModule.forRoot({ connection: bullmqConnection(redisUrl, 'command'), prefix }), BullModule.registerQueue({ name: TASKS_QUEUE })],
  providers: [BenchProcessor],
})
class NestBullmqModule {}

const app = await NestFactory.createApplicationContext(NestBullmqModule, { logger: ['fatal', 'error', 'warn'] });
// The explorer creates the Worker at module init; ready once it is connected, as the plain worker.
await app.get(BenchProcessor).worker.waitUntilReady();
serveOrchestrator(() => app.close());
