import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { CoreModule, EmailsModule, JobsModule } from '@app/jobs';
import { AuthGuard } from './auth/auth.guard.js';
import { API_CONFIG, type ApiConfig } from './config/api-config.js';
import { CronController } from './cron/cron.controller.js';
import { EmailsController } from './emails/emails.controller.js';
import { StreamSlots } from './events/stream-slots.js';
import { UserEventsController } from './events/user-events.controller.js';
import { JobOwners } from './jobs/job-owners.js';
import { JobsController } from './jobs/jobs.controller.js';
import { rateLimitModule } from './limits/rate-limits.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './health/metrics.controller.js';
import { apiLoggerParams } from './logging/api-logger-params.js';
import { UploadsController } from './uploads/uploads.controller.js';

@Module({})
export class ApiModule {
  /** The api, with its settings read by apiConfigFromEnv() (main.ts refuses to boot without them). */
  static register(config: ApiConfig): DynamicModule {
    return {
      module: ApiModule,
      // Shared infrastructure and tasks, then the api's own: the emails queue it adds to (the worker consumes it).
      imports: [
        CoreModule.forRoot({ logger: apiLoggerParams() }),
        JobsModule,
        EmailsModule,
        // Its own log lines go through Nest's logger, which is pino here.
        TerminusModule.forRoot({ errorLogStyle: 'json' }),
        // Per-user limits on enqueues and cron triggers, counted in Redis across replicas.
        rateLimitModule(config),
      ],
      controllers: [UploadsController, EmailsController, JobsController, CronController, UserEventsController, HealthController, MetricsController],
      providers: [
        { provide: API_CONFIG, useValue: config },
        // Every route needs an access token: a route added later cannot forget it.
        { provide: APP_GUARD, useClass: AuthGuard },
        StreamSlots,
        JobOwners,
      ],
    };
  }
}
