import 'reflect-metadata';
import { runWorker } from 'nestjs-tasks';
import { WorkerModule } from './worker.module.js';

await runWorker(WorkerModule);
