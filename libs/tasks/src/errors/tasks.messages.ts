// Every message a user can provoke lives here, so wording stays consistent and
// each one names the culprit and the fix. Messages name options as the user set
// them: by the environment variable when tasksOptionsFromEnv() read it, else by
// the option's name; never a file or a command of this repository.

import { redactUrl } from '../redaction/redact.js';

/** Where each option came from: the environment variable it was read from, when it was (see `tasksOptionsFromEnv`). */
type OptionSources = Readonly<Partial<Record<string, string>>>;

/** An option as the user set it: the environment variable it was read from, else its name. */

export const optionName = (sources: OptionSources, option: string): string => sources[option] ?? option;

export const duplicateTaskName = (name: string, first: string, second: string) =>
  `Two tasks are named "${name}": ${first} and ${second}. ` +
  `Task names are the wire contract between producers and workers and must be unique; ` +
  `rename one method or pass a distinct name with @Task({ name: '...' }).`;

export const unknownTaskOnEnqueue = (name: string, known: readonly string[]) =>
  `Cannot enqueue unknown task "${name}". Tasks registered in this process: ${listNames(known)}. ` +
  `Check the spelling, make sure the provider with the @Task() method is part of a module this app imports, ` +
  `or set TasksModule.forRoot({ allowUnregisteredTasks: true }) if only a remote worker knows this task.`;

export const unknownTaskOnWorker = (name: string, queue: string, known: readonly string[], ownQueue?: string) =>
  `No handler for task "${name}" in this worker, and no other running app has it on queue "${queue}"` +
  (ownQueue === undefined ? '' : ` (this worker has it on queue "${ownQueue}": the job was enqueued by an app that has it on "${queue}")`) +
  `. Tasks this worker knows: ${listNames(known)}. The job fails without retries; ` +
  (ownQueue === undefined
    ? `deploy a worker whose modules include the @Task() provider, then re-enqueue it.`
    : `re-enqueue it, and it goes to queue "${ownQueue}".`);

export const noTaskOnQueue = (queue: string, local: ReadonlyMap<string, readonly string[]>) =>
  `This worker is told to consume the queue "${queue}", but none of its tasks is on it ` +
  `(its queues: ${[...local].map(([name, tasks]) => `${name} [${tasks.join(', ')}]`).join(', ') || 'none'}). ` +
  `Register the providers of that queue's tasks in this worker, or leave the queue out of runWorker({ queues }).`;

export const lacksHandlers = (lacking: readonly { name: string; queue: string; workers: number }[]) => {
  const groups = new Map<string, string[]>();
  for (const { name, queue, workers } of lacking) {
    const group = `on queue "${queue}" (run by ${workers} running worker(s))`;
    groups.set(group, [...(groups.get(group) ?? []), name]);
  }
  return (
    `This worker lacks tasks other running workers run from its queues: ` +
    `${[...groups].map(([group, names]) => `${listNames(names)} ${group}`).join('; ')}. ` +
    `Jobs of these tasks that this worker takes wait for those workers, and fail once none of them runs. ` +
    `Expected while a rolling deploy removes, renames or moves tasks; otherwise register their @Task() providers in this worker.`
  );
};

export const notATaskMethod = (className: string, method: string) =>
  `${className}.${method} is not a task: decorate it with @Task() (and register ${className} as a provider).`;

export const invalidPayload = (task: string, path: string, problem: string) =>
  `Payload of task "${task}" is not JSON: ${path} ${problem}. ` +
  `Payloads travel as JSON; pass plain objects, arrays, strings, finite numbers, booleans and null.`;

export const payloadTooLarge = (task: string, problem: string) =>
  `Payload of task "${task}" ${problem} (TasksModule's maxPayloadBytes). Payloads travel through Redis: ` +
  `pass an id and keep large data in your database or object storage, or raise maxPayloadBytes.`;

