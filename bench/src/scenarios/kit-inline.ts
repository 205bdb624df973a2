import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Task, TaskClient, type TaskContext } from 'nestjs-tasks';
import { TasksTestingModule } from 'nestjs-tasks/testing';
import type { BenchContext } from '../orchestrator/context.js';
import { row, withTarget, type MetricRow } from '../orchestrator/results.js';
import { progress } from '../orchestrator/progress.js';

const CYCLES = 10_000;
const TARGET_MS = 1_000;

/** A task as an app writes one: a payload in, a result out. */
@Injectable()
class InlineTasks {
  @Task()
  resize(payload: { width: number }, ctx: TaskContext): { width: number; attempt: number } {
    return { width: payload.width * 2, attempt: ctx.attempt };
  }
}

@Module({ imports: [TasksTestingModule.forRoot({ mode: 'inline' })], providers: [InlineTasks] })
class InlineModule {}

/**
 * Scenario kit-inline: the testing kit in inline mode, through its public
 * entry, as an app's test uses it: 10,000 typed enqueues, each running the
 * task through the production runner and resolving `waitResult` with its result.
 */
export async function kitInlineScenario(ctx: BenchContext): Promise<MetricRow[]> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = 1; round <= ctx.settings.rounds; round++) {
    const app = await NestFactory.createApplicationContext(InlineModule, { logger: false });
    try {
      const client = app.get(TaskClient);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      let sum = 0;
      for (let i = 0; i < CYCLES; i++) {
        const handle = await client.enqueue(InlineTasks, 'resize', { width: i });
        sum += (await handle.waitResult()).width;
      }
      wall.push(performance.now() - started);
      const used = process.cpuUsage(cpuBefore);
      cpu.push((used.user + used.system) / 1_000);
      const expected = CYCLES * (CYCLES - 1);
      if (sum !== expected) throw new Error(`kit-inline: the results sum to ${sum}, expected ${expected}`);
      progress(`kit-inline round ${round}: ${CYCLES} cycles in ${Math.round(wall[wall.length - 1] as number)} ms`);
    } finally {
      await app.close();
    }
  }
  const scenario = 'kit-inline';
  return [
    withTarget(
      row({ scenario, metric: '10,000 enqueue + run + waitResult cycles, inline mode', unit: 'ms', better: 'lower', note: 'public entry, production runner' }, wall),
      `< ${TARGET_MS} ms`,
      (m) => m.library.median < TARGET_MS,
    ),
    row({ scenario, metric: 'CPU time of those cycles', unit: 'ms', better: 'lower' }, cpu),
    row({ scenario, metric: 'per cycle', unit: 'µs', better: 'lower' }, wall.map((ms) => (ms * 1_000) / CYCLES)),
  ];
}
