// Lines per second through pino to a file, by destination: the library's
// bufferedLogDestination(), pino's documented buffered mode
// (pino.destination({ sync: false, minLength: 4096 })), pino's default
// (one write(2) per line), and a destination that writes nothing. Lines like
// the worker's: a message and a few bindings. CPU time, median of 7 rounds of
// 200,000 lines. An investigation tool for docs/benchmarks.md, not part of `npm run bench`.
//
//   npm run build:lib && node bench/loops/log-destination-loop.mjs
import { openSync } from 'node:fs';
import { pino } from 'pino';
import { bufferedLogDestination } from 'nestjs-tasks/extras';

const out = process.env.LOG_FILE ?? '/tmp/log-destination-loop.log';
const N = 200_000;
const destinations = {
  'bufferedLogDestination()': () => bufferedLogDestination({ fd: openSync(out, 'a') }),
  'pino.destination({ sync: false, minLength: 4096 })': () => pino.destination({ dest: openSync(out, 'a'), sync: false, minLength: 4096 }),
  'pino.destination() (sync, a write per line)': () => pino.destination({ dest: openSync(out, 'a'), sync: true }),
  'nowhere': () => ({ write: () => true }),
};

for (const [name, create] of Object.entries(destinations)) {
  const logger = pino({ level: 'info' }, create()).child({ task: 'noop', jobId: '123', attempt: 1 });
  const round = () => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) logger.info({ context: 'Tasks', event: 'task.completed', durationMs: 0 }, 'Task noop completed in 0 ms');
    const t = process.cpuUsage(t0);
    return (t.user + t.system) / N;
  };
  round();
  const rounds = Array.from({ length: 7 }, round).sort((a, b) => a - b);
  const us = rounds[3];
  console.log(`${name.padEnd(52)} ${us.toFixed(2)} µs/line  ${Math.round(1e6 / us).toLocaleString('en')} lines/s of CPU`);
}
process.exit(0);
