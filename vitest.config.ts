import { defineConfig } from 'vitest/config';

// The default suite: everything except the control-plane suite, which needs built
// Kubernetes binaries and root (see vitest.cluster.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/oracle/differential.test.ts, test/oracle/quantity-apimachinery.test.ts and test/gitops
    // build Go programs: cluster config only.
    exclude: ['test/cluster/**', 'test/oracle/differential.test.ts', 'test/oracle/quantity-apimachinery.test.ts', 'test/gitops/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Added by the queue-proxy engineer: builds dist-runtime/ for tests of real runtime processes.
    globalSetup: ['test/runtime/global-setup.ts'],
  },
});
