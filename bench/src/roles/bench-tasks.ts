import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import { Task, TasksModule, tasksOptionsFromEnv, type TasksModuleOptions } from 'nestjs-tasks';
import { loggerParams } from '@app/jobs/logger-params.js';
import { preciseNow } from '../shared/clock.js';
import { NAMES } from '../shared/protocol.js';
import { recordLatency } from '../shared/samples.js';

/** The tasks of the processing, latency and round-trip scenarios. */
@Injectable()
export class BenchTasks {
  @Task({ name: NAMES.noop })
  async noop(_payload: { n: number }): Promise<void> {}

  /** Records when it started against the enqueue time the producer put in the payload. */
  @Task({ name: NAMES.stamp })
  async stamp(payload: { sentAt: number }): Promise<void> {
    recordLatency([payload.sentAt, preciseNow()]);
  }

  @Task({ name: NAMES.echo })
  async echo(payload: { n: number }): Promise<{ n: number }> {
    return payload;
  }
}

/** Worker of the task scenarios: what `apps/worker` is, with the bench's tasks and no crons. */
@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(tasksOptionsFromEnv())],
  providers: [BenchTasks],
})
export class BenchTaskWorkerModule {}

@Module({})
class BenchClientModule {}

/** The producer side, in the orchestrator: a TaskClient under `options.prefix`, logging to `logger`. */
export function benchClientModule(options: TasksModuleOptions, logger: Params): DynamicModule {
  return {
    module: BenchClientModule,
    imports: [LoggerModule.forRoot(logger), TasksModule.forRoot(options)],
    providers: [BenchTasks],
  };
}
