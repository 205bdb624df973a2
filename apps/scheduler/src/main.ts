import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { SchedulerModule } from './scheduler.module.js';

const app = await NestFactory.createApplicationContext(SchedulerModule, { bufferLogs: true, abortOnError: false });
app.useLogger(app.get(Logger));
app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
