// Vitest wiring: one control plane per test file, started in beforeAll and
// stopped in afterAll, which vitest runs also when tests fail.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane, type StartOptions } from './control-plane';

/**
 * Registers hooks that start a control plane for the current file and returns
 * a getter for it. When a test fails, the component logs are printed and the
 * temp dir (logs, kubeconfigs) is kept for inspection.
 */
export function useControlPlane(opts: StartOptions = {}): () => ControlPlane {
  let cp: ControlPlane | undefined;
  let failed = false;
  beforeAll(async () => {
    cp = await startControlPlane(opts);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (!cp) return;
    if (failed) process.stderr.write(`control-plane logs after a failed test:\n${cp.logTails(40)}\n`);
    await cp.stop({ keepDir: failed || undefined });
  });
  return () => {
    if (!cp) throw new Error('control plane not started (beforeAll failed?)');
    return cp;
  };
}
