import { Injectable } from '@nestjs/common';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { duplicateCronName } from '../errors/tasks.messages.js';
import { catchUpToText, type CronMetadata } from './cron.decorator.js';
import type { DeclaredSchedule } from '../tracking/schedule.store.js';
import type { CronContext } from './cron-context.js';

export interface RegisteredCron extends CronMetadata {
  /** `Class.method`, for messages and logs. */
  readonly source: string;
  /** The library's own maintenance crons. */
  readonly internal: boolean;
  /** The handler, wrapped in the user's interceptors when it has any. */
  readonly invoke: (context: CronContext) => Promise<unknown>;
}

/**
 * The cron definitions of this process, by name, as the explorer found them.
 * Internal: apps steer crons through `CronRegistry`.
 */
@Injectable()
export class CronCatalog {
  private readonly crons = new Map<string, RegisteredCron>();

  register(cron: RegisteredCron): void {
    const existing = this.crons.get(cron.name);
    if (existing) throw new TasksConfigurationError(duplicateCronName(cron.name, existing.source, cron.source));
    this.crons.set(cron.name, cron);
  }

  get(name: string): RegisteredCron | undefined {
    return this.crons.get(name);
  }

  all(): RegisteredCron[] {
    return [...this.crons.values()];
  }

  names(): string[] {
    return [...this.crons.keys()].sort();
  }

  /** Each cron as the code declares it, with its next tick after `now`: what a scheduler reconciles the schedule store with at boot. */
  declaredSchedules(now: number): DeclaredSchedule[] {
    return this.all().map((cron) => ({
      name: cron.name,
      expression: cron.expression,
      timeZone: cron.timeZone,
      catchUp: catchUpToText(cron.catchUp),
      overlap: cron.overlap,
      source: cron.source,
      internal: cron.internal,
      nextTick: cron.schedule.nextTick(now),
    }));
  }
}
