import { Controller, Get, Inject, Req, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Request } from 'express';
import { TasksHealthIndicator } from 'nestjs-tasks';
import { PublicRoute } from '../auth/auth.decorators.js';
import { verifyToken } from '../auth/tokens.js';
import { API_CONFIG, type ApiConfig } from '../config/api-config.js';

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Probes, without a token. Liveness answers as long as the process serves
 * HTTP at all; readiness (and Kamal's `/up`) needs Redis, on every connection
 * this api enqueues and waits for results with, and Postgres, so a load
 * balancer stops sending requests while either is unreachable. Anyone gets
 * each check's up/down; what the checks found (the prefix, causes that name
 * an address) only a caller with an operator token.
 */
@Controller()
@PublicRoute()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tasks: TasksHealthIndicator,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck()
  ready(@Req() request: Request): Promise<HealthCheckResult> {
    return this.readiness(request);
  }

  /** Kamal's proxy probes `/up` before it routes traffic to a new container. */
  @Get('up')
  @HealthCheck()
  up(@Req() request: Request): Promise<HealthCheckResult> {
    return this.readiness(request);
  }

  private async readiness(request: Request): Promise<HealthCheckResult> {
    let result: HealthCheckResult;
    let ready = true;
    try {
      // POST /uploads/:id/process?wait=true waits for results on the default queue: its reader is checked (and opened) too.
      result = await this.health.check([() => this.tasks.redis('redis', { results: ['default'] }), () => this.tasks.database()]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      result = error.getResponse() as HealthCheckResult;
      ready = false;
    }
    const shown = this.isOperator(request) ? result : statusesOnly(result);
    if (!ready) throw new ServiceUnavailableException(shown);
    return shown;
  }

  /** A probe sends no token, and a bad one is no reason to fail it: without a valid operator token the answer is the anonymous one. */
  private isOperator(request: Request): boolean {
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) return false;
    const verified = verifyToken(token, this.config.authSecret);
    return verified.ok && verified.claims.role === 'operator';
  }
}

/** terminus' answer with each check's status only. */
function statusesOnly({ status, info, error, details }: HealthCheckResult): HealthCheckResult {
  const only = (checks: Partial<HealthIndicatorResult> = {}): HealthIndicatorResult =>
    Object.fromEntries(Object.entries(checks).flatMap(([name, check]) => (check ? [[name, { status: check.status }]] : [])));
  return { status, info: only(info), error: only(error), details: only(details) };
}
