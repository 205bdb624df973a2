import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Bindings, Logger } from 'pino';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { RunLogContext } from '../observability/run-log-context.js';
import { importNestjsPinoIfInstalled } from '../peers/optional-peers.js';

/** A pino logger that writes nothing, for runs in a test without nestjs-pino's LoggerModule. */
function silentLogger(): Logger {
  const noop = () => undefined;
  const logger: Record<string, unknown> = { level: 'silent', trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, silent: noop, isLevelEnabled: () => false };
  logger.child = () => logger;
  return logger as unknown as Logger;
}

/**
 * The run log context of the kit: production's when the test registers
 * nestjs-pino's LoggerModule (every line of a run, the library's and those
 * of the handler's injected PinoLogger, carries task, jobId and attempt);
 * else runs log nothing, and nestjs-pino need not be installed.
 */
@Injectable()
export class TestingRunLogContext extends RunLogContext implements OnModuleInit {
  private silent?: Logger;

  /** Connected before anything runs: no job or cron run of the kit waits for the worker's boot that production's wait for. */
  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  override async connect(): Promise<void> {
    if (this.silent) return;
    if (!(await importNestjsPinoIfInstalled())) {
      this.silent = silentLogger();
      return;
    }
    try {
      await super.connect();
    } catch (error) {
      // LoggerModule is not registered: a test of code that logs through Nest's Logger, or not at all.
      if (!(error instanceof TasksConfigurationError)) throw error;
      this.silent = silentLogger();
    }
  }

  override run<T>(bindings: Bindings, fn: () => T): T {
    return this.silent ? fn() : super.run(bindings, fn);
  }

  override get logger(): Logger {
    return this.silent ?? super.logger;
  }
}
