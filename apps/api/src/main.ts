import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ApiModule } from './api.module.js';

const app = await NestFactory.create(ApiModule, { bufferLogs: true, abortOnError: false });
app.useLogger(app.get(Logger));
// Exit 0 after a clean stop, as the worker and scheduler do.
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
const port = Number(process.env.PORT ?? 3000);
// Loopback by default; the container sets HOST=0.0.0.0.
await app.listen(port, process.env.HOST ?? '127.0.0.1');
app.get(Logger).log(`api listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