export const invalidResult = (task: string, problem: string) =>
  `The result of task "${task}" ${problem}. Results travel as JSON through Redis: return a small summary ` +
  `(an id, a URL) and keep large data in your database or object storage, or raise TasksModule's maxResultBytes.`;

export const invalidTaskOption = (where: string, option: string, value: unknown, expected: string) =>
  `${where}: option ${option} is ${formatValue(value)}, expected ${expected}.`;

export const invalidEnv = (name: string, value: string, expected: string) =>
  `Environment variable ${name}="${value}" is invalid: expected ${expected}.`;

/** `name` is what the user set: a variable (REDIS_URL) or an option ("TasksModule option redisUrl"). */
export const invalidUrl = (name: string, problem: string, expected: string) =>
  `${name} is not a valid URL (${problem}); expected ${expected}. Its value is not shown: it may hold a password.`;

export const redisUnreachable = (url: string, cause: string, sources: OptionSources) =>
  `Cannot reach Redis at ${redactUrl(url)} (${cause}). ` +
  (isTlsFailure(cause)
    ? `The TLS handshake failed: give the CA that signed the server's certificate in ${sources.redisTls ?? 'redisTls.ca'}, ` +
      `and set redisTls.servername when the certificate was issued for another name than the host in ${optionName(sources, 'redisUrl')}.`
    : `Check that Redis runs and that this process can reach it, or point ${optionName(sources, 'redisUrl')} at one that does.`);

export const redisSilent = (url: string, timeoutMs: number, sources: OptionSources) =>
  `Cannot reach Redis at ${redactUrl(url)} (it accepted the connection but did not answer PING within ${timeoutMs} ms). ` +
  `Check that ${optionName(sources, 'redisUrl')} points at a Redis server, and use a rediss:// URL for a TLS port.`;

export const redisAuthRefused = (url: string, cause: string, sources: OptionSources) =>
  `Cannot reach Redis at ${redactUrl(url)}: it refused the login (${cause}). Check the user and password in ${optionName(sources, 'redisUrl')}.`;

export const redisNoSuchDb = (url: string, db: number, cause: string, sources: OptionSources) =>
  `Cannot reach Redis at ${redactUrl(url)}: it has no database ${db} (${cause}). ` +
  `Use a database index the server has (0 to 15 unless its \`databases\` setting says otherwise) in ${optionName(sources, 'redisUrl')}.`;

// Node's and OpenSSL's words for a certificate or handshake the client or the server rejected.
function isTlsFailure(cause: string): boolean {
  return /certificate|altnames|\bSSL\b|\bTLS|tlsv/i.test(cause);
}

export const healthPortInUse = (host: string, port: number, cause: string, sources: OptionSources) =>
  `Cannot serve the health probes on ${host}:${port} (${cause}): choose a free ${optionName(sources, 'healthPort')}, or 0 to turn them off.`;

/**
 * Logged when the health port listens; on loopback, it says how an
 * orchestrator outside the container reaches it. `hostOption`: healthHost as
 * the app sets it (TASKS_HEALTH_HOST for an app whose port came from the environment).
 */
export const healthProbesListening = (host: string, port: number, paths: string, hostOption: string) =>
  `Health probes on http://${host}:${port}: ${paths}` +
  (host === 'localhost' || host === '::1' || host.startsWith('127.')
    ? ` (this machine only: set ${hostOption} to 0.0.0.0 for probes from outside it, on a private network)`
    : '');

export const metricsOff = (sources: OptionSources) =>
  `Metrics are off: install prom-client, and leave ${optionName(sources, 'metrics')} unset or true.`;

export const waitTimedOut = (task: string, jobId: string, timeoutMs: number) =>
  `Task "${task}" (job ${jobId}) did not finish within ${timeoutMs} ms. The job keeps running; ` +
  `call waitResult() again or look it up with TaskClient.getJob('${jobId}').`;

