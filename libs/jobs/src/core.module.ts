import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { LoggerModule, type Params } from 'nestjs-pino';
import { TasksModule, tasksOptionsFromEnv } from 'nestjs-tasks';
import { appBullOptions } from './app-bull-options.js';
import { DatabaseModule } from './database/database.module.js';
import { loggerParams } from './logger-params.js';

export interface CoreModuleOptions {
  /** nestjs-pino settings; default loggerParams(). */
  logger?: Params;
}

/**
 * What every process of the app needs, set up once from the environment: logs,
 * the task library, the database and the app's own BullMQ root (which opens no
 * connection until a module registers a queue). Each app's root module imports
 * it, the feature modules every process shares (JobsModule), and then what
 * that process alone runs.
 */
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions = {}): DynamicModule {
    // The environment is read while the app boots, not when this module is
    // declared: a bad variable then fails the boot, which reports it as its
    // first line, instead of failing the import with a source excerpt first.
    return {
      module: CoreModule,
      imports: [
        LoggerModule.forRoot(options.logger ?? loggerParams()),
        TasksModule.forRootAsync({ useFactory: () => tasksOptionsFromEnv() }),
        DatabaseModule,
        BullModule.forRootAsync({ useFactory: () => appBullOptions(tasksOptionsFromEnv()) }),
      ],
    };
  }
}
