import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { TasksHealthIndicator } from 'nestjs-tasks';
import { PublicRoute } from '../auth/auth.decorators.js';

/**
 * Probes, without a token. Liveness answers as long as the process serves
 * HTTP at all; readiness (and Kamal's `/up`) needs Redis and Postgres, so a
 * load balancer stops sending requests while either is unreachable.
 */
@Controller()
@PublicRoute()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tasks: TasksHealthIndicator,
  ) {}

  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.tasks.redis(), () => this.tasks.database()]);
  }

  /** Kamal's proxy probes `/up` before it routes traffic to a new container. */
  @Get('up')
  @HealthCheck()
  up(): Promise<HealthCheckResult> {
    return this.ready();
  }
}
