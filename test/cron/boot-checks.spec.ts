import { describe, expect, it, onTestFinished } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Cron, TasksConfigurationError, type CronOptions } from 'nestjs-tasks';
import { closeAll, createTasksApp, rejectionOf } from '../support/in-process.js';
import { CRON_FIXTURE_ENTRY } from '../support/cron.js';
import { AppProcess } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 180_000 };

/** Defines a class with one @Cron method: the decorator checks its arguments right there. */
function defineReportJobs(expression: string, options?: number | CronOptions): Error | undefined {
  try {
    @Injectable()
    class ReportJobs {
      @Cron(expression, options)
      nightly(): void {}
    }
    void ReportJobs;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

describe('@Cron boot checks', PROCESS_TIMEOUT, () => {
  it.each<[string, string, number | CronOptions | undefined, string]>([
    ['an expression with an out-of-range minute', '61 * * * *', undefined, '"61 * * * *"'],
    ['an expression with four fields', '* * * *', undefined, '"* * * *"'],
    ['an expression with seven fields', '0 0 0 * * * *', undefined, '"0 0 0 * * * *"'],
    ['an expression that is not cron', 'every day', undefined, '"every day"'],
    ['an expression that never fires', '0 0 31 2 *', undefined, '"0 0 31 2 *"'],
    ['lockTtl 0', '* * * * *', 0, 'lockTtl is 0'],
    ['lockTtl 1.5', '* * * * *', 1.5, 'lockTtl is 1.5'],
    ['lockTtl -1', '* * * * *', -1, 'lockTtl is -1'],
    ['lockTtlMs 0 in the options form', '* * * * *', { lockTtlMs: 0 }, 'lockTtlMs is 0'],
    ['lockTtlMs 99.5 in the options form', '* * * * *', { lockTtlMs: 99.5 }, 'lockTtlMs is 99.5'],
    ['an unknown time zone', '0 9 * * *', { timeZone: 'Mars/Olympus_Mons' }, '"Mars/Olympus_Mons"'],
  ])('rejects %s, naming ReportJobs.nightly and the value', (_case, expression, options, value) => {
    const error = defineReportJobs(expression, options);
    expect(error).toBeInstanceOf(TasksConfigurationError);
    expect(error?.message).toContain('ReportJobs.nightly');
    expect(error?.message).toContain(value);
  });

  it('accepts what the issue’s API shows: five or six fields, lockTtl in seconds as a number or lockTtlMs in options, a time zone', () => {
    expect(defineReportJobs('*/5 * * * *', 120)).toBeUndefined();
    expect(
      defineReportJobs('*/10 * * * * *', { lockTtlMs: 30_000, timeZone: 'Europe/Berlin', name: 'nightlyish' }),
    ).toBeUndefined();
    expect(defineReportJobs('0 0 * * 0')).toBeUndefined();
  });

  it('fails the boot of a Nest app with two crons of one name, naming both Class.method and the name', async () => {
    @Injectable()
    class HourlyReport {
      @Cron('0 * * * *', { name: 'report' })
      hourly(): void {}
    }
    @Injectable()
    class DailyReport {
      @Cron('0 0 * * *', { name: 'report' })
      daily(): void {}
    }
    @Module({ providers: [HourlyReport, DailyReport] })
    class ReportsModule {}

    const prefix = uniquePrefix('cron-dup');
    onTestFinished(() => deletePrefix(prefix));
    const boot = createTasksApp({ tasks: { prefix }, imports: [ReportsModule] });
    const error = await rejectionOf(boot.then(async (app) => closeAll([app])));
    expect(error).toBeInstanceOf(TasksConfigurationError);
    expect(error.message).toContain('"report"');
    expect(error.message).toContain('HourlyReport.hourly');
    expect(error.message).toContain('DailyReport.daily');
  });

  // The same checks stop real processes: worker and scheduler alike exit at boot with the message,
  // whether the check fails where the class is defined (@Cron arguments) or where crons are collected (names).
  it.concurrent.each([
    ['bad-expression', ['worker', 'scheduler'], 'BadExpressionCron.everyOddMinute', '"61 * * * *"'],
    ['duplicate-name', ['worker', 'scheduler'], 'FirstReportCron.hourly', 'SecondReportCron.daily'],
    ['bad-lock-ttl', ['worker'], 'BadLockTtlCron.fractional', 'lockTtl is 1.5'],
    ['bad-time-zone', ['scheduler'], 'BadTimeZoneCron.martianMorning', '"Mars/Olympus_Mons"'],
  ] as const)('with the fixture %s, %j fail to boot, naming %s and %s', async (fixture, roles, source, value) => {
    const prefix = uniquePrefix('cron-boot');
    const apps = roles.map(
      (role) =>
        new AppProcess(`${role}-${fixture}`, CRON_FIXTURE_ENTRY, {
          TASKS_PREFIX: prefix,
          CRON_ROLE: role,
          CRON_FIXTURES: `tick,${fixture}`,
        }),
    );
    try {
      for (const app of apps) {
        expect(await app.exited, app.tail()).toBe(1);
        const output = app.output.join('\n');
        expect(output).toContain('TasksConfigurationError');
        expect(output).toContain(source);
        expect(output).toContain(value);
        expect(app.lines.some((line) => line.context === 'TaskWorkerHost' || line.context === 'CronScheduler')).toBe(false);
      }
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
      await deletePrefix(prefix);
    }
  });
});
