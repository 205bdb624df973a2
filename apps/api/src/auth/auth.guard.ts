import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { API_CONFIG, type ApiConfig } from '../config/api-config.js';
import { PUBLIC_ROUTE, QUERY_TOKEN, REQUIRED_ROLE, SCRAPE_ROUTE, setPrincipal } from './auth.decorators.js';
import { MAX_TOKEN_LENGTH, verifyToken, type Role } from './tokens.js';

const REALM = 'tasks-api';
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Every route needs a valid access token (registered as a global guard, so a
 * new route cannot forget it): `Authorization: Bearer <token>`, or on routes
 * marked @AcceptQueryToken() also `?access_token=<token>`. A missing, malformed,
 * wrongly signed or expired token is a 401 with the reason (and a
 * `WWW-Authenticate` header, RFC 6750); a valid token without the role a route
 * requires (@RequireRole) is a 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(API_CONFIG) private readonly config: ApiConfig,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request>();
    const response = context.switchToHttp().getResponse<Response>();
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets)) return true;
    const queryTokenAllowed = this.reflector.getAllAndOverride<boolean | undefined>(QUERY_TOKEN, targets) ?? false;

    const token = this.extractToken(request, response, queryTokenAllowed);
    if (this.isScrapeToken(token) && this.reflector.getAllAndOverride<boolean | undefined>(SCRAPE_ROUTE, targets)) return true;
    const verified = verifyToken(token, this.config.authSecret);
    if (!verified.ok) this.unauthorized(response, verified.reason, 'invalid_token');

    const required = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets);
    if (required === 'operator' && verified.claims.role !== 'operator') {
      response.setHeader('WWW-Authenticate', `Bearer realm="${REALM}", error="insufficient_scope"`);
      throw new ForbiddenException(`This endpoint needs an operator token; this token's role is "${verified.claims.role}".`);
    }
    setPrincipal(request, { userId: verified.claims.sub, role: verified.claims.role });
    return true;
  }

  // Compared as digests, in constant time: the comparison reveals neither the token nor its length.
  private isScrapeToken(token: string): boolean {
    const expected = this.config.metricsToken;
    if (!expected) return false;
    return timingSafeEqual(createHash('sha256').update(token).digest(), createHash('sha256').update(expected).digest());
  }

  private extractToken(request: Request, response: Response, queryTokenAllowed: boolean): string {
    const header = request.headers.authorization;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const inQuery = queryTokenAllowed ? query.access_token : undefined;
    if (header !== undefined && inQuery !== undefined) {
      throw new BadRequestException('Send the access token once: in the Authorization header or as "access_token", not both.');
    }
    if (inQuery !== undefined) {
      if (typeof inQuery !== 'string') throw new BadRequestException('Query parameter "access_token" must be given once.');
      return inQuery;
    }
    if (header === undefined || header === '') {
      const hint = queryTokenAllowed
        ? ' (or the query parameter access_token=<token>)'
        : query.access_token !== undefined
          ? ' (a token in the query, access_token, is accepted only by GET /users/:userId/events)'
          : '';
      this.unauthorized(response, `Missing access token: send the header "Authorization: Bearer <token>"${hint}.`);
    }
    const match = header.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(header) : null;
    if (!match) this.unauthorized(response, 'Malformed Authorization header: expected "Bearer <token>".', 'invalid_request');
    return match[1] as string;
  }

  private unauthorized(response: Response, reason: string, error?: 'invalid_token' | 'invalid_request'): never {
    // The reason is ours (never the token), but keep it a valid quoted-string all the same.
    const description = reason.replace(/["\\]/g, "'");
    response.setHeader(
      'WWW-Authenticate',
      error ? `Bearer realm="${REALM}", error="${error}", error_description="${description}"` : `Bearer realm="${REALM}"`,
    );
    throw new UnauthorizedException(reason);
  }
}
