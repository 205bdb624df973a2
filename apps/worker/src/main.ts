import 'reflect-metadata';
import { runWorker } from '@app/tasks';
import { WorkerModule } from './worker.module.js';

await runWorker(WorkerModule);
