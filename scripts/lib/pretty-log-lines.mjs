// How `make dev` shows the apps' log lines: the JSON lines pino writes, made
// readable by pino-pretty (a devDependency: production images write JSON and
// never load this). One line per log line, e.g.
//
//   [14:03:07.215] INFO: [TaskWorkerHost] Consuming tasks.default with concurrency 10
//
// Lines that are not JSON (a boot failure's reason, a crash trace) pass unchanged.
import { prettyFactory } from 'pino-pretty';

/**
 * A function from one output line of an app to the lines to print (pino-pretty
 * puts an error's stack on lines of its own). `json: true` keeps the lines as
 * they are, for piping into jq.
 */
export function logLineFormatter({ colorize = false, json = false } = {}) {
  if (json) return (line) => [line];
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // pid and hostname are the same on every line of an app; Nest's context leads the message instead.
    ignore: 'pid,hostname,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
  });
  return (line) => pretty(line).replace(/\s+$/, '').split('\n');
}
