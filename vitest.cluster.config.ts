import { defineConfig } from 'vitest/config';

// The control-plane suite: real etcd, kube-apiserver and kube-controller-manager
// (built by scripts/build-control-plane.sh; globalSetup builds them if missing).
// Each test file starts its own control plane (test/cluster/harness), so files
// run one after another: two at once would double the load on a 2-core CI box.
export default defineConfig({
  test: {
    // test/oracle: the differential suite against Knative's own code (needs Go, like the
    // control-plane build). test/gitops: Flux's own substitution code over compiled graphs (Go).
    include: ['test/cluster/**/*.test.ts', 'test/oracle/**/*.test.ts', 'test/gitops/**/*.test.ts'],
    globalSetup: ['test/cluster/harness/global-setup.ts'],
    fileParallelism: false,
    // The first build of the binaries can take 30 min; it runs in globalSetup,
    // which has no timeout. These cover starting a control plane and waiting
    // for controllers on a loaded machine.
    testTimeout: 180_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
  },
});
