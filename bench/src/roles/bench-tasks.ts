import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import { Task, TasksModule, tasksOptionsFromEnv, type TasksModuleOptions } from 'nestjs-tasks';
import { loggerParams } from '@app/jobs/logger-params.js';
import { preciseNow } from '../shared/clock.js';
import { EXTRA_QUEUES, NAMES, queuedNoopName } from '../shared/protocol.js';
import { countNoop, recordLatency } from '../shared/samples.js';

/** The tasks of the processing, latency and round-trip scenarios. */
@Injectable()
export class BenchTasks {
  @Task({ name: NAMES.noop })
  async noop(_payload: { n: number }): Promise<void> {
    countNoop();
  }

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

/** The same no-op on each of the extra queues, for the several-queues side. */
@Injectable()
export class BenchQueuedTasks {
  @Task({ name: queuedNoopName(EXTRA_QUEUES[0]), queue: EXTRA_QUEUES[0] })
  async q2(_payload: { n: number }): Promise<void> {
    countNoop();
  }

  @Task({ name: queuedNoopName(EXTRA_QUEUES[1]), queue: EXTRA_QUEUES[1] })
  async q3(_payload: { n: number }): Promise<void> {
    countNoop();
  }

  @Task({ name: queuedNoopName(EXTRA_QUEUES[2]), queue: EXTRA_QUEUES[2] })
  async q4(_payload: { n: number }): Promise<void> {
    countNoop();
  }

  @Task({ name: queuedNoopName(EXTRA_QUEUES[3]), queue: EXTRA_QUEUES[3] })
  async q5(_payload: { n: number }): Promise<void> {
    countNoop();
  }
}

/**
 * Worker of the task scenarios: what `apps/worker` is, with the bench's tasks
 * and no crons; with BENCH_QUEUES=several, the tasks of the extra queues too
 * (so it consumes all five).
 */
@Module({
  imports: [LoggerModule.forRoot(loggerParams()), TasksModule.forRoot(tasksOptionsFromEnv())],
  providers: process.env.BENCH_QUEUES === 'several' ? [BenchTasks, BenchQueuedTasks] : [BenchTasks],
})
export class BenchTaskWorkerModule {}

@Module({})
class BenchClientModule {}

/** The producer side, in the orchestrator: a TaskClient under `options.prefix`, logging to `logger`. */
export function benchClientModule(options: TasksModuleOptions, logger: Params): DynamicModule {
  return {
    module: BenchClientModule,
    imports: [LoggerModule.forRoot(logger), TasksModule.forRoot(options)],
    providers: [BenchTasks, BenchQueuedTasks],
  };
}
