import { Injectable } from '@nestjs/common';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { duplicateCronName } from '../tasks.messages.js';
import type { CronMetadata } from './cron.decorator.js';
import type { CronRunContext } from './cron-run-context.js';

export interface RegisteredCron extends CronMetadata {
  /** `Class.method`, for messages and logs. */
  readonly source: string;
  /** The handler wrapped in its interceptors (lock, tracking, user ones). */
  readonly invoke: (context: CronRunContext) => Promise<unknown>;
}

/** Every cron job of this application, by name. */
@Injectable()
export class CronRegistry {
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
}
