import { afterAll, describe, expect, it } from 'vitest';
import { CONTRACT_SCENARIOS, scenarioKey } from './scenarios.js';
import { RealStackDriver } from './real-stack.driver.js';
import type { StackSpec } from './driver.js';

// The contract scenarios on the real stack: worker and scheduler processes
// (test/fixtures/contract-fixture), Redis and Postgres, the wall clock. The
// testing kit must produce the same records (contract.kit.spec.ts).
describe('contract: the real stack', { timeout: 240_000 }, () => {
  const stacks = new Map<string, Promise<RealStackDriver>>();
  // Scenarios of one stack share its processes: the first to need it starts it.
  const stackFor = (spec: StackSpec) => {
    let stack = stacks.get(spec.id);
    if (!stack) {
      stack = RealStackDriver.start(spec);
      stacks.set(spec.id, stack);
    }
    return stack;
  };

  afterAll(async () => {
    const started = await Promise.allSettled(stacks.values());
    await Promise.all(started.flatMap((stack) => (stack.status === 'fulfilled' ? [stack.value.dispose()] : [])));
  }, 120_000);

  for (const scenario of CONTRACT_SCENARIOS) {
    it.concurrent(scenario.title, async ({ onTestFailed }) => {
      const driver = await stackFor(scenario.stack);
      onTestFailed(() => console.error(`Processes of contract stack ${scenario.stack.id}:\n${driver.tails()}`));
      const outcome = await scenario.run(driver, scenarioKey(scenario.stack.id));
      expect(outcome).toEqual(scenario.expected);
    });
  }
});
