import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger, LoggerModule } from 'nestjs-pino';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Redlock } from '@sesamecare-oss/redlock';
import { DatabaseModule } from '@app/jobs/database/database.module.js';
import { loggerParams } from '@app/jobs/logger-params.js';
import { CRON_QUEUE, TASKS_QUEUE, bullmqConnection, parseRedisUrl } from '#nestjs-tasks-internal';
import type { StackRole } from '../shared/protocol.js';
import { serveOrchestrator } from '../shared/samples.js';

// The memory reference of `npm run bench`: the stack the issue prescribes
// (Nest application context, nestjs-pino, TypeORM on Postgres, BullMQ workers
// on the task and cron queues, Redlock), booted the way apps/worker is, but
// without the library.
const role = process.env.BENCH_ROLE as StackRole;
if (role !== 'stack-idle') throw new Error(`Unknown BENCH_ROLE "${String(role)}"`);

@Module({ imports: [LoggerModule.forRoot(loggerParams()), DatabaseModule] })
class StackModule {}

const app = await NestFactory.createApplicationContext(StackModule, { bufferLogs: true });
app.useLogger(app.get(Logger));
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.TASKS_PREFIX ?? 'bench';
const workers = [TASKS_QUEUE, CRON_QUEUE].map((queue) => new Worker(queue, async () => undefined, { connection: bullmqConnection(redisUrl, 'blocking'), prefix }));
await Promise.all(workers.map((worker) => worker.waitUntilReady()));
const redis = new Redis(parseRedisUrl(redisUrl));
const redlock = new Redlock([redis], { retryCount: 0 });
await (await redlock.acquire([`${prefix}:idle-lock`], 1_000)).release();
serveOrchestrator(async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  redis.disconnect();
  await app.close();
});
