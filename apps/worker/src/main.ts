import 'reflect-metadata';
import { runWorker, workerQueuesFromEnv } from 'nestjs-tasks';
import { reportBootFailure } from 'nestjs-tasks/extras';
import { WorkerModule } from './worker.module.js';

// WORKER_QUEUES (e.g. "reports:2,default") makes this process a pool of those queues only.
let queues;
try {
  queues = workerQueuesFromEnv();
} catch (error) {
  reportBootFailure(error);
  process.exit(1);
}
await runWorker(WorkerModule, { queues });
