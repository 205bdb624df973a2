import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { assertRedisReachable } from './redis-connections.js';

/**
 * Fails the boot within seconds, with one message naming Redis, the fault and
 * the fix, when Redis cannot be used (unreachable, silent, login refused, no
 * such database).
 */
@Injectable()
export class RedisPreflight implements OnModuleInit {
  private passedCheck = false;

  constructor(@Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions) {}

  /** Whether Redis answered at boot. Until then, connection errors are the check's to report, once and clearly. */
  get passed(): boolean {
    return this.passedCheck;
  }

  async onModuleInit(): Promise<void> {
    await assertRedisReachable(this.options);
    this.passedCheck = true;
  }
}
