import { Redis, type RedisOptions } from 'ioredis';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidUrl } from '../errors/tasks.messages.js';
import { urlProblem } from './redact.js';

/**
 * `value` parsed as a connection URL, or a `TasksConfigurationError` that names
 * `name` (the variable or option the user set, e.g. `DATABASE_URL`) and says
 * what is wrong, never quoting the value: a URL that does not parse cannot be
 * told apart from its password.
 *
 * ```ts
 * parseConnectionUrl(process.env.DATABASE_URL, 'DATABASE_URL', 'postgres://USER:PASSWORD@HOST:PORT/DATABASE')
 * // TasksConfigurationError: DATABASE_URL is not a valid URL (it has a '/' in the password? percent-encode it as %2F); …
 * ```
 */
export function parseConnectionUrl(value: string, name: string, expected: string): URL {
  const problem = urlProblem(value);
  if (problem !== undefined) throw new TasksConfigurationError(invalidUrl(name, problem, expected));
  return new URL(String(value).trim());
}

/**
 * ioredis options of a `redis://` or `rediss://` URL, parsed by ioredis itself
 * (IPv6 hosts, user and password, db, query options such as `family`).
 * Throws on anything else.
 */
export function parseRedisUrl(url: string): RedisOptions {
  const protocol = new URL(url).protocol;
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new Error(`unsupported protocol ${protocol}`);
  // ioredis parses the URL in its constructor; a lazy client opens no connection.
  const probe = new Redis(url, { lazyConnect: true });
  const parsed = probe.options;
  probe.disconnect();
  const options: RedisOptions = { host: parsed.host, port: parsed.port, db: parsed.db ?? 0 };
  if (parsed.username) options.username = parsed.username;
  if (parsed.password) options.password = parsed.password;
  if (parsed.family) options.family = parsed.family;
  if (parsed.tls) options.tls = typeof parsed.tls === 'object' ? parsed.tls : {};
  return options;
}
