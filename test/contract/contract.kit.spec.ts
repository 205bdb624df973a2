import { describe, expect, it } from 'vitest';
import { CONTRACT_SCENARIOS, scenarioKey } from './scenarios.js';
import { KitDriver } from './kit.driver.js';

// The contract scenarios on the testing kit: the same scenarios, the same
// expected records as contract.real.spec.ts, with no Redis, Postgres or child
// process. Each scenario has a kit of its own: one fake clock per scenario.
describe('contract: the testing kit', { timeout: 60_000 }, () => {
  for (const scenario of CONTRACT_SCENARIOS) {
    it.concurrent(scenario.title, async ({ onTestFinished }) => {
      const driver = await KitDriver.start(scenario.stack);
      onTestFinished(() => driver.dispose());
      const outcome = await scenario.run(driver, scenarioKey(scenario.stack.id));
      expect(outcome).toEqual(scenario.expected);
    });
  }
});
