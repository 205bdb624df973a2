import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    // BullMQ must see the same ioredis module as our code, so dependencies are
    // loaded by Node rather than inlined by Vite.
    server: { deps: { external: [/node_modules/] } },
    // The suite starts real worker/api processes; two cores do not gain from
    // more than two files at once, and fewer collisions keep timings honest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    typecheck: { enabled: true, include: ['**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    globalSetup: ['./test/global-setup.ts'],
    // In CI, also a JSON report, from which .ci/run prints its "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: './test-results.json' },
  },
});
