import 'reflect-metadata';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDatabase } from '@app/jobs';
import { BenchContext, type Settings } from './orchestrator/context.js';
import { ENTRIES } from './orchestrator/children.js';
import { markdownTable, summaryTables, type MetricRow } from './orchestrator/results.js';
import { progress } from './orchestrator/progress.js';
import { enqueueScenario } from './scenarios/enqueue.js';
import { processingScenario } from './scenarios/processing.js';
import { latencyScenario } from './scenarios/latency.js';
import { cronScenario } from './scenarios/cron.js';
import { memoryScenario } from './scenarios/memory.js';
import { commandsScenario } from './scenarios/commands.js';
import { kitCronScenario } from './scenarios/kit-cron.js';

// `npm run bench [-- --rounds 5 --only enqueue,processing,latency,cron,memory,commands,kit-cron --quick]`:
// the library next to plain BullMQ on the same Redis, alternately, round by round.
const SCENARIOS = {
  enqueue: enqueueScenario,
  processing: processingScenario,
  latency: latencyScenario,
  cron: cronScenario,
  memory: memoryScenario,
  commands: commandsScenario,
  'kit-cron': kitCronScenario,
} as const satisfies Record<string, (ctx: BenchContext) => Promise<MetricRow[]>>;
type ScenarioName = keyof typeof SCENARIOS;

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
  for (const name of names) {
    if (!(name in SCENARIOS)) throw new Error(`Unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  return { rounds, quick: values.quick, scenarios: new Set(names) };
}

interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  redis: string;
  redisHz: number;
  postgres: string;
  bullmq: string;
  nestjs: string;
}

async function machine(ctx: BenchContext): Promise<Machine> {
  const server = await ctx.redis.info('server');
  const [, hz] = (await ctx.redis.config('GET', 'hz')) as string[];
  const [{ server_version: postgres }] = await ctx.query<{ server_version: string }>('SHOW server_version');
  const pkg = (name: string) => (JSON.parse(readFileSync(join(ctx.root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    redis: /redis_version:(\S+)/.exec(server)?.[1] ?? 'unknown',
    redisHz: Number(hz),
    postgres,
    bullmq: pkg('bullmq'),
    nestjs: pkg('@nestjs/core'),
  };
}

async function main(): Promise<void> {
  const root = process.cwd();
  for (const entry of Object.values(ENTRIES)) {
    if (!existsSync(join(root, entry))) throw new Error(`${entry} is missing: run \`npm run bench\` from the repository root (it builds first).`);
  }
  const config = settings();
  const ctx = new BenchContext(root, config);
  const startedAt = new Date();
  // Other work on the machine moves the absolute figures; the load average says how much there was.
  const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));
  let ok = false;
  try {
    await ctx.redis.ping().catch((error: Error) => {
      throw new Error(`Redis at ${ctx.redisUrl} is not reachable (${error.message}); start it, e.g. \`docker compose up -d redis\`.`);
    });
    // A fresh machine has no `tasks` database yet; the apps' migrate step would create it, so the bench does too.
    await ensureDatabase(ctx.databaseUrl);
    const host = await machine(ctx);
    progress(`bench ${ctx.runId}: ${config.rounds} rounds of ${[...config.scenarios].join(', ')}${config.quick ? ' (quick)' : ''}; child logs in ${ctx.logDir}`);
    const metrics: MetricRow[] = [];
    const durations: Record<string, number> = {};
    for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
      if (!config.scenarios.has(name)) continue;
      const started = performance.now();
      metrics.push(...(await SCENARIOS[name](ctx)));
      durations[name] = Math.round((performance.now() - started) / 1_000);
      progress(`${name} done in ${durations[name]} s`);
      // A later scenario's failure must not lose the figures of those that ran (a full run takes a while).
      if (config.scenarios.size > 1) {
        mkdirSync(join(root, 'bench/results'), { recursive: true });
        writeFileSync(join(root, 'bench/results/partial.json'), `${JSON.stringify({ runId: ctx.runId, machine: host, scenarioSeconds: durations, metrics }, null, 2)}\n`);
      }
    }
    const table = markdownTable(metrics);
    const summary = summaryTables(metrics);
    const results = {
      runId: ctx.runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      settings: { rounds: config.rounds, quick: config.quick, scenarios: [...config.scenarios] },
      scenarioSeconds: durations,
      machine: host,
      loadAverage: { atStart: loadAtStart, atEnd: loadavg().map((l) => Number(l.toFixed(2))) },
      logging: 'children at LOG_LEVEL info (the default), stdout and stderr to files',
      metrics,
      missed: metrics.filter((m) => m.target && !m.target.met).map((m) => `${m.scenario}: ${m.metric}`),
      table,
      summary,
    };
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    writeFileSync(join(root, 'bench/results/latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\n${table}\n\n`);
    if (summary) process.stdout.write(`Summary (targets in the column names):\n\n${summary}\n\n`);
    process.stdout.write(
      `Machine: ${host.cpus} × ${host.cpuModel}, ${host.memoryGb} GB, Node ${host.node}, ` +
        `Redis ${host.redis} (hz ${host.redisHz}), Postgres ${host.postgres}, BullMQ ${host.bullmq}; ` +
        `load average ${loadAtStart.join('/')} at start, ${results.loadAverage.atEnd.join('/')} at end\n`,
    );
    process.stdout.write(
      results.missed.length === 0 ? 'All targets met.\n' : `Targets missed:\n${results.missed.map((m) => `  - ${m}`).join('\n')}\n`,
    );
    process.stdout.write('Results written to bench/results/latest.json\n');
    ok = true;
  } finally {
    await ctx.cleanup(!ok);
    if (!ok) progress(`child logs kept in ${ctx.logDir}`);
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  // What was still in flight when a scenario failed (a queue, a producer) would keep the process alive.
  process.exit(1);
}
