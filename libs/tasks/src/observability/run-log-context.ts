import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { PinoLogger } from 'nestjs-pino';
import type { Bindings, Logger } from 'pino';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { loggerModuleMissing } from '../errors/tasks.messages.js';
import { importNestjsPino } from '../peers/optional-peers.js';
import { TasksEvents } from '../events/tasks-events.js';

/**
 * The logging context of a run: every line logged while it runs, by the
 * library or by the user's injected PinoLogger, carries the run's bindings
 * (task, jobId, attempt; jobName, then runId and fencingToken for crons once
 * the run is claimed). nestjs-pino is an optional peer, loaded when the worker starts.
 */
@Injectable()
export class RunLogContext {
  private pino?: PinoLogger;

  constructor(
    private readonly moduleRef: ModuleRef,
    events: TasksEvents,
  ) {
    // Emitted inside the run's context, so the fields join every later line of that run.
    events.on('cron.run.claimed', ({ runId, fencingToken }) => {
      if (runId !== undefined && this.pino) this.pino.assign({ runId, fencingToken });
    });
  }

  /** Fails the worker's boot with a message naming nestjs-pino, or its LoggerModule, when either is missing. */
  async connect(): Promise<void> {
    if (this.pino) return;
    const { PinoLogger: PinoLoggerClass } = await importNestjsPino();
    try {
      this.pino = await this.moduleRef.resolve(PinoLoggerClass, undefined, { strict: false });
    } catch (error) {
      throw new TasksConfigurationError(loggerModuleMissing(), { cause: error });
    }
  }

  run<T>(bindings: Bindings, fn: () => T): T {
    return this.ready().runInContext(fn, { bindings });
  }

  /**
   * The current run's pino logger. The library's own per-run lines go to it
   * directly: PinoLogger's wrapper copies the arguments of every call.
   */
  get logger(): Logger {
    return this.ready().logger;
  }

  private ready(): PinoLogger {
    if (!this.pino) throw new Error('RunLogContext used before connect()');
    return this.pino;
  }
}
