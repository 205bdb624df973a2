import 'reflect-metadata';
import { runScheduler } from '@app/tasks';
import { SchedulerModule } from './scheduler.module.js';

await runScheduler(SchedulerModule);
