import type { ChildSamples, CronSample, FromChild, LatencySample, ToChild } from './protocol.js';

/** What a child process measured, until the orchestrator asks for it. */
const samples: ChildSamples = { latency: [], cron: [], noops: 0 };
/** Library cron runs: the outer interceptor's timestamps, by tick, joined to the handler's. */
const chains = new Map<number, { chainStart: number; chainEnd: number }>();

export function recordLatency(sample: LatencySample): void {
  samples.latency.push(sample);
}

/** One no-op job ran (an increment: the processing scenario runs these by the thousand). */
export function countNoop(): void {
  samples.noops++;
}

export function recordCron(sample: CronSample): void {
  samples.cron.push(sample);
}

export function recordChain(tick: number, chainStart: number, chainEnd: number): void {
  chains.set(tick, { chainStart, chainEnd });
}

function send(message: FromChild): void {
  process.send?.(message);
}

/**
 * Tells the orchestrator this child is ready, answers its requests for the
 * samples, and stops (through `stop`, e.g. a Nest app's close) when told to.
 */
export function serveOrchestrator(stop: () => Promise<void>): void {
  process.on('message', (message: ToChild) => {
    if (message.type === 'report') {
      const cron = samples.cron.map((sample) => ({ ...sample, ...chains.get(sample.tick) }));
      send({ type: 'report', samples: { latency: samples.latency, cron, noops: samples.noops } });
    } else if (message.type === 'stop') {
      void stop().finally(() => {
        send({ type: 'stopped' });
        process.disconnect?.();
        process.exit(0);
      });
    }
  });
  // An orphaned child (the orchestrator crashed) must not linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', pid: process.pid });
}
