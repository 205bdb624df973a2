import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as messages from './tasks.messages.js';
import { resolveTasksOptions } from '../options/resolve-tasks-options.js';
import { TASKS_ENV_VARIABLES, tasksOptionsFromEnv, type OptionSources } from '../options/tasks-options-from-env.js';

type MessageName = Exclude<keyof typeof messages, 'optionName'>;

const URL_WITH_PASSWORD = 'redis://:hunter2@cache.internal:6380/2';
// The environment's values differ from those given in code: a value the environment gave counts as read from it.
const ENV_URL_WITH_PASSWORD = 'redis://:hunter2@cache.internal:6381/3';

/** Every message the library can show, built as its code path builds it, for options whose sources are `sources`. */
function everyMessage(sources: OptionSources): Record<MessageName, string> {
  const cause = 'connect ECONNREFUSED 10.0.0.5:6380';
  return {
    duplicateTaskName: messages.duplicateTaskName('mail.send', 'MailTasks.send', 'OtherTasks.send'),
    unknownTaskOnEnqueue: messages.unknownTaskOnEnqueue('mail.sned', ['mail.send']),
    unknownTaskOnWorker: messages.unknownTaskOnWorker('mail.sned', 'default', ['mail.send']),
    noTaskOnQueue: messages.noTaskOnQueue('reports', new Map([['default', ['mail.send']]])),
    lacksHandlers: messages.lacksHandlers([{ name: 'report.build', queue: 'reports', workers: 2 }]),
    notATaskMethod: messages.notATaskMethod('MailTasks', 'helper'),
    invalidPayload: messages.invalidPayload('mail.send', '$.to', 'is a function'),
    payloadTooLarge: messages.payloadTooLarge('mail.send', 'is 2097152 bytes, over 1048576'),
    invalidResult: messages.invalidResult('mail.send', 'is 2097152 bytes, over 1048576'),
    invalidTaskOption: messages.invalidTaskOption('TasksModule', 'prefix', 'a:b', 'a non-empty string without ":"'),
    invalidEnv: messages.invalidEnv('TASKS_PREFIX', 'a:b', 'a string without ":"'),
    invalidUrl: messages.invalidUrl(messages.optionName(sources, 'redisUrl'), "it has a '/' in the password? percent-encode it as %2F", 'a URL such as redis://127.0.0.1:6379'),
    redisUnreachable: messages.redisUnreachable(URL_WITH_PASSWORD, cause, sources),
    redisSilent: messages.redisSilent(URL_WITH_PASSWORD, 3_000, sources),
    redisAuthRefused: messages.redisAuthRefused(URL_WITH_PASSWORD, 'WRONGPASS invalid username-password pair', sources),
    redisNoSuchDb: messages.redisNoSuchDb(URL_WITH_PASSWORD, 99, 'ERR DB index is out of range', sources),
    waitTimedOut: messages.waitTimedOut('mail.send', '42', 1_000),
    taskTimedOut: messages.taskTimedOut('mail.send', 1_000),
    jobVanished: messages.jobVanished('42'),
    loggerModuleMissing: messages.loggerModuleMissing(),
    peerMissing: messages.peerMissing('prom-client', 'Prometheus metrics', 'npm install prom-client'),
    notStaticProvider: messages.notStaticProvider('@Task()', 'MailTasks.send', 'request-scoped'),
    healthPortInUse: messages.healthPortInUse('0.0.0.0', 9464, 'EADDRINUSE', sources),
    healthProbesListening: messages.healthProbesListening('127.0.0.1', 9464, '/health/live, /health/ready', messages.optionName(sources, 'healthHost')),
    metricsOff: messages.metricsOff(sources),
    invalidCronExpression: messages.invalidCronExpression('ReportJobs.nightly', '* *', '2 fields'),
    invalidLockTtl: messages.invalidLockTtl('ReportJobs.nightly', 'lockTtl', 0, 'a positive whole number of seconds'),
    unknownTimeZone: messages.unknownTimeZone('ReportJobs.nightly', 'Mars/Olympus'),
    invalidCronName: messages.invalidCronName('ReportJobs.nightly', 'a b'),
    duplicateCronName: messages.duplicateCronName('nightly', 'A.nightly', 'B.nightly'),
    unknownCron: messages.unknownCron('nighlty', ['nightly']),
    cronWithoutSchedule: messages.cronWithoutSchedule('nighlty', 'cron_schedules', ['nightly'], false, 'myapp', messages.optionName(sources, 'prefix')),
    unknownCronRuns: messages.unknownCronRuns('nighlty', ['nightly'], 'myapp', messages.optionName(sources, 'prefix')),
    internalCron: messages.internalCron('tasks.sweepLostRuns', 'paused', 'marks the runs of crashed workers FAILED', messages.optionName(sources, 'cronSweepIntervalMs')),
    cronDatabaseMissing: messages.cronDatabaseMissing(),
    cronTableMissing: messages.cronTableMissing('cron_job_runs'),
    cronRunNotRecorded: messages.cronRunNotRecorded('nightly', 'connect ECONNREFUSED 127.0.0.1:5432'),
    cronLockLost: messages.cronLockLost('nightly', 'it expired'),
    invalidEnqueueKey: messages.invalidEnqueueKey('enqueue("mail.send")', 'jobId', '"a:b"', 'it must not contain ":"'),
    jobIdTaken: messages.jobIdTaken('mail.send', 'user-42', 'default', 'mail.digest'),
    jobIdReused: messages.jobIdReused('user-42', 'mail.send', 'mail.digest'),
    waitAborted: messages.waitAborted('mail.send', '42'),
    queueNotKnown: messages.queueNotKnown('TasksQueues.get()', 'reports'),
    unknownLifecycleEvent: messages.unknownLifecycleEvent('task.done', ['task.started', 'task.finished']),
    lifecycleListenerFailed: messages.lifecycleListenerFailed('task.finished', 'TypeError: alert is not a function'),
  };
}

