import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Role } from './tokens.js';

/** Who made the request, from a verified access token. */
export interface Principal {
  readonly userId: string;
  readonly role: Role;
}

export const REQUIRED_ROLE = 'api:requiredRole';
export const QUERY_TOKEN = 'api:queryToken';
export const PUBLIC_ROUTE = 'api:publicRoute';
export const SCRAPE_ROUTE = 'api:scrapeRoute';

/** The route (or every route of the controller) needs a token with this role. Without it, any valid token will do. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/**
 * The route also accepts the token as `?access_token=`, for clients that cannot
 * set headers (a browser's EventSource). Only for the SSE stream: URLs end up
 * in logs and browser history, headers do not.
 */
export const AcceptQueryToken = () => SetMetadata(QUERY_TOKEN, true);

/** A route probes call without a token (health checks); it must reveal nothing a caller could use. */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The route also accepts the static scrape token (METRICS_TOKEN) as its
 * bearer, for Prometheus, whose scrape config holds one long-lived secret;
 * combine it with @RequireRole('operator') for people.
 */
export const ScrapeRoute = () => SetMetadata(SCRAPE_ROUTE, true);

const PRINCIPAL = Symbol('principal');
export type AuthenticatedRequest = Request & { [PRINCIPAL]?: Principal };

export function setPrincipal(request: Request, principal: Principal): void {
  (request as AuthenticatedRequest)[PRINCIPAL] = principal;
}

/** The caller of a request AuthGuard let through. */
export function principalOf(request: Request): Principal {
  const principal = (request as AuthenticatedRequest)[PRINCIPAL];
  // AuthGuard runs before every handler; a route without it is a programming error.
  if (!principal) throw new Error('No authenticated caller on this request: is AuthGuard registered?');
  return principal;
}

/** The caller, as AuthGuard verified it: `@Caller() caller: Principal`. */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): Principal =>
  principalOf(context.switchToHttp().getRequest<Request>()),
);
