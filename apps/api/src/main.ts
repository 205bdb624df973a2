import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import { reportBootFailure } from 'nestjs-tasks/extras';
import { ApiModule } from './api.module.js';
import { ApiConfigError, apiConfigFromEnv, type ApiConfig } from './config/api-config.js';

/**
 * The api's own variables, API_AUTH_SECRET above all: a missing or bad one
 * stops the boot with one line saying which and what to do (never the value),
 * before anything connects.
 */
function readConfig(): ApiConfig | undefined {
  try {
    return apiConfigFromEnv(process.env);
  } catch (error) {
    if (!(error instanceof ApiConfigError)) throw error;
    process.stderr.write(`api: ${error.message}\n`);
    process.exitCode = 1;
    return undefined;
  }
}

async function bootstrap(config: ApiConfig): Promise<void> {
  // Start-up lines stay buffered until the api listens, so a failed boot (Redis
  // or Postgres unusable) starts its output with the reason.
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.register(config), {
    bufferLogs: true,
    autoFlushLogs: false,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // Answers are data: "<", ">" and "&" in JSON go out as \u003c, \u003e, \u0026 (the same values), and
  // no browser may sniff an answer into HTML, so text the api keeps as given (a pause reason) never acts as markup.
  app.set('json escape', true);
  app.use((_request: Request, response: Response, next: NextFunction) => {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  // Repeated parameters become arrays (which readQuery refuses); `a[b]=` stays a plain (unknown) name.
  app.set('query parser', 'simple');
  // Exit 0 after a clean stop, as the worker and scheduler do.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env.PORT ?? 3000);
  // Loopback by default; the container sets HOST=0.0.0.0.
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  app.flushLogs();
  app.get(Logger).log(`api listening on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
}

const config = readConfig();
if (config) {
  try {
    await bootstrap(config);
  } catch (error) {
    reportBootFailure(error);
    throw error;
  }
}
