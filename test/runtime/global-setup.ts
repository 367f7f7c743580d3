/**
 * vitest globalSetup: (re)builds the runtime bundle when it is stale, so tests of real processes
 * run what the image would run. A build failure is reported here and left to the runtime tests to
 * fail on (the rest of the suite still runs).
 */
import { buildRuntimeBundle, runtimeBundleIsStale } from '../support/runtime-bundle';

export default function setup(): void {
  if (!runtimeBundleIsStale()) return;
  try {
    buildRuntimeBundle('pipe');
  } catch (err) {
    const output = String((err as { stderr?: Buffer }).stderr ?? err);
    process.stderr.write(`runtime bundle build failed; runtime process tests will fail:\n${output}\n`);
  }
}
