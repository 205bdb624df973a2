import 'reflect-metadata';
import { runScheduler } from 'nestjs-tasks';
import { SchedulerModule } from './scheduler.module.js';

await runScheduler(SchedulerModule);
