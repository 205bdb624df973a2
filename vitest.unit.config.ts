import { defineConfig } from 'vitest/config';
import tsconfigPaths from 'vite-tsconfig-paths';

// Unit specs only (no build, no processes): npx vitest run --config vitest.unit.config.ts libs/
export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    include: ['libs/**/*.spec.ts'],
    server: { deps: { external: [/node_modules/] } },
    maxWorkers: 1,
    testTimeout: 60_000,
  },
});
