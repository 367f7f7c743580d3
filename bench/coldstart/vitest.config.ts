import { defineConfig } from 'vitest/config';

// Runs only the cold-start measurement of the benchmark (bench/coldstart/run.ts starts it). It runs
// under vitest because the cluster fixture it reuses (test/cluster/scenarios/support/serving.ts)
// is wired to vitest hooks, and vitest cannot be loaded from the bench's CommonJS process.
export default defineConfig({
  test: {
    include: ['bench/coldstart/cold-start.measure.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
  },
});
