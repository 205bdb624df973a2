import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidUrl } from '../tasks.messages.js';
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
