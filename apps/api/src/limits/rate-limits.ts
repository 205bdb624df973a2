import { Inject, Injectable, SetMetadata, UseGuards, applyDecorators, type DynamicModule, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerModule,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Request } from 'express';
import type { Redis } from 'ioredis';
import { TASKS_REDIS } from 'nestjs-tasks/extras';
import { principalOf } from '../auth/auth.decorators.js';
import { API_CONFIG, type ApiConfig, type RateLimitKind } from '../config/api-config.js';

const RATE_LIMIT_KIND = 'api:rateLimitKind';

const KINDS: Record<RateLimitKind, { what: string; variable: string }> = {
  enqueue: { what: 'enqueue tasks', variable: 'RATE_LIMIT_ENQUEUE' },
  cronTrigger: { what: 'trigger cron jobs', variable: 'RATE_LIMIT_CRON_TRIGGER' },
};

/**
 * The per-user limits' counters, in Redis (the app's namespace), so that every
 * replica of the api counts against the same budget: behind a load balancer a
 * user's requests spread over all of them.
 */
export function rateLimitModule(config: ApiConfig): DynamicModule {
  return ThrottlerModule.forRootAsync({
    inject: [TASKS_REDIS],
    useFactory: (redis: Redis): ThrottlerModuleOptions => ({
      // One throttler; UserRateLimitGuard gives it each route's limit. Named "default" for the plain Retry-After header.
      throttlers: [{ name: 'default', limit: config.rateLimits.enqueue, ttl: config.rateLimitWindowMs }],
      storage: new ThrottlerStorageRedisService(redis),
    }),
  });
}

@Injectable()
export class UserRateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    super(options, storage, reflector);
  }

  protected override handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const kind = this.kindOf(request.context);
    const windowMs = this.config.rateLimitWindowMs;
    return super.handleRequest({
      ...request,
      limit: this.config.rateLimits[kind],
      ttl: windowMs,
      blockDuration: windowMs,
      generateKey: (_context, tracker) => `rate:${kind}:${tracker}`,
    });
  }

  protected override getTracker(request: Record<string, unknown>): Promise<string> {
    return Promise.resolve(principalOf(request as unknown as Request).userId);
  }

  protected override getErrorMessage(context: ExecutionContext, { tracker, limit, timeToBlockExpire }: ThrottlerLimitDetail): Promise<string> {
    const { what, variable } = KINDS[this.kindOf(context)];
    return Promise.resolve(
      `Too many requests from user "${tracker}" to ${what}: at most ${limit} per ${this.config.rateLimitWindowMs / 1_000} s ` +
        `(${variable}, RATE_LIMIT_WINDOW_MS). Try again in ${timeToBlockExpire} s.`,
    );
  }

  private kindOf(context: ExecutionContext): RateLimitKind {
    const kind = this.reflector.get<RateLimitKind | undefined>(RATE_LIMIT_KIND, context.getHandler());
    // Only @RateLimited() applies this guard, and it sets the kind.
    if (!kind) throw new Error(`${context.getClass().name}.${context.getHandler().name} uses UserRateLimitGuard without @RateLimited(kind)`);
    return kind;
  }
}

/**
 * The route counts against the caller's own budget of `kind` requests per
 * RATE_LIMIT_WINDOW_MS; past it, 429 with `Retry-After` (seconds) until the
 * window ends. Routes of one kind share the budget. AuthGuard runs first
 * (it is global), so only authenticated requests count, by user id.
 */
export const RateLimited = (kind: RateLimitKind) => applyDecorators(SetMetadata(RATE_LIMIT_KIND, kind), UseGuards(UserRateLimitGuard));
