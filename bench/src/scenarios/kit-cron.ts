import { Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CronRunStatus, TasksEvents, type CronContext } from 'nestjs-tasks';
import { CronCatalog, CronTestDriver, DEFAULT_TASKS_OPTIONS, FAKE_CLOCK_START, RunLogContext, TASKS_OPTIONS, TestingRunLogContext, buildCronMetadata, cronTestingProviders } from '#nestjs-tasks-internal';
import type { BenchContext } from '../orchestrator/context.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';

const FROM = Date.parse('2026-01-01T00:00:00.000Z');
const TO = Date.parse('2027-01-01T00:00:00.000Z');
/** `*\/5 * * * *` over 2026 in Europe/Berlin: 365 days of 288 ticks (March's short day and October's long one cancel out). */
const TICKS = 105_120;
const TARGET_MS = 2_000;

/** The cron of the scenario, registered as discovery registers a method without interceptors. */
@Injectable()
class YearCron implements OnModuleInit {
  runs = 0;

  constructor(@Inject(CronCatalog) private readonly catalog: CronCatalog) {}

  onModuleInit(): void {
    const metadata = buildCronMetadata('YearCron.cleanup', 'cleanup', '*/5 * * * *', { timeZone: 'Europe/Berlin' });
    this.catalog.register({ ...metadata, source: 'YearCron.cleanup', internal: false, invoke: (ctx: CronContext) => this.cleanup(ctx) });
  }

  cleanup(ctx: CronContext): Promise<{ token: number }> {
    this.runs++;
    return Promise.resolve({ token: ctx.fencingToken });
  }
}

@Module({
  providers: [
    YearCron,
    CronCatalog,
    TasksEvents,
    { provide: TASKS_OPTIONS, useValue: DEFAULT_TASKS_OPTIONS },
    // No nestjs-pino LoggerModule in the scenario: the kit's run log context writes nothing.
    { provide: RunLogContext, useClass: TestingRunLogContext },
    { provide: FAKE_CLOCK_START, useValue: FROM },
    ...cronTestingProviders,
  ],
})
class YearModule {}

/**
 * Scenario kit-cron: the testing kit's cron side, in this process, no Redis
 * or Postgres: one year of a `*\/5 * * * *` cron in Europe/Berlin (both DST
 * changes) fired on the kit's fake clock, each tick through the production
 * pipeline (catch-up check, lock, row and fencing token, handler, outcome)
 * with in-memory ports. Timed from the first tick to the last row written.
 */
export async function kitCronScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const app = await NestFactory.createApplicationContext(YearModule, { logger: false });
    try {
      const driver = app.get(CronTestDriver);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const runs = await driver.advanceTo(TO);
      wall.push(performance.now() - started);
      const used = process.cpuUsage(cpuBefore);
      cpu.push((used.user + used.system) / 1_000);
      const completed = runs.filter((run) => run.status === CronRunStatus.COMPLETED).length;
      if (runs.length !== TICKS || completed !== TICKS || app.get(YearCron).runs !== TICKS) {
        throw new Error(`kit-cron: expected ${TICKS} completed runs, got ${runs.length} rows (${completed} completed) and ${app.get(YearCron).runs} handler calls`);
      }
      progress(`kit-cron round ${round}: ${TICKS} ticks in ${Math.round(wall[wall.length - 1])} ms (CPU ${Math.round(cpu[cpu.length - 1])} ms)`);
    } finally {
      await app.close();
    }
  }
  const scenario = 'kit-cron';
  return [
    withTarget(
      row({ scenario, metric: 'one year of */5 * * * * (Europe/Berlin), fake clock', unit: 'ms', better: 'lower', note: `${TICKS} ticks through the production pipeline, in-memory ports` }, wall),
      `< ${TARGET_MS} ms`,
      (m) => m.library.median < TARGET_MS,
    ),
    row({ scenario, metric: 'CPU time of that year (all threads of the process)', unit: 'ms', better: 'lower' }, cpu),
    row({ scenario, metric: 'per tick', unit: 'µs', better: 'lower' }, wall.map((ms) => (ms * 1_000) / TICKS)),
  ];
}