export const taskTimedOut = (task: string, timeoutMs: number) =>
  `Task "${task}" exceeded its timeout of ${timeoutMs} ms (set with @Task({ timeoutMs })).`;

export const jobVanished = (jobId: string) =>
  `Job ${jobId} no longer exists: it was removed or its retention (keepCompleted/keepFailed) expired before its result was read.`;

export const loggerModuleMissing = () =>
  `Running tasks needs nestjs-pino's LoggerModule, which gives every log line of a run its task, jobId and attempt: ` +
  `import LoggerModule.forRoot() from 'nestjs-pino' in the worker's root module.`;

export const peerMissing = (pkg: string, feature: string, install: string) =>
  `${feature} needs the package "${pkg}", which is not installed. Install it with \`${install}\`, ` +
  `or leave the feature out.`;

export const notStaticProvider = (decorator: '@Task()' | '@Cron()', source: string, scope: string) =>
  `${decorator} on ${source} cannot be used: the provider is ${scope}, so there is no single instance to run it on ` +
  `outside a request. Make the provider a default-scoped (singleton) provider, or move the method to one.`;

function listNames(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.map((n) => `"${n}"`).join(', ');
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

// ── cron ──────────────────────────────────────────────────────────────────

export const invalidCronExpression = (where: string, expression: string, reason: string) =>
  `${where}: invalid cron expression "${expression}" (${reason}). ` +
  `Use five fields "minute hour day month weekday" (e.g. "*/5 * * * *") or six with leading seconds (e.g. "*/10 * * * * *").`;

export const invalidLockTtl = (where: string, option: 'lockTtl' | 'lockTtlMs', value: unknown, expected: string) =>
  `${where}: ${option} is ${String(value)}, expected ${expected} (default 300 s). ` +
  `It only bounds how long a crashed run can block the job: live runs extend their lock automatically.`;

export const unknownTimeZone = (where: string, timeZone: string) =>
  `${where}: unknown time zone "${timeZone}". Use an IANA name such as "UTC" or "Europe/Berlin".`;

export const invalidCronName = (where: string, name: string) =>
  `${where}: cron name "${name}" is invalid; use letters, digits, ".", "_" or "-".`;

export const duplicateCronName = (name: string, first: string, second: string) =>
  `Two cron jobs are named "${name}": ${first} and ${second}. ` +
  `Cron names key their lock and their rows in cron_job_runs; rename one method or pass { name: '...' } to @Cron.`;

export const unknownCron = (name: string, declared: readonly string[]) =>
  `Unknown cron job "${name}": this process's code does not declare it. Cron jobs it declares: ${listNames(declared)}. ` +
  `Check the spelling, or call this from an app whose modules include the provider with the @Cron() method: ` +
  `a cron is triggered, and its ticks previewed, from code that declares it.`;

const whereSchedulesComeFrom = (prefix: string, setting: string) =>
  `a scheduler creates a cron's schedule when it boots with code that declares the cron, under its own ${setting} ("${prefix}" here)`;

/** `where`: the schedule store, cron_schedules or the Redis keys of an app whose crons are all untracked; `setting`: the prefix option as the app set it. */
export const cronWithoutSchedule = (name: string, where: string, scheduled: readonly string[], declaredHere: boolean, prefix: string, setting: string) =>
  declaredHere
    ? `Cron job "${name}" has no schedule in ${where} yet: ${whereSchedulesComeFrom(prefix, setting)}. ` +
      `Start the scheduler once with the same ${setting}, then try again.`
    : `Unknown cron job "${name}": no schedule of that name in ${where}. Cron jobs with a schedule: ${listNames(scheduled)}. ` +
      `Check the spelling, and that the scheduler runs with the same ${setting}: ${whereSchedulesComeFrom(prefix, setting)}.`;

export const unknownCronRuns = (name: string, scheduled: readonly string[], prefix: string, setting: string) =>
  `Unknown cron job "${name}": no schedule of that name in cron_schedules, so no runs. Cron jobs with a schedule: ${listNames(scheduled)}. ` +
  `Check the spelling, and that the scheduler runs with the same ${setting}: ${whereSchedulesComeFrom(prefix, setting)}.`;

export const internalCron = (name: string, action: 'paused' | 'resumed' | 'triggered', purpose: string, setting: string) =>
  `Cron job "${name}" is one of the library's own maintenance crons and cannot be ${action}: it ${purpose}, ` +
  `on a schedule of its own. Tune it with ${setting}.`;

export const cronDatabaseMissing = () =>
  `Cron jobs need a TypeORM DataSource for run tracking: import TypeOrmModule.forRoot({ ..., ` +
  `entities: [...TASKS_ENTITIES], migrations: [...TASKS_MIGRATIONS] }) (both from 'nestjs-tasks/typeorm') ` +
  `in the root module of the worker and of the scheduler, and run the migrations.`;

export const cronTableMissing = (table: string) =>
  `Cron jobs need the table ${table}, which does not exist in the application's database: ` +
  `run the migrations (TASKS_MIGRATIONS from 'nestjs-tasks/typeorm', in your DataSource's migrations) with your migration tool, ` +
  `e.g. \`npx typeorm migration:run -d <your data source>\`, or let TypeORM run them at boot with migrationsRun: true.`;

export const cronRunNotRecorded = (name: string, cause: string) =>
  `Cron job "${name}" did not run: its run could not be recorded in cron_job_runs (${cause}). ` +
  `No run executes untracked; the next tick tries again.`;

export const cronLockLost = (name: string, cause: string) =>
  `Lost the lock of cron job "${name}" (${cause}): the run was aborted so that another run cannot overlap it.`;

// ── job ids and lookups ──────────────────────────────────────────────────

/** `shown` is the value as `showKey` prints it: quoted, with unprintable characters escaped. */
export const invalidEnqueueKey = (where: string, option: 'jobId' | 'deduplicate.key', shown: string, problem: string) =>
  `${where}: option ${option} is ${shown}: ${problem}. ` +
  (option === 'jobId'
    ? `Use a printable string of at most 256 characters, without ":" and not all digits, such as "upload-abc123".`
    : `Use a printable string of at most 256 characters, such as "digest-42".`);

export const jobIdTaken = (task: string, jobId: string, queue: string, takenBy: string) =>
  `enqueue("${task}"): jobId "${jobId}" names a job of task "${takenBy}" on queue ${queue}; nothing was added. ` +
  `A job id names one job of its queue, whichever its task: give each task ids of its own, e.g. "${task}-${jobId}".`;

export const jobIdReused = (jobId: string, task: string, takenBy: string) =>
  `Job ${jobId} of task "${task}" no longer exists: it was removed or its retention expired, and its id now names a job of task "${takenBy}".`;

export const waitAborted = (task: string, jobId: string) =>
  `Stopped waiting for task "${task}" (job ${jobId}): the app is shutting down. The job itself is unaffected; ` +
  `look it up with TaskClient.getJob('${jobId}') from an app that runs.`;

export const queueNotKnown = (where: string, name: string) =>
  `${where}: "${name}" is no queue of this app (none of its tasks is on it, and TasksModule.forRoot({ queues }) does not name it). ` +
  `Name it there or with TasksModule.registerQueues('${name}'), so that the app opens it at start-up.`;

export const unknownLifecycleEvent = (name: string, known: readonly string[]) =>
  `TasksEvents.on("${name}"): there is no lifecycle event of that name. Events: ${known.join(', ')}.`;

export const lifecycleListenerFailed = (name: string, error: string) =>
  `A listener of the lifecycle event "${name}" threw; the run goes on, other listeners still hear it. ` +
  `Catch errors inside the listener (its own work belongs in a try/catch or a queue of its own): ${error}`;
