import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { runScheduler, runWorker, workerQueuesFromEnv } from 'nestjs-tasks';
import type { LibRole } from '../shared/protocol.js';
import { serveOrchestrator } from '../shared/samples.js';
import { BenchTaskWorkerModule } from './bench-tasks.js';
import { BenchCronModule, timeCronPipeline } from './bench-cron.js';

// Children of `npm run bench` that run the library exactly as apps/worker and
// apps/scheduler do (runWorker / runScheduler, LOG_LEVEL info to stdout).
const role = process.env.BENCH_ROLE as LibRole;

async function boot(): Promise<INestApplicationContext> {
  switch (role) {
    case 'lib-worker':
      // WORKER_QUEUES gives each queue its concurrency on the several-queues side, as in apps/worker.
      return runWorker(BenchTaskWorkerModule, { queues: workerQueuesFromEnv() });
    case 'lib-cron-worker':
      timeCronPipeline();
      return runWorker(BenchCronModule);
    case 'lib-scheduler':
      return runScheduler(BenchCronModule);
    default:
      throw new Error(`Unknown BENCH_ROLE "${String(role)}"`);
  }
}

const app = await boot();
serveOrchestrator(() => app.close());
