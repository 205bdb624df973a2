import type { Params } from 'nestjs-pino';

/** nestjs-pino settings shared by the example apps: JSON lines on stdout at LOG_LEVEL. */
export function loggerParams(): Params {
  return { pinoHttp: { level: process.env.LOG_LEVEL ?? 'info' } };
}
