import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { assertRedisReachable } from './redis-connections.js';

/** Fails the boot within seconds, naming Redis and how to start it, when it is not reachable. */
@Injectable()
export class RedisPreflight implements OnModuleInit {
  constructor(@Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions) {}

  onModuleInit(): Promise<void> {
    return assertRedisReachable(this.options.redisUrl, this.options.redisTls);
  }
}