// What a user's app may not have: this repository's environment variables, Compose file and npm scripts.
const ENV_NAMES = [...Object.values(TASKS_ENV_VARIABLES), 'DATABASE_URL', 'WORKER_QUEUES'];
const REPOSITORY_ADVICE = [/docker/i, /this repository/i, /npm run db:migrate/];

const dir = mkdtempSync(join(tmpdir(), 'tasks-messages-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('messages speak the language of the app that set the options', () => {
  it('are all checked here', () => {
    const exported = Object.keys(messages).filter((name) => name !== 'optionName');
    expect(Object.keys(everyMessage({})).sort()).toEqual(exported.sort());
  });

  it('with options given to TasksModule in code, name no environment variable and no advice of this repository', () => {
    const { sources } = resolveTasksOptions({ redisUrl: URL_WITH_PASSWORD, redisTls: { ca: 'pem' }, healthPort: 9464, metrics: true, prefix: 'myapp' });
    expect(sources).toEqual({});
    // invalidEnv is only ever raised while reading a variable.
    const { invalidEnv: _onlyFromTheEnvironment, ...shown } = everyMessage(sources);
    for (const [name, text] of Object.entries(shown)) {
      for (const variable of ENV_NAMES) expect(text, name).not.toContain(variable);
      for (const advice of REPOSITORY_ADVICE) expect(text, name).not.toMatch(advice);
      expect(text, name).not.toContain('hunter2');
    }
  });

  it('name the options a user passed: redisUrl, redisTls, healthPort, metrics, runWorker({ queues })', () => {
    const shown = everyMessage(resolveTasksOptions({ redisUrl: URL_WITH_PASSWORD }).sources);
    expect(shown.redisUnreachable).toBe(
      'Cannot reach Redis at redis://:***@cache.internal:6380/2 (connect ECONNREFUSED 10.0.0.5:6380). ' +
        'Check that Redis runs and that this process can reach it, or point redisUrl at one that does.',
    );
    expect(shown.redisSilent).toContain('Check that redisUrl points at a Redis server');
    expect(shown.redisAuthRefused).toContain('Check the user and password in redisUrl.');
    expect(shown.redisNoSuchDb).toContain('in redisUrl.');
    expect(shown.healthPortInUse).toContain('choose a free healthPort, or 0 to turn them off');
    expect(shown.healthProbesListening).toContain('set healthHost to 0.0.0.0');
    expect(shown.metricsOff).toContain('leave metrics unset or true');
    expect(shown.noTaskOnQueue).toContain('leave the queue out of runWorker({ queues })');
    expect(shown.noTaskOnQueue.split('"reports"')).toHaveLength(2);
    expect(shown.lacksHandlers).toContain('register their @Task() providers in this worker');
    expect(shown.cronTableMissing).toContain('run the migrations (TASKS_MIGRATIONS');
    expect(shown.cronTableMissing).toContain('`npx typeorm migration:run -d <your data source>`');
  });

  it('after a TLS handshake failure, point at the CA and the name to check: the option, or REDIS_TLS_CA_FILE when read from it', () => {
    const cause = 'self-signed certificate in certificate chain';
    const inCode = messages.redisUnreachable('rediss://127.0.0.1:6390', cause, resolveTasksOptions({ redisUrl: 'rediss://127.0.0.1:6390' }).sources);
    expect(inCode).toContain('redisTls.ca');
    expect(inCode).toContain('set redisTls.servername when the certificate was issued for another name than the host in redisUrl');
    const fromEnv = tasksOptionsFromEnv({ REDIS_URL: 'rediss://127.0.0.1:6391', REDIS_TLS_CA_FILE: caFile });
    const withEnv = messages.redisUnreachable('rediss://127.0.0.1:6390', cause, resolveTasksOptions(fromEnv).sources);
    expect(withEnv).toContain('REDIS_TLS_CA_FILE');
    expect(withEnv).toContain('than the host in REDIS_URL');
  });

  it('with options from tasksOptionsFromEnv(), name the variables the app was started with', () => {
    const fromEnv = tasksOptionsFromEnv({
      REDIS_URL: ENV_URL_WITH_PASSWORD,
      TASKS_HEALTH_PORT: '9465',
      TASKS_HEALTH_HOST: '127.0.0.1',
      TASKS_METRICS: 'false',
      REDIS_TLS_CA_FILE: caFile,
    });
    // As an app writes it: spread, with options of its own next to them.
    const { sources } = resolveTasksOptions({ ...fromEnv, allowUnregisteredTasks: true });
    expect(sources).toEqual({
      redisUrl: 'REDIS_URL',
      healthPort: 'TASKS_HEALTH_PORT',
      healthHost: 'TASKS_HEALTH_HOST',
      metrics: 'TASKS_METRICS',
      redisTls: 'REDIS_TLS_CA_FILE',
    });
    const shown = everyMessage(sources);
    expect(shown.redisUnreachable).toContain('or point REDIS_URL at one that does');
    expect(shown.redisSilent).toContain('Check that REDIS_URL points at a Redis server');
    expect(shown.redisAuthRefused).toContain('Check the user and password in REDIS_URL.');
    expect(shown.redisNoSuchDb).toContain('in REDIS_URL.');
    expect(shown.healthPortInUse).toContain('choose a free TASKS_HEALTH_PORT');
    expect(shown.healthProbesListening).toContain('set TASKS_HEALTH_HOST to 0.0.0.0');
    expect(shown.metricsOff).toContain('leave TASKS_METRICS unset or true');
    for (const text of Object.values(shown)) for (const advice of REPOSITORY_ADVICE) expect(text).not.toMatch(advice);
  });

  it('name the option, not the variable, when the app overrode what the environment said', () => {
    const fromEnv = tasksOptionsFromEnv({ REDIS_URL: 'redis://10.0.0.5:6379', TASKS_HEALTH_PORT: '9466' });
    const { sources } = resolveTasksOptions({ ...fromEnv, redisUrl: 'redis://10.0.0.6:6379' });
    expect(sources).toEqual({ healthPort: 'TASKS_HEALTH_PORT' });
    expect(messages.redisAuthRefused('redis://10.0.0.6:6379', 'WRONGPASS', sources)).toContain('in redisUrl.');
  });

  it('name the variable of a value the options check rejects when it came from the environment, else the option', () => {
    expect(() => resolveTasksOptions(tasksOptionsFromEnv({ TASKS_CRON_SWEEP_MS: '7000' }))).toThrow(
      'Environment variable TASKS_CRON_SWEEP_MS="7000" is invalid: expected whole seconds that divide a minute',
    );
    expect(() => resolveTasksOptions({ cronSweepIntervalMs: 9_000 })).toThrow('TasksModule: option cronSweepIntervalMs is 9000');
    expect(() => resolveTasksOptions({ cronSweepIntervalMs: 9_000 })).not.toThrow('TASKS_CRON_SWEEP_MS');
  });
});
