import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { redactError, redactSecrets } from '../redaction/redact.js';
import { TasksError } from '../errors/tasks.errors.js';

/**
 * Writes why a process could not start as its first line on stderr: one line,
 * `Name: message`, ahead of any stack or driver dump. The library's boot
 * errors name the service, the redacted URL, the variable and the fix.
 * Credentials a driver put in any other error (a URL with a password in its
 * message, stack, properties or causes) are masked, in the line and in the
 * error itself, so that rethrowing it prints none either; the library's own
 * errors are worded with the URLs redacted already.
 */
export function reportBootFailure(error: unknown): void {
  if (!(error instanceof TasksError)) redactError(error);
  const line = error instanceof Error ? `${error.name}: ${error.message}` : `Boot failed: ${redactSecrets(String(error))}`;
  process.stderr.write(`${line.replace(/\s*\n\s*/g, ' ')}\n`);
}

/**
 * A Nest application context whose start-up lines stay buffered (behind the
 * logger given, nestjs-pino's Logger, when the app provides it) until the
 * caller's boot is complete and it calls `app.flushLogs()`: a failed boot
 * starts its output with the reason rather than with Nest's progress lines.
 */
export async function createBootedContext(module: Type<unknown>, logger?: Type<unknown>): Promise<INestApplicationContext> {
  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(module, { bufferLogs: true, autoFlushLogs: false, abortOnError: false });
  } catch (error) {
    reportBootFailure(error);
    throw error;
  }
  useLogger(app, logger);
  return app;
}

/** Routes Nest's own lines through `logger` when the app provides it. */
function useLogger(app: INestApplicationContext, logger: Type<unknown> | undefined): void {
  let instance: unknown;
  if (logger) {
    try {
      instance = app.get(logger, { strict: false });
    } catch {
      instance = undefined;
    }
  }
  if (instance) app.useLogger(instance as Parameters<INestApplicationContext['useLogger']>[0]);
}

/**
 * Runs the role's start (a worker's consumers, a scheduler's timers) on a
 * booted context, then flushes the buffered start-up lines. A start that
 * fails is reported as the first line on stderr and closes the context.
 */
export async function startOrReport(app: INestApplicationContext, start: () => Promise<void>): Promise<void> {
  try {
    await start();
    app.flushLogs();
  } catch (error) {
    reportBootFailure(error);
    await app.close().catch(() => undefined);
    throw error;
  }
}
